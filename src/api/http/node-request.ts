/**
 * Reading a request without building a WHATWG Request for it. Under @hono/node-server the context carries node's
 * own IncomingMessage and ServerResponse; hono's `c.req.raw` builds a full Request (headers object, body stream,
 * abort signal) on first touch, which costs more CPU than a small run itself. The hot paths read headers, the
 * body and the client's disconnect from node's objects instead (the fast lane has nothing else), and fall back to
 * the Request elsewhere (tests calling `app.fetch` directly).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { AbortError } from '../../core/errors.js';

interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

function bindings(c: Context): NodeBindings {
  const env = c.env as NodeBindings | undefined;
  return env && typeof env === 'object' ? env : {};
}

/** A header of node's request (`name` in lower case). */
export function nodeHeader(inc: IncomingMessage, name: string): string | undefined {
  const v = inc.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** A request header (case-insensitive). */
export function header(c: Context, name: string): string | undefined {
  const inc = bindings(c).incoming;
  return inc ? nodeHeader(inc, name.toLowerCase()) : c.req.header(name);
}

const signals = new WeakMap<ServerResponse, AbortSignal>();

/** Aborted when the client goes away before the response is complete. One per response. */
export function responseSignal(out: ServerResponse): AbortSignal {
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

/** Aborted when the client goes away before its response is complete. One per request. */
export function clientSignal(c: Context): AbortSignal {
  const out = bindings(c).outgoing;
  return out ? responseSignal(out) : c.req.raw.signal;
}

/**
 * Node's request body, at most `max` bytes: rejects with `tooLarge()` as soon as more arrives (the rest is not
 * read). Plain 'data' listeners: an async iterator over the stream costs several times more per small body.
 */
export function readIncoming(inc: IncomingMessage, max: number, tooLarge: () => Error): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      inc.off('data', onData);
      inc.off('end', onEnd);
      inc.off('error', gone);
      inc.off('close', gone);
      if (err) {
        inc.pause();
        reject(err);
      } else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > max) done(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    // the client went away mid-body (node reports it as an error, a close before the end, or both)
    const gone = () => done(new AbortError('the client disconnected before its request body was complete'));
    // gone already (while earlier checks awaited): neither 'end' nor 'close' will come
    if (inc.destroyed) {
      gone();
      return;
    }
    inc.on('data', onData);
    inc.on('end', onEnd);
    inc.on('error', gone);
    inc.on('close', gone);
  });
}

/**
 * The request body, at most `max` bytes: `tooLarge()` is thrown as soon as more arrives (the rest is not read).
 */
export async function bodyBytes(c: Context, max: number, tooLarge: () => Error): Promise<Uint8Array> {
  const inc = bindings(c).incoming;
  return inc ? readIncoming(inc, max, tooLarge) : webBody(c, max, tooLarge);
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
