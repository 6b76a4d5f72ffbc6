// Calling exports with typed arguments: parsing, formatting, and real calls through V8.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExportInfo } from '../../src/runtimes/wasm/inspect.js';
import { formatResults, formatSignature, parseInvokeArgs } from '../../src/runtimes/wasm/invoke-args.js';
import { compileModule, compileWat } from '../../src/runtimes/wasm/module.js';
import { invokeExport, runWasiCommand } from '../../src/runtimes/wasm/run.js';
import { CaptureSink, request } from '../wasi/harness.js';

const fn = (name: string, params: ExportInfo['params'], results: ExportInfo['results'] = []): ExportInfo => ({ name, kind: 'func', params, results });

test('formatSignature', () => {
  assert.equal(formatSignature(fn('add', ['i32', 'i32'], ['i32'])), 'add(i32, i32) -> i32');
  assert.equal(formatSignature(fn('run', [])), 'run()');
  assert.equal(formatSignature(fn('pair', ['f64'], ['i32', 'i64'])), 'pair(f64) -> (i32, i64)');
});

test('parseInvokeArgs: integers (decimal, hex, negative, range-checked) and floats (nan, inf)', () => {
  const ints = fn('f', ['i32', 'i32', 'i32', 'i64', 'i64', 'i64']);
  assert.deepEqual(parseInvokeArgs(ints, ['42', '-0x10', '0xffffffff', '18446744073709551615', -5, 123n]), [42, -16, -1, -1n, -5n, 123n]);
  assert.deepEqual(parseInvokeArgs(fn('f', ['i32']), ['-2147483648']), [-2147483648]);
  const floats = fn('g', ['f32', 'f64', 'f64', 'f64', 'f64']);
  const [a, b, c, d, e] = parseInvokeArgs(floats, ['1.5', 'nan', 'inf', '-inf', '-2.5e3']);
  assert.equal(a, 1.5);
  assert.ok(Number.isNaN(b));
  assert.equal(c, Infinity);
  assert.equal(d, -Infinity);
  assert.equal(e, -2500);
  for (const [params, args] of [
    [['i32'], ['4294967296']],
    [['i32'], ['-2147483649']],
    [['i32'], ['1.5']],
    [['i32'], ['twelve']],
    [['i32'], [1.5]],
    [['i64'], ['18446744073709551616']],
    [['f64'], ['1.2.3']],
    [['f64'], ['']],
    [['v128'], ['0']],
  ] as [ExportInfo['params'], string[]][]) {
    const e = fn('h', params, ['i32']);
    assert.throws(() => parseInvokeArgs(e, args), (err: Error & { code?: string }) => err.code === 'VALIDATION' && err.message.includes(formatSignature(e)), `${params} ${args}`);
  }
  assert.throws(() => parseInvokeArgs(fn('add', ['i32', 'i32'], ['i32']), ['1']), /add\(i32, i32\) -> i32 takes 2 arguments, got 1/);
});

test('formatResults: i64 as decimal strings, special floats as words', () => {
  assert.deepEqual(formatResults([], undefined), []);
  assert.deepEqual(formatResults(['i32'], -3), [-3]);
  assert.deepEqual(formatResults(['i64'], -9223372036854775808n), ['-9223372036854775808']);
  assert.deepEqual(formatResults(['f64', 'f32', 'f64', 'f64'], [NaN, Infinity, -Infinity, 0.5]), ['nan', 'inf', '-inf', 0.5]);
  assert.deepEqual(formatResults(['externref', 'funcref'], [null, null]), ['null', 'null']);
});

const CALC = `(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "mul64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
  (func (export "half") (param f32) (result f32) (f32.mul (local.get 0) (f32.const 0.5)))
  (func (export "div") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
  (func (export "pair") (param i32) (result i32 i64) (local.get 0) (i64.extend_i32_s (local.get 0)))
  (func (export "nothing")))`;

