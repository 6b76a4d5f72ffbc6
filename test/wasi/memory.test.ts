// Guest pointers are untrusted: no argument values, however wild, make a WASI function throw into the guest.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ERRNO } from '../../src/runtimes/wasi/constants.js';
import { WASI_SIGNATURES } from '../../src/runtimes/wasi/signatures.js';
import { WasiExit, WasiPreview1 } from '../../src/runtimes/wasi/wasi.js';
import { CaptureSink, tempDir } from './harness.js';

const i32 = fc.oneof(
  fc.integer({ min: -4, max: 16 }),
  fc.integer({ min: 4000, max: 4200 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(0x7fffffff, -1, -2147483648, 4093, 4094, 4095, 4096),
);
const i64 = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(0n, -1n, 1n, 2n ** 62n));

test('every WASI function returns an errno for arbitrary arguments, never throws', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), 'content');
  const names = Object.keys(WASI_SIGNATURES).filter((n) => n !== 'proc_exit');
  fc.assert(
    fc.property(
      fc.constantFrom(...names),
      fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
      fc.array(fc.oneof(i32, i64), { minLength: 9, maxLength: 9 }),
      (name, memory, raw) => {
        const wasi = new WasiPreview1({
          args: ['p', 'x'], env: { A: 'b' }, stdin: new Uint8Array(10), out: new CaptureSink(),
          mounts: [{ hostPath: dir, guestPath: '/d', readOnly: false }],
          // a random clock subscription may ask for a long sleep: the deadline ends it
          deadline: Date.now() + 20,
        });
        wasi.bindMemory(() => memory);
        const args = WASI_SIGNATURES[name]!.params.map((type, i) => {
          const v = raw[i]!;
          return type === 'i64' ? BigInt(v) : Number(BigInt.asIntN(32, BigInt(v)));
        });
        try {
          const r = wasi.imports[name]!(...args);
          assert.ok(Number.isInteger(r) && r >= 0 && r <= 76, `${name} returned ${r}`);
        } catch (e) {
          if (!(name === 'poll_oneoff' && e instanceof WasiExit)) throw e;
        } finally {
          wasi.close();
        }
      },
    ),
    { numRuns: 1500 },
  );
});

test('out-of-bounds output pointers are EFAULT and nothing is written', () => {
  const mem = new Uint8Array(64);
  const wasi = new WasiPreview1({ args: ['p'], env: {}, stdin: new Uint8Array(0), out: new CaptureSink(), mounts: [] });
  wasi.bindMemory(() => mem);
  assert.equal(wasi.imports.clock_time_get!(1, 0n, 60), ERRNO.FAULT); // 8 bytes at 60 straddle the end
  assert.equal(wasi.imports.clock_time_get!(1, 0n, -8), ERRNO.FAULT);
  assert.equal(wasi.imports.args_sizes_get!(0, 64), ERRNO.FAULT);
  assert.equal(wasi.imports.random_get!(32, 33), ERRNO.FAULT);
  assert.ok(mem.every((b) => b === 0));
  assert.equal(wasi.imports.clock_time_get!(1, 0n, 56), 0);
});

test('calls before bindMemory are EFAULT', () => {
  const wasi = new WasiPreview1({ args: ['p'], env: {}, stdin: new Uint8Array(0), out: new CaptureSink(), mounts: [] });
  assert.equal(wasi.imports.fd_write!(1, 0, 1, 0), ERRNO.FAULT);
  assert.equal(wasi.imports.sched_yield!(), 0);
});
