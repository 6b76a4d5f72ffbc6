// Traps of every kind end a run with exit 134 (137 for the memory cap) and a named kind; the host survives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrapKind } from '../../src/core/types.js';
import { compileModule, compileWat } from '../../src/runtimes/wasm/module.js';
import { invokeExport, runWasiCommand } from '../../src/runtimes/wasm/run.js';
import { classifyTrap } from '../../src/runtimes/wasm/traps.js';
import { CaptureSink, request } from '../wasi/harness.js';

const TRAPS = `(module
  (type $v (func (result i32)))
  (type $i (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $id)
  (memory 1 1)
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "unreachable") unreachable)
  (func (export "oob") (result i32) (i32.load (i32.const 70000)))
  (func (export "div0") (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "rem0") (result i64) (i64.rem_u (i64.const 1) (i64.const 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "conversion") (result i32) (i32.trunc_f64_s (f64.const 1e100)))
  (func (export "sigmismatch") (result i32) (call_indirect (type $v) (i32.const 0)))
  (func (export "nullentry") (result i32) (call_indirect (type $i) (i32.const 9) (i32.const 1)))
  (func (export "tableoob") (result i32) (call_indirect (type $i) (i32.const 9) (i32.const 7)))
  (func $rec (export "recurse") (param i32) (result i32) (i32.add (call $rec (local.get 0)) (i32.const 1))))`;

test('each trap kind: exit 134, kind named, message on stderr', async () => {
  const m = await compileModule(await compileWat(TRAPS));
  const cases: [string, (string | number)[], TrapKind][] = [
    ['unreachable', [], 'unreachable'],
    ['oob', [], 'out_of_bounds'],
    ['div0', [], 'integer_divide_by_zero'],
    ['rem0', [], 'integer_divide_by_zero'],
    ['overflow', [], 'integer_overflow'],
    ['conversion', [], 'invalid_conversion'],
    ['sigmismatch', [], 'indirect_call_type_mismatch'],
    ['tableoob', [], 'out_of_bounds'],
    ['recurse', [1], 'stack_exhausted'],
  ];
  for (const [name, args, kind] of cases) {
    const out = new CaptureSink();
    const r = await invokeExport(m, name, args, request(), out);
    assert.equal(r.exitCode, 134, name);
    assert.equal(r.trap?.kind, kind, name);
    assert.equal(r.results, undefined);
    assert.match(out.stderrText, /^wasm trap: .+\n$/, name);
  }
  // a null table entry: V8 reports it together with signature mismatches
  const nul = await invokeExport(m, 'nullentry', [], request(), new CaptureSink());
  assert.equal(nul.exitCode, 134);
  assert.ok(nul.trap && ['null_reference', 'indirect_call_type_mismatch'].includes(nul.trap.kind));
});

test('a WASI command that traps in _start', async () => {
  const m = await compileModule(await compileWat(`(module (func (export "_start") unreachable))`));
  const out = new CaptureSink();
  const r = await runWasiCommand(m, { ...request(), args: [], programName: 'boom' }, out);
  assert.deepEqual(r, { exitCode: 134, trap: { kind: 'unreachable', message: 'unreachable' } });
});

test('running out of capped memory ends with 137 / memory_limit', async () => {
  // an allocator that grows until memory.grow fails, then aborts, like a real program's malloc failure path
  const m = await compileModule(
    await compileWat(`(module (memory (export "memory") 1)
      (func (export "_start") (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable))`),
    { memoryMb: 2 },
  );
  const out = new CaptureSink();
  const r = await runWasiCommand(m, { ...request({ memoryMb: 2 }), args: [], programName: 'hog' }, out);
  assert.equal(r.exitCode, 137);
  assert.equal(r.trap?.kind, 'memory_limit');
  assert.match(out.stderrText, /2 MiB/);
});

test('classifyTrap leaves other errors alone', () => {
  assert.equal(classifyTrap(new Error('boom')), undefined);
  assert.equal(classifyTrap(new RangeError('Invalid array length')), undefined);
  assert.equal(classifyTrap('string'), undefined);
  assert.deepEqual(classifyTrap(new RangeError('Maximum call stack size exceeded')), { kind: 'stack_exhausted', message: 'Maximum call stack size exceeded' });
  const RuntimeError = (globalThis as any).WebAssembly.RuntimeError;
  assert.equal(classifyTrap(new RuntimeError('something new'))?.kind, 'unknown');
});
