// Module toolkit: loading (binary, .wat, files), inspection, feature detection, memory capping.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { capMemory, compileModule, compileWat, detectFeatures, inspectModule, loadModuleBytes } from '../../src/runtimes/wasm/module.js';
import { invokeExport } from '../../src/runtimes/wasm/run.js';
import { CaptureSink, request, tempDir } from '../wasi/harness.js';

const ADD = `(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`;

test('loadModuleBytes: binary as is, .wat text compiled, files read, errors typed', async (t) => {
  const bin = await loadModuleBytes(new TextEncoder().encode(ADD));
  assert.deepEqual([...bin.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]);
  assert.equal(await loadModuleBytes(bin), bin);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'add.wasm'), bin);
  writeFileSync(join(dir, 'add.wat'), ADD);
  const same = (a: Uint8Array) => Buffer.from(a).equals(Buffer.from(bin));
  assert.ok(same(await loadModuleBytes(join(dir, 'add.wasm'))));
  assert.ok(same(await loadModuleBytes(join(dir, 'add.wat'))));
  assert.ok(same(await loadModuleBytes(ADD)), 'inline text');
  await assert.rejects(loadModuleBytes(join(dir, 'missing.wasm')), { code: 'NOT_FOUND' });
  await assert.rejects(loadModuleBytes('(module (func (result i32)))'), (e: Error & { code?: string }) => e.code === 'VALIDATION' && /type mismatch/.test(e.message));
  writeFileSync(join(dir, 'bad.wat'), '(module (func $f (unknown_instr)))');
  await assert.rejects(loadModuleBytes(join(dir, 'bad.wat')), (e: Error & { code?: string }) => e.code === 'VALIDATION' && /bad\.wat.*unexpected token/s.test(e.message));
  await assert.rejects(loadModuleBytes(new Uint8Array([0xff, 0xfe, 0x00])), { code: 'VALIDATION' });
});

