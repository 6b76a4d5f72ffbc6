// Clocks, poll_oneoff, random, args/environ, process and socket calls.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRNO } from '../../src/runtimes/wasi/constants.js';
import { WASI_SIGNATURES } from '../../src/runtimes/wasi/signatures.js';
import { WasiExit, WasiPreview1 } from '../../src/runtimes/wasi/wasi.js';
import { compileWat } from '../../src/runtimes/wasm/module.js';
import { CaptureSink, Driver } from './harness.js';

const MONOTONIC = 1;
const REALTIME = 0;

/** Writes one subscription at p: clock (timeout ns, flags) or fd_read/fd_write on fd. */
function sub(d: Driver, p: number, userdata: bigint, s: { clock: bigint; id?: number; abs?: boolean } | { fdRead: number } | { fdWrite: number }) {
  d.mem.fill(0, p, p + 48);
  d.view.setBigUint64(p, userdata, true);
  if ('clock' in s) {
    d.mem[p + 8] = 0;
    d.view.setUint32(p + 16, s.id ?? MONOTONIC, true);
    d.view.setBigUint64(p + 24, s.clock, true);
    d.view.setUint16(p + 40, s.abs ? 1 : 0, true);
  } else {
    d.mem[p + 8] = 'fdRead' in s ? 1 : 2;
    d.view.setUint32(p + 16, 'fdRead' in s ? s.fdRead : s.fdWrite, true);
  }
}

function now(d: Driver, id: number): bigint {
  const p = d.alloc(8);
  assert.equal(d.call('clock_time_get', id, 0n, p), 0);
  return d.u64(p);
}

test('clocks: realtime is the wall clock, monotonic does not go back, resolutions, bad ids', () => {
  const d = new Driver();
  const wall = BigInt(Date.now()) * 1_000_000n;
  const rt = now(d, REALTIME);
  assert.ok(rt - wall < 5_000_000_000n && wall - rt < 5_000_000_000n, 'realtime within seconds of Date.now()');
  const a = now(d, MONOTONIC);
  const b = now(d, MONOTONIC);
  assert.ok(b >= a);
  assert.ok(now(d, 2) > 0n, 'process cputime');
  const p = d.alloc(8);
  for (const id of [0, 1, 2, 3]) {
    assert.equal(d.call('clock_res_get', id, p), 0);
    assert.ok(d.u64(p) > 0n);
  }
  assert.equal(d.call('clock_time_get', 9, 0n, p), ERRNO.INVAL);
  assert.equal(d.call('clock_res_get', 9, p), ERRNO.INVAL);
});

test('poll_oneoff: a clock subscription sleeps at least its timeout', () => {
  const d = new Driver();
  const subs = d.alloc(48), events = d.alloc(32), n = d.alloc(4);
  sub(d, subs, 42n, { clock: 30_000_000n });
  const before = now(d, MONOTONIC);
  assert.equal(d.call('poll_oneoff', subs, events, 1, n), 0);
  assert.ok(now(d, MONOTONIC) - before >= 30_000_000n);
  assert.equal(d.u32(n), 1);
  assert.equal(d.u64(events), 42n);
  assert.equal(d.view.getUint16(events + 8, true), 0);
  assert.equal(d.mem[events + 10], 0);
});

test('poll_oneoff: absolute deadlines in the past fire at once; fd subscriptions are ready without waiting', () => {
  const d = new Driver({ stdin: new TextEncoder().encode('12345') });
  const subs = d.alloc(48 * 3), events = d.alloc(32 * 3), n = d.alloc(4);
  sub(d, subs, 1n, { clock: 1n, id: REALTIME, abs: true });
  assert.equal(d.call('poll_oneoff', subs, events, 1, n), 0);
  assert.equal(d.u32(n), 1);
  // an hour-long clock next to a ready stdin: only stdin (and stdout) report
  sub(d, subs, 7n, { clock: 3_600_000_000_000n });
  sub(d, subs + 48, 8n, { fdRead: 0 });
  sub(d, subs + 96, 9n, { fdWrite: 1 });
  assert.equal(d.call('poll_oneoff', subs, events, 3, n), 0);
  assert.equal(d.u32(n), 2);
  assert.equal(d.u64(events), 8n);
  assert.equal(d.mem[events + 10], 1);
  assert.equal(d.u64(events + 16), 5n, 'nbytes available on stdin');
  assert.equal(d.u64(events + 32), 9n);
  sub(d, subs, 3n, { fdRead: 77 });
  assert.equal(d.call('poll_oneoff', subs, events, 1, n), 0);
  assert.equal(d.view.getUint16(events + 8, true), ERRNO.BADF);
  assert.equal(d.call('poll_oneoff', subs, events, 0, n), ERRNO.INVAL);
});

