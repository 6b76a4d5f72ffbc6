/**
 * The guest runtime, run natively through the test harness (harness/harness.c): the same runtime sources and
 * generated glue as a VM guest, with `out` replaced by a call into a stand-in host. Covers dispatch, invoke
 * conversions, traps, memory growth up to the cap, buffered output and WASI forwarding.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { bitsf32, bitsf64, buildHarness, cleanup, f32bits, f64bits, results, runHarness, toolchainMissing, wat } from './helpers.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { abiWasiFunctions, packageRoot } from '../../src/backends/hyperlight/toolchain.js';
import { WASI_SIGNATURES } from '../../src/runtimes/wasi/signatures.js';
import * as M from './modules.js';

const skip = process.platform !== 'linux' || process.arch !== 'x64' ? 'the harness runs x86-64 Linux guests only' : await toolchainMissing();

const MiB = 1 << 20;
const u32 = (n: number) => BigInt(n >>> 0);

describe('hyperlight guest runtime (native harness)', { skip }, () => {
  after(cleanup);

  test('hello world: one buffered flush for the whole output', async () => {
    const exe = await buildHarness(await wat(M.HELLO));
    const r = await runHarness(exe, ['start']);
    assert.equal(r.stdout, 'hello, world\n');
    assert.equal(r.kind, 'done');
    assert.equal(r.fields.status, '0');
    assert.equal(r.fields.hostcalls, '1');
    assert.equal(r.fields.flushes, '1');
    assert.equal(r.fields.mem_size, '65536');
  });

  test('invoke converts i32, i64, f32, f64 and multi-value results', async () => {
    const exe = await buildHarness(await wat(M.TYPES, { reference_types: true, multi_value: true }));
    assert.deepEqual(results(await runHarness(exe, ['invoke', 0, u32(-5), 7n])), [2n]);
    assert.deepEqual(results(await runHarness(exe, ['invoke', 1, 3_000_000_000n, 5n])), [15_000_000_000n]);
    const [q] = results(await runHarness(exe, ['invoke', 2, f32bits(1), f32bits(3)]));
    assert.equal(bitsf32(q), Math.fround(1 / 3));
    const [s] = results(await runHarness(exe, ['invoke', 3, f64bits(2)]));
    assert.equal(bitsf64(s), Math.SQRT2);
    const swapped = results(await runHarness(exe, ['invoke', 4, 11n, (1n << 63n) + 5n, f32bits(2.5), f64bits(-0.25)]));
    assert.deepEqual(swapped, [f64bits(-0.25), f32bits(2.5), (1n << 63n) + 5n, 11n]);
    assert.deepEqual(results(await runHarness(exe, ['invoke', 5])), []);
    assert.deepEqual(results(await runHarness(exe, ['invoke', 6])), [7n]);
  });

  test('a bad request from the host aborts with a message, not a crash', async () => {
    const exe = await buildHarness(await wat(M.TYPES, { reference_types: true, multi_value: true }));
    const arity = await runHarness(exe, ['invoke', 0, 1n]);
    assert.equal(arity.kind, 'abort');
    assert.match(arity.message!, /wrong number of arguments/);
    assert.match((await runHarness(exe, ['invoke', 99])).message!, /no export/);
    assert.match((await runHarness(exe, ['start'])).message!, /no _start/);
  });

  test('traps report the AK_TRAP_* code of each kind', async () => {
    const exe = await buildHarness(await wat(M.TRAPS));
    const trap = async (index: number, ...args: bigint[]) => {
      const r = await runHarness(exe, ['invoke', index, ...args]);
      assert.equal(r.kind, 'trap', JSON.stringify(r));
      return Number(r.fields.code);
    };
    assert.equal(await trap(0), 5, 'unreachable');
    assert.equal(await trap(1), 1, 'out of bounds');
    assert.equal(await trap(2, 0n), 3, 'divide by zero');
    assert.deepEqual(results(await runHarness(exe, ['invoke', 2, 1n])), [1n]);
    assert.equal(await trap(3), 2, 'integer overflow');
    assert.equal(await trap(4, f64bits(NaN)), 4, 'invalid conversion');
    assert.equal(await trap(5, 0n), 7, 'stack exhausted');
    assert.equal(await trap(6), 6, 'null call_indirect');
    assert.equal(await trap(7), 6, 'call_indirect type mismatch');
  });

  test('memory.grow stops at the declared maximum, with explicit bounds past it', async () => {
    const exe = await buildHarness(await wat(M.GROW_CAPPED));
    assert.deepEqual(results(await runHarness(exe, ['invoke', 0])), [10n]);
    assert.deepEqual(results(await runHarness(exe, ['invoke', 1])), [9n], 'grown pages are zero and writable');
    const past = await runHarness(exe, ['invoke', 2]);
    assert.equal(past.kind, 'trap');
    assert.equal(past.fields.code, '1');
  });

  test('memory.grow stops at the room the guest memory leaves, and the start does not move', async () => {
    const exe = await buildHarness(await wat(M.GROW_UNCAPPED));
    for (const mib of [8, 32]) {
      const r = await runHarness(exe, ['invoke', 0], mib);
      const [pages] = results(r);
      const bytes = Number(pages) * 65536;
      assert.ok(bytes < mib * MiB && bytes > mib * MiB * 0.75, `${mib} MiB guest: grew to ${bytes} bytes`);
      assert.equal(Number(r.fields.mem_size), bytes);
    }
    assert.deepEqual(results(await runHarness(exe, ['invoke', 1], 8)), [9n]);
  });

  test('a module whose initial memory does not fit traps before READY', async () => {
    const exe = await buildHarness(await wat('(module (memory 200) (func (export "f")))'));
    const r = await runHarness(exe, ['invoke', 0], 4);
    assert.equal(r.kind, 'ready-trap');
    assert.equal(r.fields.code, '9');
  });

  test('output: records keep their order across fds, proc_exit sets the status', async () => {
    const exe = await buildHarness(await wat(M.OUTPUT));
    const r = await runHarness(exe, ['start']);
    assert.equal(r.stdout, 'ab'.repeat(1001));
    assert.equal(r.stderr, 'E');
    assert.equal(r.fields.status, '7');
    assert.equal(r.fields.flushes, '1', '1002 writes, one exit');
    assert.equal(r.fields.records, '1:2000,2:1,1:2', 'consecutive writes to one fd merge; the order across fds holds');
  });

  test('output larger than the message area is flushed in pieces, byte for byte', async () => {
    const exe = await buildHarness(await wat(M.OUTPUT));
    const r = await runHarness(exe, ['invoke', 1]);
    assert.deepEqual(results(r), [0n]);
    assert.ok(r.stdout.length === 100000 && /^x+$/.test(r.stdout), 'all 100000 bytes, nothing else');
    assert.equal(r.fields.flushes, '2');
    assert.match(r.fields.records, /^1:\d+,1:\d+$/);
  });

  test('fd_write: nwritten, EFAULT for bad pointers, unbuffered after fd_close(1)', async () => {
    const exe = await buildHarness(await wat(M.OUTPUT));
    const closed = await runHarness(exe, ['invoke', 2]);
    assert.deepEqual(results(closed), [0n]);
    assert.equal(closed.stdout, 'ab');
    assert.equal(closed.fields.flushes, '0');
    assert.equal(closed.fields.hostcalls, '2', 'fd_close and fd_write both reached the host');

    const bad = await runHarness(exe, ['invoke', 3]);
    assert.deepEqual(results(bad), [21n]);
    assert.equal(bad.stdout, '');
    assert.deepEqual(results(await runHarness(exe, ['invoke', 4])), [3n]);
  });

  test('the start function runs (and may write) during instantiation, before READY', async () => {
    const exe = await buildHarness(await wat(M.START_SECTION));
    const r = await runHarness(exe, ['invoke', 0]);
    assert.equal(r.stdout, 'from start\n');
    assert.deepEqual(results(r), [1n]);
  });

  test('a reactor runs _initialize once before the first invoke', async () => {
    const exe = await buildHarness(await wat(M.REACTOR));
    assert.deepEqual(results(await runHarness(exe, ['invoke', 1])), [42n]);
  });

  test('other WASI calls become host calls with their arguments', async () => {
    const exe = await buildHarness(await wat(M.CLOCK_AND_RANDOM));
    const before = BigInt(Date.now()) * 1_000_000n;
    const [now] = results(await runHarness(exe, ['invoke', 0]));
    assert.ok(now >= before - 1_000_000_000n && now <= before + 60_000_000_000n, `realtime clock ${now}`);
    const r = await runHarness(exe, ['invoke', 1]);
    assert.deepEqual(results(r), [0n]);
    assert.equal(r.fields.hostcalls, '1');
  });

  test('every WASI function reaches the host with its abi.h number and its arguments in order', async () => {
    const numbered = abiWasiFunctions(await readFile(join(packageRoot(), 'native', 'common', 'abi.h'), 'utf8'));
    // i32 arguments 100, 101...; i64 arguments above 2^32 so a truncation would show
    const arg = (t: string, i: number) => (t === 'i64' ? 2n ** 32n * BigInt(i + 1) + BigInt(i) : BigInt(100 + i));
    const names = Object.keys(WASI_SIGNATURES);
    const imports = names.map((n) => {
      const s = WASI_SIGNATURES[n];
      return `(import "wasi_snapshot_preview1" "${n}" (func $${n} (param ${s.params.join(' ')}) ${s.results.length ? '(result i32)' : ''}))`;
    });
    const exports = names.map((n) => {
      const s = WASI_SIGNATURES[n];
      const call = `(call $${n} ${s.params.map((t, i) => `(${t}.const ${arg(t, i)})`).join(' ')})`;
      return `(func (export "call_${n}") (result i32) ${s.results.length ? call : `${call} (i32.const 0)`})`;
    });
    const exe = await buildHarness(await wat(`(module ${imports.join('\n')} (memory 1) ${exports.join('\n')})`));
    for (const [index, name] of names.entries()) {
      const r = await runHarness(exe, ['invoke', index]);
      if (name === 'proc_exit') {
        assert.equal(r.fields.status, '100', 'proc_exit ends the call with its code');
        assert.equal(r.fields.hostcalls, '0');
        continue;
      }
      const expected = `${0x100 + numbered.indexOf(name)}:${WASI_SIGNATURES[name].params.map((t, i) => arg(t, i)).join(',')}`;
      assert.equal(r.fields.last, expected, name);
    }
  });

  for (const sse41 of [true, false]) {
    test(`float rounding, sqrt and sign operations match JavaScript (${sse41 ? 'SSE4.1' : 'portable'} math)`, async () => {
      const exe = await buildHarness(await wat(M.FLOATS), { sse41 });
      // Wasm's nearest: ties to even, keeping the sign of zero
      const nearest = (x: number) => {
        if (!Number.isFinite(x) || Math.abs(x) >= 2 ** 52) return x;
        const f = Math.floor(x);
        const d = x - f;
        const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
        return r === 0 && (x < 0 || Object.is(x, -0)) ? -0 : r;
      };
      const cases = [2.5, -2.5, 3.5, -0.5, 0.5, 1.7, -1.7, -0, 1e300, -1e-300, 4503599627370497, Infinity, -Infinity];
      const ops64: [number, (x: number) => number][] = [
        [0, Math.floor],
        [1, Math.ceil],
        [2, Math.trunc],
        [3, nearest],
        [5, Math.abs],
      ];
      for (const [index, f] of ops64) {
        for (const x of cases) {
          const [bits] = results(await runHarness(exe, ['invoke', index, f64bits(x)]));
          assert.ok(Object.is(bitsf64(bits), f(x)), `export ${index}(${x}) = ${bitsf64(bits)}, expected ${f(x)}`);
        }
      }
      const [root] = results(await runHarness(exe, ['invoke', 4, f64bits(2)]));
      assert.equal(bitsf64(root), Math.SQRT2);
      const [signed] = results(await runHarness(exe, ['invoke', 6, f64bits(3), f64bits(-0)]));
      assert.ok(Object.is(bitsf64(signed), -3));
      const ops32: [number, (x: number) => number][] = [
        [7, Math.floor],
        [8, Math.ceil],
        [9, Math.trunc],
        [10, nearest],
      ];
      for (const [index, f] of ops32) {
        for (const x of [2.5, -2.5, -0.5, 1.25, 8388609, -0]) {
          const [bits] = results(await runHarness(exe, ['invoke', index, f32bits(x)]));
          assert.ok(Object.is(bitsf32(bits), Math.fround(f(Math.fround(x)))), `export ${index}(${x}) = ${bitsf32(bits)}`);
        }
      }
      const [r32] = results(await runHarness(exe, ['invoke', 11, f32bits(2)]));
      assert.equal(bitsf32(r32), Math.fround(Math.SQRT2));
    });
  }
});
