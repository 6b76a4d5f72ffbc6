/**
 * The pool's handling of mounts: a worker per mount set, reused while warm, evicted when the limit needs room,
 * ended when idle, and workers that never see another mount set's directories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_HOME, tempDir, HELLO } from './helpers.js';
import { READFILE } from '../wasi/harness.js';
import { createWasmBackend } from '../../src/backends/wasm/index.js';

assert.equal(process.env.AGENTKERNEL_HOME, TEST_HOME);

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), what);
}

test('a worker per mount set: reused while warm, evicted at the limit, ended when idle', async (t) => {
  const b = createWasmBackend({ poolSize: 0, maxMountWorkers: 1, mountIdleMs: 400 });
  t.after(() => b.close());
  const d1 = tempDir(t);
  const d2 = tempDir(t);
  writeFileSync(join(d1, 'f'), 'one');
  writeFileSync(join(d2, 'f'), 'two');
  const m1 = [{ hostPath: d1, guestPath: '/d', readOnly: true }];
  const m2 = [{ hostPath: d2, guestPath: '/d', readOnly: true }];

  assert.equal((await b.runWasm({ module: READFILE, args: ['f'], mounts: m1 })).stdout, 'one');
  const first = b.pool.info();
  assert.equal(first.length, 1);
  assert.equal((await b.runWasm({ module: HELLO, mounts: m1 })).stdout, 'hello\n');
  assert.equal(b.pool.info()[0].pid, first[0].pid, 'same mounts: same warm worker');

  assert.equal((await b.runWasm({ module: READFILE, args: ['f'], mounts: m2 })).stdout, 'two');
  await until(() => b.pool.info().length === 1 && b.pool.info()[0].pid !== first[0].pid, 'the limit of 1 evicts the idle worker of the other set');

  await until(() => b.pool.info().length === 0, 'an idle worker with mounts ends after mountIdleMs');
  assert.equal((await b.runWasm({ module: HELLO, mounts: m2 })).stdout, 'hello\n', 'and starts again when needed');
});

test('concurrent runs with one mount set share the limit fairly', async (t) => {
  const b = createWasmBackend({ poolSize: 0, maxMountWorkers: 2 });
  t.after(() => b.close());
  const d = tempDir(t);
  writeFileSync(join(d, 'f'), 'data');
  const m = [{ hostPath: d, guestPath: '/d', readOnly: true }];
  const results = await Promise.all(Array.from({ length: 6 }, () => b.runWasm({ module: READFILE, args: ['f'], mounts: m })));
  for (const r of results) assert.equal(r.stdout, 'data');
  assert.ok(b.pool.info().length <= 2);
});
