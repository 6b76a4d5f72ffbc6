/**
 * Live output over Server-Sent Events. Events, in order: `started`, then `stdout`/`stderr` as the guest writes
 * (data: {"text": ...}), then exactly one of `exit` (data: the result) or `error` (data: the error). Every data
 * field is one line of JSON, so guest output with newlines or carriage returns cannot break the framing.
 * A client that disconnects aborts the run through its AbortSignal.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ExecResult, RunHooks } from '../../core/types.js';
import { toWireError, toWireResult } from './wire.js';
import { clientSignal } from './node-request.js';

export type StreamEvent = 'started' | 'stdout' | 'stderr' | 'exit' | 'error';

/** Idle connections are closed by some proxies and clients; a comment line now and then keeps them open. */
const KEEPALIVE_MS = 15_000;

export function streamRun(c: Context, run: (hooks: RunHooks) => Promise<ExecResult>): Response {
  c.header('Cache-Control', 'no-store');
  c.header('X-Accel-Buffering', 'no');
  return streamSSE(c, async (stream) => {
    const ac = new AbortController();
    const abort = () => ac.abort(new Error('the client disconnected'));
    stream.onAbort(abort);
    const client = clientSignal(c);
    client.addEventListener('abort', abort, { once: true });
    let seq = 0;
    // writes are chained so that events leave in the order the guest produced them; a failed write (the client
    // is gone) ends the chain's usefulness but never rejects it
    let tail: Promise<void> = Promise.resolve();
    const enqueue = (write: () => Promise<unknown>): Promise<void> => {
      tail = tail.then(async () => {
        if (!stream.aborted && !stream.closed) await write();
      }).catch(abort);
      return tail;
    };
    const send = (event: StreamEvent, data: unknown): Promise<void> =>
      enqueue(() => stream.writeSSE({ event, id: String(seq++), data: JSON.stringify(data) }));
    const keepalive = setInterval(() => void enqueue(() => stream.write(': keepalive\n\n')), KEEPALIVE_MS);
    try {
      await send('started', {});
      const r = await run({
        onStdout: (text) => void send('stdout', { text }),
        onStderr: (text) => void send('stderr', { text }),
        signal: ac.signal,
      });
      await send('exit', toWireResult(r));
    } catch (e) {
      if (!ac.signal.aborted) await send('error', toWireError(e));
    } finally {
      clearInterval(keepalive);
      client.removeEventListener('abort', abort);
      await tail;
    }
  });
}
