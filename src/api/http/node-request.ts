/**
 * Reading a request without building a WHATWG Request for it. Under @hono/node-server the context carries node's
 * own IncomingMessage and ServerResponse; hono's `c.req.raw` builds a full Request (headers object, body stream,
 * abort signal) on first touch, which costs more CPU than a small run itself. The hot paths read headers, the
 * body and the client's disconnect from node's objects instead, and fall back to the Request elsewhere (tests
 * calling `app.fetch` directly).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

function bindings(c: Context): NodeBindings {
  const env = c.env as NodeBindings | undefined;
  return env && typeof env === 'object' ? env : {};
}

/** A request header (case-insensitive). */
export function header(c: Context, name: string): string | undefined {
  const inc = bindings(c).incoming;
  if (!inc) return c.req.header(name);
  const v = inc.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

const signals = new WeakMap<ServerResponse, AbortSignal>();

/** Aborted when the client goes away before its response is complete. One per request. */
export function clientSignal(c: Context): AbortSignal {
  const out = bindings(c).outgoing;
  if (!out) return c.req.raw.signal;
  let signal = signals.get(out);
  if (!signal) {
    const ac = new AbortController();
    out.once('close', () => {
      if (!out.writableFinished) ac.abort(new Error('the client disconnected'));
    });
    signal = ac.signal;
    signals.set(out, signal);
  }
  return signal;
}

/**
 * The request body, at most `max` bytes: `tooLarge()` is thrown as soon as more arrives (the rest is not read).
 */
export async function bodyBytes(c: Context, max: number, tooLarge: () => Error): Promise<Uint8Array> {
  const inc = bindings(c).incoming;
  if (!inc) return webBody(c, max, tooLarge);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of inc as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > max) throw tooLarge();
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function webBody(c: Context, max: number, tooLarge: () => Error): Promise<Uint8Array> {
  const body = c.req.raw.body;
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
