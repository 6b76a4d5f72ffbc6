/**
 * The hyperlight backend through real micro-VMs: pooled VMs leak nothing between calls, a guest that spins is
 * stopped, a guest that faults is reported and its VM thrown away, and concurrent callers each get their own VM.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { HyperlightBackend } from '../../src/backends/hyperlight/backend.js';
import { GuestImage, callImage, moduleHash, prepareModule } from '../../src/backends/hyperlight/sandbox.js';
import { AbortError } from '../../src/core/errors.js';
import type { OutputSink } from '../../src/runtimes/types.js';
import { loadModuleBytes } from '../../src/runtimes/wasm/module.js';
import { COUNTER, HELLO, skipReason } from './helpers.js';

const skip = await skipReason();
if (skip) console.log(`# skipping hyperlight backend tests: ${skip}`);

const backend = new HyperlightBackend();
after(() => backend.close());

const silent: OutputSink = { stdout: () => {}, stderr: () => {} };
const ctx = { env: {}, stdin: new Uint8Array(0), mounts: [], timeoutMs: 5000, out: silent };

test('capabilities: runWasm, invoke and snapshot; lifecycle is refused by name', async () => {
  const caps = backend.capabilities();
  assert.equal(caps.runWasm && caps.invoke && caps.snapshot, true);
  await assert.rejects(backend.exec('x', ['ls']), /does not support 'exec'/);
  await assert.rejects(backend.create({ name: 'x' }), /does not support 'lifecycle'/);
});

test('a pooled VM does not see what the previous call left in globals or memory', { skip }, async () => {
  for (let i = 0; i < 4; i++) {
    const r = await backend.invoke({ module: COUNTER, export: 'bump', memoryMb: 8 });
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.results, [1, 10]);
  }
  // and the pool really reused VMs
  const image = await GuestImage.boot(await prepareModule(await loadModuleBytes(COUNTER)), 8, 5000);
  try {
    for (let i = 0; i < 3; i++) {
      const r = await callImage(image, { op: 'invoke', export: 'bump', args: [] }, ctx);
      assert.deepEqual(r.results, [1, 10]);
    }
    assert.ok(image.pool.stats.reused >= 2, JSON.stringify(image.pool.stats));
    assert.equal(image.pool.stats.created, 1);
  } finally {
    await image.close();
  }
});

test('a guest that spins forever is stopped at its timeout (124), and the backend keeps working', { skip }, async () => {
  const r = await backend.invoke({ module: COUNTER, export: 'spin', timeoutMs: 200, memoryMb: 8 });
  assert.equal(r.exitCode, 124);
  assert.equal(r.timedOut, true);
  assert.match(r.stderr, /timeout: the run was stopped after 200 ms/);
  const again = await backend.invoke({ module: COUNTER, export: 'square', args: ['3037000499'], memoryMb: 8 });
  assert.deepEqual(again.results, ['9223372030926249001']);
});

test('an aborted run rejects with AbortError', { skip }, async () => {
  const ac = new AbortController();
  const p = backend.invoke({ module: COUNTER, export: 'spin', timeoutMs: 10_000, memoryMb: 8, signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(p, AbortError);
});

test('a CPU exception in the guest is a cpu_exception trap and its VM is discarded', { skip }, async () => {
  const good = await GuestImage.boot(await prepareModule(await loadModuleBytes(HELLO)), 8, 5000);
  // the same snapshot entered at address 0 (unmapped page 0): the vCPU faults on its first instruction
  const broken = new GuestImage(good.module, 8, good.snapshot, 0n, good.maxLinearBytes, { output: [] });
  try {
    const err: string[] = [];
    const r = await callImage(broken, { op: 'invoke', export: 'nop', args: [] }, { ...ctx, out: { stdout: () => {}, stderr: (d) => err.push(String(Buffer.from(d))) } });
    assert.equal(r.exitCode, 134);
    assert.equal(r.trap?.kind, 'cpu_exception');
    assert.match(err.join(''), /wasm trap: the guest stopped on a CPU exception/);
    assert.equal(broken.pool.stats.discarded, 1);
    assert.equal(broken.pool.stats.idle, 0);
    // the host is fine and the good image still runs
    const ok = await callImage(good, { op: 'start', programName: 'm', args: [] }, ctx);
    assert.equal(ok.exitCode, 0);
  } finally {
    await broken.pool.close();
    await good.close();
  }
});

test('concurrent callers each get their own VM and their own answers', { skip }, async () => {
  const runs = Array.from({ length: 12 }, (_, i) => i % 2 === 0
    ? backend.invoke({ module: COUNTER, export: 'square', args: [i], memoryMb: 8 }).then((r) => assert.deepEqual(r.results, [String(i * i)]))
    : backend.runWasm({ module: HELLO, memoryMb: 8 }).then((r) => assert.equal(r.stdout, 'hello\n')));
  await Promise.all(runs);
});

test('output past outputBytes is truncated and flagged; onStdout streams it', { skip }, async () => {
  const chunks: string[] = [];
  const r = await backend.runWasm({ module: HELLO, outputBytes: 3, onStdout: (c) => chunks.push(c), memoryMb: 8 });
  assert.equal(r.stdout, 'hel');
  assert.equal(r.stdoutTruncated, true);
  assert.equal(chunks.join(''), 'hel');
});

test('a module the micro-VM cannot link is a clear error', { skip }, async () => {
  await assert.rejects(
    backend.invoke({ module: '(module (import "env" "f" (func)) (func (export "x")))', export: 'x' }),
    /only WASI preview1/,
  );
  assert.equal(moduleHash(new Uint8Array([1])).length, 64);
});

test('a module whose initial memory does not fit the VM reports memory_limit (137) on every call', { skip }, async () => {
  const big = '(module (memory 200) (func (export "_start")))';
  for (let i = 0; i < 2; i++) {
    const r = await backend.runWasm({ module: big, memoryMb: 8 });
    assert.equal(r.exitCode, 137);
    assert.equal(r.trap?.kind, 'memory_limit');
    assert.match(r.stderr, /wasm trap: linear memory reached its cap of 8 MiB/);
  }
});