test('inspectModule: imports, exports with signatures, memory, WASI command', async () => {
  const bytes = await compileWat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "env" "g" (global i64))
    (memory (export "memory") 2 10)
    (global (export "counter") (mut f64) (f64.const 1))
    (table (export "tbl") 1 funcref)
    (tag (export "oops") (param i32))
    (func (export "_start"))
    (func (export "mix") (param i64 f32 f64) (result i32 i64) (i32.const 0) (i64.const 0)))`);
  const info = inspectModule(bytes);
  assert.deepEqual(info.imports, [
    { module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'func', params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
    { module: 'env', name: 'g', kind: 'global', results: ['i64'] },
  ]);
  assert.deepEqual(info.exports, [
    { name: 'memory', kind: 'memory', params: [], results: [] },
    { name: 'counter', kind: 'global', params: [], results: ['f64'] },
    { name: 'tbl', kind: 'table', params: [], results: [] },
    { name: 'oops', kind: 'tag', params: ['i32'], results: [] },
    { name: '_start', kind: 'func', params: [], results: [] },
    { name: 'mix', kind: 'func', params: ['i64', 'f32', 'f64'], results: ['i32', 'i64'] },
  ]);
  assert.deepEqual(info.memory, { min: 2, max: 10, imported: false, shared: false, memory64: false });
  assert.equal(info.isWasiCommand, true);
  assert.equal(inspectModule(await compileWat(ADD)).isWasiCommand, false);
  const imported = inspectModule(await compileWat(`(module (import "env" "memory" (memory 1 4 shared)))`));
  assert.deepEqual(imported.memory, { min: 1, max: 4, imported: true, shared: true, memory64: false });
});

test('inspectModule: malformed bytes are a ValidationError, never another exception', async () => {
  const good = await compileWat(`(module (memory 1) (func (export "f") (param i32) (result i32) (local.get 0)))`);
  assert.throws(() => inspectModule(new Uint8Array([1, 2, 3])), { code: 'VALIDATION' });
  assert.throws(() => inspectModule(good.subarray(0, good.byteLength - 3)), { code: 'VALIDATION' });
  assert.throws(() => inspectModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0])), /component/);
  fc.assert(
    fc.property(fc.nat(good.byteLength - 1), fc.integer({ min: 0, max: 255 }), fc.nat(good.byteLength), (at, byte, cut) => {
      const bytes = good.slice(0, Math.max(8, cut));
      bytes[Math.min(at, bytes.byteLength - 1)] = byte;
      try {
        inspectModule(bytes);
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'VALIDATION', String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('detectFeatures: MVP, simd, threads, tail calls, memory64, exceptions, bulk memory + sign extension', async () => {
  const cases: [string, string[]][] = [
    [ADD, []],
    [`(module (func (export "f") (result v128) (v128.const i32x4 1 2 3 4)))`, ['simd']],
    [`(module (memory 1 1 shared) (func (export "f") (result i32) (i32.atomic.load (i32.const 0))))`, ['threads']],
    [`(module (func $g (result i32) (i32.const 1)) (func (export "f") (result i32) (return_call $g)))`, ['tail_call']],
    [`(module (memory i64 1) (func (export "f") (result i32) (i32.load (i64.const 0))))`, ['memory64']],
    [`(module (tag $e (param i32)) (func (export "f") (throw $e (i32.const 1))))`, ['exceptions']],
    [`(module (memory 1) (func (export "f") (param i32) (result i32)
        (memory.fill (i32.const 0) (i32.const 0) (i32.const 0)) (i32.extend8_s (local.get 0))))`, ['bulk_memory', 'sign_extension']],
    [`(module (func (export "f") (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0))))`, ['sat_float_to_int']],
    [`(module (func (export "f") (result i32 i32) (i32.const 1) (i32.const 2)))`, ['multi_value']],
    [`(module (global (export "g") (mut i32) (i32.const 0)))`, ['mutable_globals']],
    [`(module (import "env" "g" (global (mut i64))))`, ['mutable_globals']],
  ];
  for (const [wat, want] of cases) assert.deepEqual(await detectFeatures(await compileWat(wat)), want, wat);
  // wabt reads reference types only together with bulk memory (the proposal was built on it)
  const refs = await detectFeatures(await compileWat(`(module (table 1 externref)
    (func (export "f") (param externref) (table.set (i32.const 0) (local.get 0))))`));
  assert.ok(refs.includes('reference_types'), String(refs));
  await assert.rejects(detectFeatures(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5])), { code: 'VALIDATION' });
});

test('capMemory: memory.grow past the cap returns -1; a minimum above the cap is a LimitError', async () => {
  const bytes = await compileWat(`(module (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
  const capped = capMemory(bytes, 4 * 65536);
  assert.deepEqual(inspectModule(capped).memory, { min: 1, max: 4, imported: false, shared: false, memory64: false });
  const module = await compileModule(capped);
  const grow = async (n: number) => (await invokeExport(module, 'grow', [n], request(), new CaptureSink())).results;
  assert.deepEqual(await grow(3), [1], 'up to the cap');
  assert.deepEqual(await grow(4), [-1], 'past the cap');
  // an existing smaller maximum stays; a larger one is lowered
  const small = await compileWat(`(module (memory 1 2))`);
  assert.equal(inspectModule(capMemory(small, 1 << 30)).memory?.max, 2);
  const big = await compileWat(`(module (memory 1 60000))`);
  assert.equal(inspectModule(capMemory(big, 8 * 65536)).memory?.max, 8);
  // imported memories are capped too, and the rest of the module is untouched
  const imp = await compileWat(`(module (import "env" "memory" (memory 1)) (func (export "f") (result i32) (i32.const 7)))`);
  const impCapped = capMemory(imp, 3 * 65536);
  assert.equal(inspectModule(impCapped).memory?.max, 3);
  assert.deepEqual(inspectModule(impCapped).exports, inspectModule(imp).exports);
  const twenty = await compileWat(`(module (memory 20))`);
  assert.throws(() => capMemory(twenty, 1024 * 1024), (e: Error & { code?: string }) =>
    e.code === 'LIMIT' && /1310720 bytes/.test(e.message) && /1048576 bytes/.test(e.message));
  assert.equal(capMemory(await compileWat(ADD), 0).byteLength, (await compileWat(ADD)).byteLength, 'no memory: unchanged');
});

test('compileModule: an engine-unsupported proposal is a ValidationError naming it', async () => {
  const m64 = await compileWat(`(module (memory i64 1) (func (export "f") (result i32) (i32.load (i64.const 0))))`);
  try {
    await compileModule(m64);
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'VALIDATION');
    assert.match((e as Error).message, /memory64/);
    return;
  }
  // a V8 with memory64 enabled compiles it: nothing to check then
});