test('poll_oneoff never sleeps past the run deadline: the guest exits with 124', () => {
  const d = new Driver({ deadline: Date.now() + 30 });
  const subs = d.alloc(48), events = d.alloc(32), n = d.alloc(4);
  sub(d, subs, 1n, { clock: 3_600_000_000_000n });
  assert.throws(() => d.call('poll_oneoff', subs, events, 1, n), (e) => e instanceof WasiExit && e.code === 124);
});

test('random_get fills the buffer', () => {
  const d = new Driver();
  const p = d.alloc(64);
  assert.equal(d.call('random_get', p, 64), 0);
  const first = Buffer.from(d.mem.subarray(p, p + 64));
  assert.equal(d.call('random_get', p, 64), 0);
  assert.notDeepEqual(first, Buffer.from(d.mem.subarray(p, p + 64)));
  assert.ok(first.some((b) => b !== 0));
});

test('args and environ: sizes and NUL-terminated strings', () => {
  const d = new Driver({ args: ['prog', 'a b', 'ü'], env: { HOME: '/home', EMPTY: '' } });
  const c = d.alloc(4), s = d.alloc(4);
  assert.equal(d.call('args_sizes_get', c, s), 0);
  assert.equal(d.u32(c), 3);
  assert.equal(d.u32(s), 'prog\0a b\0ü\0'.length + 1);
  const ptrs = d.alloc(12), buf = d.alloc(d.u32(s));
  assert.equal(d.call('args_get', ptrs, buf), 0);
  const str = (p: number) => Buffer.from(d.mem.subarray(p, d.mem.indexOf(0, p))).toString();
  assert.deepEqual([0, 1, 2].map((i) => str(d.u32(ptrs + 4 * i))), ['prog', 'a b', 'ü']);
  assert.equal(d.call('environ_sizes_get', c, s), 0);
  assert.equal(d.u32(c), 2);
  const eptrs = d.alloc(8), ebuf = d.alloc(d.u32(s));
  assert.equal(d.call('environ_get', eptrs, ebuf), 0);
  assert.deepEqual([0, 1].map((i) => str(d.u32(eptrs + 4 * i))).sort(), ['EMPTY=', 'HOME=/home']);
  assert.throws(() => new Driver({ env: { 'A=B': 'x' } }), { code: 'VALIDATION' });
  assert.throws(() => new Driver({ args: ['a\0b'] }), { code: 'VALIDATION' });
});

test('proc_exit throws WasiExit; proc_raise, sockets are refused; sched_yield succeeds', () => {
  const d = new Driver();
  assert.throws(() => d.call('proc_exit', 7), (e) => e instanceof WasiExit && e.code === 7);
  assert.equal(d.call('proc_raise', 9), ERRNO.NOSYS);
  assert.equal(d.call('sched_yield'), 0);
  for (const s of ['sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown']) assert.equal(d.call(s, 0, 0, 0, 0, 0, 0), ERRNO.NOTSUP);
});

test('WASI_SIGNATURES covers all of preview1 and links against a module importing everything', async () => {
  const names = Object.keys(WASI_SIGNATURES);
  assert.equal(names.length, 46);
  const wasi = new WasiPreview1({ args: [], env: {}, stdin: new Uint8Array(0), out: new CaptureSink(), mounts: [] });
  assert.deepEqual(Object.keys(wasi.imports).sort(), names.sort());
  const imports = names
    .map((n) => {
      const s = WASI_SIGNATURES[n]!;
      return `(import "wasi_snapshot_preview1" "${n}" (func $${n} (param ${s.params.join(' ')}) (result ${s.results.join(' ')})))`;
    })
    .join('\n');
  // clock_time_get's precision is an i64: V8 hands it over as a BigInt
  const bytes = await compileWat(`(module ${imports} (memory (export "memory") 1)
    (func (export "now") (result i64) (drop (call $clock_time_get (i32.const 1) (i64.const 1000) (i32.const 0))) (i64.load (i32.const 0))))`);
  const { instance } = (await (globalThis as any).WebAssembly.instantiate(bytes, { wasi_snapshot_preview1: wasi.imports })) as any;
  wasi.bindMemory(() => new Uint8Array(instance.exports.memory.buffer));
  assert.ok((instance.exports.now() as bigint) > 0n);
});
