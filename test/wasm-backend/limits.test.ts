/**
 * Guests that misbehave: infinite loops (timeout, exit 124), memory bombs (exit 137 or a clean error), a 1 GiB
 * output flood (truncated in the worker), a worker killed from outside mid-run (a clear error, the pool heals),
 * abort signals, and concurrent callers. After each, the next run works.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_HOME, HELLO, SPIN, GROW_BOMB, FLOOD_1G, EARLY_THEN_SPIN } from './helpers.js';
import { createWasmBackend, type WasmBackend } from '../../src/backends/wasm/index.js';
import { AbortError, AgentKernelError } from '../../src/core/errors.js';
import { EXIT } from '../../src/core/types.js';

let b: WasmBackend;
before(() => {
  assert.equal(process.env.AGENTKERNEL_HOME, TEST_HOME);
  b = createWasmBackend({ poolSize: 2 });
});
after(() => b.close());

async function stillWorks(): Promise<void> {
  const r = await b.runWasm({ module: HELLO });
  assert.equal(r.stdout, 'hello\n');
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), what);
}

test('an infinite Wasm loop is stopped by the timeout (124) and the next run works', async () => {
  const r = await b.runWasm({ module: SPIN, timeoutMs: 300 });
  assert.equal(r.exitCode, EXIT.TIMEOUT);
  assert.equal(r.timedOut, true);
  assert.match(r.stderr, /timeout/);
  await stillWorks();
});

test('output is streamed while the guest runs (a killed guest\'s early output arrived)', async () => {
  const seen: string[] = [];
  const r = await b.runWasm({ module: EARLY_THEN_SPIN, timeoutMs: 400, onStdout: (c) => seen.push(c) });
  assert.equal(r.exitCode, EXIT.TIMEOUT);
  // the worker was killed, so nothing could be sent at the end: this came in a batch during the run
  assert.equal(r.stdout, 'early\n');
  assert.deepEqual(seen, ['early\n']);
});

test('infinite loops in JavaScript, Python and shell time out too', async () => {
  for (const [lang, code] of [['javascript', 'for (;;) {}'], ['python', 'while True: pass'], ['shell', 'while true; do :; done']] as const) {
    const r = await b.runCode(lang, code, { timeoutMs: 1500 });
    assert.equal(r.exitCode, EXIT.TIMEOUT, `${lang}: ${r.stderr}`);
    assert.equal(r.timedOut, true, lang);
  }
  await stillWorks();
});

test('memory bombs end with 137 (or a clean error) and the next run works', async () => {
  const wasm = await b.runWasm({ module: GROW_BOMB, memoryMb: 64 });
  assert.equal(wasm.exitCode, EXIT.MEMORY, wasm.stderr);
  assert.equal(wasm.trap?.kind, 'memory_limit');

  // 2**31 does not even fit a 32-bit Python's sizes: a clean OverflowError (or the cap, on a 64-bit build)
  const literal = await b.runCode('python', 'x = []\nwhile True:\n    x.append(bytearray(2**31))', { memoryMb: 256 });
  assert.ok(literal.exitCode === EXIT.MEMORY || (literal.exitCode === 1 && literal.error !== undefined), literal.stderr);
  const py = await b.runCode('python', 'x = []\nwhile True:\n    x.append(bytearray(2**26))', { memoryMb: 256 });
  assert.equal(py.exitCode, EXIT.MEMORY, py.stderr);
  assert.equal(py.trap?.kind, 'memory_limit');

  const js = await b.runCode('javascript', 'const a = []; for (;;) a.push(new Array(1e5).fill(7))', { memoryMb: 64 });
  assert.ok(js.exitCode === EXIT.MEMORY || (js.exitCode === 1 && /memory/i.test(js.stderr)), `js: ${js.exitCode} ${js.stderr}`);

  await stillWorks();
  assert.equal((await b.runCode('python', 'print(sum(range(10)))')).stdout, '45\n');
});

test('a 1 GiB stdout flood is cut in the worker: truncated flag, bounded host memory', async () => {
  const before = process.memoryUsage().rss;
  let streamed = 0;
  const r = await b.runWasm({ module: FLOOD_1G, outputBytes: 64 * 1024, timeoutMs: 60_000, onStdout: (c) => (streamed += c.length) });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdoutTruncated, true);
  assert.equal(r.stdout.length, 64 * 1024);
  assert.equal(streamed, 64 * 1024);
  const grown = process.memoryUsage().rss - before;
  assert.ok(grown < 256 * 1024 * 1024, `host grew by ${grown} bytes`);
  const py = await b.runCode('python', 'import sys\nfor _ in range(2000): sys.stdout.write("y" * 10000)', { outputBytes: 1000 });
  assert.equal(py.stdoutTruncated, true);
  assert.equal(py.stdout, 'y'.repeat(1000));
});

test('a worker killed mid-run gives a clear error; the pool replaces it', async () => {
  const running = b.runWasm({ module: SPIN, timeoutMs: 60_000 });
  await waitFor(() => b.pool.info().some((w) => w.state === 'busy'), 'a worker becomes busy');
  const victim = b.pool.info().find((w) => w.state === 'busy')!;
  process.kill(victim.pid, 'SIGKILL');
  await assert.rejects(running, (e: unknown) => {
    assert.ok(e instanceof AgentKernelError);
    assert.match(e.message, /worker .*died/);
    return true;
  });
  await waitFor(() => b.pool.info().filter((w) => w.key === '').length === 2 && !b.pool.info().some((w) => w.pid === victim.pid), 'the pool refills');
  await stillWorks();
});

test('an abort signal stops a running guest and a waiting caller', async () => {
  const ac = new AbortController();
  const running = b.runWasm({ module: SPIN, timeoutMs: 60_000, signal: ac.signal });
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(running, AbortError);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(b.runCode('javascript', '1', { signal: pre.signal }), AbortError);
  await stillWorks();
});

test('concurrent callers all get their own results', async () => {
  const jobs = Array.from({ length: 8 }, (_, i) =>
    i % 2 === 0
      ? b.runCode('javascript', `console.log(${i} * 10)`).then((r) => r.stdout)
      : b.runWasm({ module: HELLO }).then((r) => r.stdout),
  );
  const out = await Promise.all(jobs);
  out.forEach((s, i) => assert.equal(s, i % 2 === 0 ? `${i * 10}\n` : 'hello\n'));
  // a slow guest does not block the other worker
  const slow = b.runWasm({ module: SPIN, timeoutMs: 1500 });
  const fast = await b.runWasm({ module: HELLO });
  assert.equal(fast.stdout, 'hello\n');
  assert.equal((await slow).exitCode, EXIT.TIMEOUT);
});