test('invokeExport: i32, i64, f32, f64 and multi-value results', async () => {
  const m = await compileModule(await compileWat(CALC));
  const call = async (name: string, args: (string | number)[]) => (await invokeExport(m, name, args, request(), new CaptureSink())).results;
  assert.deepEqual(await call('add', ['2', '0x28']), [42]);
  assert.deepEqual(await call('add', [0x7fffffff, 1]), [-2147483648]);
  assert.deepEqual(await call('mul64', ['4294967296', '4294967296']), ['0']);
  assert.deepEqual(await call('mul64', ['3037000499', '3037000499']), ['9223372030926249001']);
  assert.deepEqual(await call('half', ['3']), [1.5]);
  assert.deepEqual(await call('div', ['1', '0']), ['inf']);
  assert.deepEqual(await call('div', ['0', '0']), ['nan']);
  assert.deepEqual(await call('pair', ['-7']), [-7, '-7']);
  assert.deepEqual(await call('nothing', []), []);
});

test('invokeExport: a missing export is a NotFoundError listing the exported functions', async () => {
  const m = await compileModule(await compileWat(CALC));
  await assert.rejects(invokeExport(m, 'sub', [], request(), new CaptureSink()), (e: Error & { code?: string }) =>
    e.code === 'NOT_FOUND' && e.message.includes('add(i32, i32) -> i32') && e.message.includes('mul64(i64, i64) -> i64'));
  await assert.rejects(invokeExport(m, 'add', ['1'], request(), new CaptureSink()), { code: 'VALIDATION' });
});

test('invokeExport: WASI imports are satisfied, a reactor is initialised first, proc_exit ends the call', async () => {
  const m = await compileModule(await compileWat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 100) "hi\\n")
    (global $ready (mut i32) (i32.const 0))
    (func (export "_initialize") (global.set $ready (i32.const 1)))
    (func (export "greet") (result i32)
      (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 3))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (global.get $ready))
    (func (export "quit") (result i32) (call $proc_exit (i32.const 5)) (i32.const 0)))`));
  const out = new CaptureSink();
  assert.deepEqual(await invokeExport(m, 'greet', [], request(), out), { exitCode: 0, results: [1] });
  assert.equal(out.stdoutText, 'hi\n');
  assert.deepEqual(await invokeExport(m, 'quit', [], request(), new CaptureSink()), { exitCode: 5 });
});

test('imports that are neither WASI nor a memory are refused before running, all of them named', async () => {
  const m = await compileModule(await compileWat(`(module
    (import "env" "host_fn" (func (param i32)))
    (import "env" "tbl" (table 1 funcref))
    (import "wasi_snapshot_preview1" "not_a_wasi_call" (func))
    (func (export "_start")))`));
  await assert.rejects(
    runWasiCommand(m, { ...request(), args: [], programName: 'x' }, new CaptureSink()),
    (e: Error & { code?: string }) => e.code === 'VALIDATION' && /env\.host_fn/.test(e.message) && /env\.tbl/.test(e.message) && /not_a_wasi_call/.test(e.message),
  );
  const wrongSig = await compileModule(await compileWat(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32))) (func (export "_start")))`));
  await assert.rejects(runWasiCommand(wrongSig, { ...request(), args: [], programName: 'x' }, new CaptureSink()), /fd_write.*declared \(i32\)/);
});

test('an imported memory is provided, with the module\'s (capped) limits', async () => {
  const m = await compileModule(
    await compileWat(`(module (import "env" "memory" (memory 1))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`),
    { memoryMb: 1 },
  );
  assert.deepEqual((await invokeExport(m, 'grow', [15], request({ memoryMb: 1 }), new CaptureSink())).results, [1]);
  assert.deepEqual((await invokeExport(m, 'grow', [16], request({ memoryMb: 1 }), new CaptureSink())).results, [-1]);
});

test('runWasiCommand: a module without _start is a ValidationError naming its exports', async () => {
  const m = await compileModule(await compileWat(CALC));
  await assert.rejects(runWasiCommand(m, { ...request(), args: [], programName: 'calc' }, new CaptureSink()), (e: Error & { code?: string }) =>
    e.code === 'VALIDATION' && /_start/.test(e.message) && e.message.includes('add(i32, i32) -> i32'));
});
