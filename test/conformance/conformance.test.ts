/**
 * The shared corpus run against the `wasm` and `hyperlight` backends: identical exit codes, output, results and
 * trap kinds. Hyperlight cases are skipped, with the reason printed, where micro-VMs cannot run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createWasmBackend } from '../../src/backends/wasm/index.js';
import { HyperlightBackend } from '../../src/backends/hyperlight/backend.js';
import type { Backend, ExecResult } from '../../src/core/types.js';
import { CORPUS, comparable, type CorpusCase } from './corpus.js';

const home = mkdtempSync(join(tmpdir(), 'ak-conf-'));
process.env.AGENTKERNEL_HOME ??= home;
const data = join(home, 'data');
mkdirSync(join(data, 'sub'), { recursive: true });
writeFileSync(join(data, 'f.txt'), 'file contents\n');
writeFileSync(join(home, 'f.txt'), 'outside the preopen\n');

const wasm = createWasmBackend({ poolSize: 1 });
const hyper = new HyperlightBackend();
const avail = await hyper.availability();
const skip = avail.available ? undefined : `hyperlight unavailable: ${avail.reason}`;
if (skip) console.log(`# skipping hyperlight conformance: ${skip}`);

after(async () => {
  await Promise.allSettled([wasm.close(), hyper.close()]);
  rmSync(home, { recursive: true, force: true });
});

function call(b: Backend, c: CorpusCase): Promise<ExecResult> {
  const opts = { module: c.module, timeoutMs: 10_000, memoryMb: 64, ...c.opts, ...(c.mount ? { mounts: [{ hostPath: data, guestPath: '/data', readOnly: true }] } : {}) };
  return c.kind === 'run'
    ? b.runWasm({ ...opts, args: opts.args?.map(String) })
    : b.invoke({ ...opts, export: opts.export ?? '' });
}

for (const c of CORPUS) {
  test(`conformance: ${c.name}`, { skip }, async () => {
    const [a, h] = await Promise.all([call(wasm, c), call(hyper, c)]);
    assert.equal(h.backend, 'hyperlight');
    assert.deepEqual(h.isolation?.layers, ['wasm', 'kvm']);
    assert.deepEqual(comparable(h), comparable(a), `${c.name}: hyperlight differs from wasm`);
    c.expect?.(h);
  });
}

test('conformance: the corpus means something (spot checks on the wasm backend)', async () => {
  const byName = (n: string) => CORPUS.find((c) => c.name === n)!;
  assert.equal((await call(wasm, byName('exit code 300 keeps the low 8 bits'))).exitCode, 44);
  assert.equal((await call(wasm, byName('trap: divide by zero'))).trap?.kind, 'integer_divide_by_zero');
  assert.equal((await call(wasm, byName('infinite loop times out'))).exitCode, 124);
  assert.equal((await call(wasm, byName('preopen: read a file'))).stdout, 'file contents\n');
  assert.notEqual((await call(wasm, byName('preopen: .. escape refused'))).exitCode, 0);
});
