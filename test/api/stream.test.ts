/**
 * Live streaming over SSE against the real `wasm` backend: event order, output that arrives while the guest still
 * runs, and a client disconnect that aborts the run.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AgentKernel } from '../../src/service/kernel.js';
import type { ExecResult, Language, RunCodeOptions } from '../../src/core/types.js';
import type { BackendChoice } from '../../src/service/kernel.js';
import { startTestServer, wasmUnavailable, sseEvents, postJson, closeKernel, HELLO_WAT, type TestServer } from './helpers.js';

const skip = await wasmUnavailable();

/** The real kernel, remembering each runCode call so a test can see how it ended. */
class WatchedKernel extends AgentKernel {
  readonly runs: { signal?: AbortSignal; outcome: Promise<ExecResult | Error> }[] = [];
  override runCode(language: Language, code: string, opts: RunCodeOptions & BackendChoice = {}): Promise<ExecResult> {
    const p = super.runCode(language, code, opts);
    this.runs.push({ signal: opts.signal, outcome: p.catch((e: Error) => e) });
    return p;
  }
}

describe('SSE streaming', { skip }, () => {
  let s: TestServer;
  let kernel: WatchedKernel;
  before(async () => {
    kernel = new WatchedKernel({ overrides: { backend: 'wasm' } });
    s = await startTestServer({ kernel });
  });
  after(async () => {
    await s?.close();
    if (kernel) await closeKernel(kernel);
  });

  const stream = (path: string, body: unknown, signal?: AbortSignal) =>
    fetch(`${s.url}${path}`, { method: 'POST', headers: s.headers, body: JSON.stringify(body), signal });

  test('a program that prints, sleeps and prints: started, stdout/stderr in order, then exit', async () => {
    const code = 'console.log("one"); const t = Date.now(); while (Date.now() - t < 300) {} console.error("two"); console.log("three")';
    const res = await stream('/code/stream', { language: 'javascript', code });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events: { event: string; data: any }[] = [];
    for await (const ev of sseEvents(res)) events.push(ev);
    assert.deepEqual(events.map((e) => e.event === 'exit' ? 'exit' : `${e.event}:${e.data.text ?? ''}`),
      ['started:', 'stdout:one\n', 'stderr:two\n', 'stdout:three\n', 'exit']);
    const exit = events.at(-1)!.data;
    assert.equal(exit.exit_code, 0);
    assert.equal(exit.stdout, 'one\nthree\n');
    assert.equal(exit.stderr, 'two\n');
  });

  test('output arrives while the guest still runs, and disconnecting aborts the run', async () => {
    // the guest never ends by itself: without live streaming the first event would only come at its timeout
    const code = 'console.log("ready"); for (;;) { const t = Date.now(); while (Date.now() - t < 20) {} console.log("tick"); }';
    const ac = new AbortController();
    const before = kernel.runs.length;
    const res = await stream('/code/stream', { language: 'javascript', code, timeout_ms: s.kernel.settings.limits.timeoutMs }, ac.signal);
    let first: string | undefined;
    try {
      for await (const ev of sseEvents(res)) {
        assert.notEqual(ev.event, 'exit');
        if (ev.event === 'stdout') {
          first = ev.data.text;
          break;
        }
      }
    } finally {
      ac.abort();
    }
    assert.match(first ?? '', /^ready\n/);
    const run = kernel.runs[before]!;
    const outcome = await run.outcome;
    assert.equal(run.signal?.aborted, true, 'the server aborted the run when the client went away');
    assert.equal((outcome as { code?: string }).code, 'ABORTED');
  });

  test('a client that drops a plain (non-streaming) run aborts it too', async () => {
    const ac = new AbortController();
    const before = kernel.runs.length;
    const req = stream('/code', { language: 'javascript', code: 'for (;;) {}', timeout_ms: s.kernel.settings.limits.timeoutMs }, ac.signal)
      .catch((e: Error) => e);
    while (kernel.runs.length === before) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    assert.equal((await req as Error).name, 'AbortError');
    const outcome = await kernel.runs[before]!.outcome;
    assert.equal((outcome as { code?: string }).code, 'ABORTED');
  });

  test('a failure after the stream started is an `error` event; invalid input is a plain 400 before it', async () => {
    const res = await stream('/run/stream', { command: ['gcc', '-v'] });
    const events: { event: string; data: any }[] = [];
    for await (const ev of sseEvents(res)) events.push(ev);
    assert.deepEqual(events.map((e) => e.event), ['started', 'error']);
    assert.equal(events[1]!.data.code, 'UNSUPPORTED');
    const bad = await postJson(s, '/code/stream', { language: 'cobol', code: '' });
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('content-type') ?? '', /^application\/json/);
  });

  test('exec in a sandbox streams too; /wasm/stream streams a module\'s output', async () => {
    await postJson(s, '/sandboxes', { name: 'stream-box' });
    try {
      const res = await stream('/sandboxes/stream-box/exec/stream', { command: ['sh', '-c', 'echo a; echo b >&2; exit 4'] });
      const events: { event: string; data: any }[] = [];
      for await (const ev of sseEvents(res)) events.push(ev);
      assert.equal(events[0]!.event, 'started');
      assert.equal(events.filter((e) => e.event === 'stdout').map((e) => e.data.text).join(''), 'a\n');
      assert.equal(events.filter((e) => e.event === 'stderr').map((e) => e.data.text).join(''), 'b\n');
      assert.equal(events.at(-1)!.event, 'exit');
      assert.equal(events.at(-1)!.data.exit_code, 4);
    } finally {
      await fetch(`${s.url}/sandboxes/stream-box`, { method: 'DELETE', headers: { authorization: `Bearer ${s.key}` } });
    }
    const wasm: { event: string; data: any }[] = [];
    for await (const ev of sseEvents(await stream('/wasm/stream', { wat: HELLO_WAT }))) wasm.push(ev);
    assert.deepEqual(wasm.map((e) => e.event), ['started', 'stdout', 'exit']);
    assert.equal(wasm[1]!.data.text, 'hello from wasm\n');
  });
});
