/**
 * A grammar of WASI preview1 calls for fuzzing: every function with arguments drawn per parameter kind (fds,
 * out-pointers, path/iovec/buffer pairs, flags, 64-bit values), mostly plausible so that calls reach deep into the
 * implementation, sometimes wild (pointers past memory, huge lengths and counts). A case is a 64 KiB guest memory
 * image plus a sequence of calls against it; the same case drives the WASI layer directly and the micro-VM's
 * host-call dispatcher.
 */
import fc from 'fast-check';
import { WASI_SIGNATURES } from '../../src/runtimes/wasi/signatures.js';
import { AK_WASI_FUNCS, type WasiFunction } from '../../src/backends/hyperlight/abi.js';

/** Size of the guest memory a case describes. */
export const MEM_SIZE = 65536;
/** Regions of that memory: out-pointers, path strings (slots of PATH_SLOT bytes), poll subscriptions, iovecs, buffers. */
export const SCRATCH = 0;
export const STR = 1024;
export const PATH_SLOT = 1024;
export const PATH_SLOTS = 8;
export const SUBS = STR + PATH_SLOT * PATH_SLOTS; // 9216
export const IOV = 12288;
export const BUF = 32768;

/** How a parameter (or a pair of them) is generated. Pairs expand to two i32 parameters. */
type Kind = 'fd' | 'ptr' | 'flags' | 'u64' | 'rights' | 'code' | 'path' | 'iovs' | 'buf' | 'subs';

const KINDS: Record<WasiFunction, Kind[]> = {
  args_get: ['ptr', 'ptr'],
  args_sizes_get: ['ptr', 'ptr'],
  environ_get: ['ptr', 'ptr'],
  environ_sizes_get: ['ptr', 'ptr'],
  clock_res_get: ['flags', 'ptr'],
  clock_time_get: ['flags', 'u64', 'ptr'],
  fd_advise: ['fd', 'u64', 'u64', 'flags'],
  fd_allocate: ['fd', 'u64', 'u64'],
  fd_close: ['fd'],
  fd_datasync: ['fd'],
  fd_fdstat_get: ['fd', 'ptr'],
  fd_fdstat_set_flags: ['fd', 'flags'],
  fd_fdstat_set_rights: ['fd', 'rights', 'rights'],
  fd_filestat_get: ['fd', 'ptr'],
  fd_filestat_set_size: ['fd', 'u64'],
  fd_filestat_set_times: ['fd', 'u64', 'u64', 'flags'],
  fd_pread: ['fd', 'iovs', 'u64', 'ptr'],
  fd_prestat_get: ['fd', 'ptr'],
  fd_prestat_dir_name: ['fd', 'buf'],
  fd_pwrite: ['fd', 'iovs', 'u64', 'ptr'],
  fd_read: ['fd', 'iovs', 'ptr'],
  fd_readdir: ['fd', 'buf', 'u64', 'ptr'],
  fd_renumber: ['fd', 'fd'],
  fd_seek: ['fd', 'u64', 'flags', 'ptr'],
  fd_sync: ['fd'],
  fd_tell: ['fd', 'ptr'],
  fd_write: ['fd', 'iovs', 'ptr'],
  path_create_directory: ['fd', 'path'],
  path_filestat_get: ['fd', 'flags', 'path', 'ptr'],
  path_filestat_set_times: ['fd', 'flags', 'path', 'u64', 'u64', 'flags'],
  path_link: ['fd', 'flags', 'path', 'fd', 'path'],
  path_open: ['fd', 'flags', 'path', 'flags', 'rights', 'rights', 'flags', 'ptr'],
  path_readlink: ['fd', 'path', 'buf', 'ptr'],
  path_remove_directory: ['fd', 'path'],
  path_rename: ['fd', 'path', 'fd', 'path'],
  path_symlink: ['path', 'fd', 'path'],
  path_unlink_file: ['fd', 'path'],
  poll_oneoff: ['subs', 'ptr', 'code', 'ptr'],
  proc_exit: ['code'],
  proc_raise: ['code'],
  sched_yield: [],
  random_get: ['buf'],
  sock_accept: ['fd', 'flags', 'ptr'],
  sock_recv: ['fd', 'iovs', 'flags', 'ptr', 'ptr'],
  sock_send: ['fd', 'iovs', 'flags', 'ptr'],
  sock_shutdown: ['fd', 'flags'],
};

/** Parameters a kind list expands to; checked against WASI_SIGNATURES by the tests. */
export function expandedArity(name: WasiFunction): number {
  return KINDS[name].reduce((n, k) => n + (k === 'path' || k === 'iovs' || k === 'buf' ? 2 : 1), 0);
}

/** A symbolic argument, resolved against the case's memory layout when the call is made. */
export type Arg =
  | { t: 'i32'; v: number }
  | { t: 'i64'; v: bigint }
  | { t: 'path'; slot: number }
  | { t: 'iovs'; start: number; count: number }
  | { t: 'pair'; ptr: number; len: number };

export interface Call {
  name: WasiFunction;
  args: Arg[];
}

export interface Subscription {
  userdata: bigint;
  tag: number;
  clockId: number;
  timeout: bigint;
  flags: number;
  fd: number;
}

export interface WasiCase {
  /** Path bytes, one per slot (at most PATH_SLOT - 1 bytes each). */
  paths: Uint8Array[];
  /** iovec entries at IOV, as (ptr, len). */
  iovecs: [number, number][];
  subs: Subscription[];
  /** Seed of the pseudo-random bytes that fill the buffer region. */
  fill: number;
  calls: Call[];
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Pointers and lengths at and around the edges of memory and of the u32 range. */
const EDGE = [MEM_SIZE - 1, MEM_SIZE - 4, MEM_SIZE - 8, MEM_SIZE, MEM_SIZE + 1, 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff];
const edge = fc.constantFrom(...EDGE);
const i32 = (a: fc.Arbitrary<number>): fc.Arbitrary<Arg> => a.map((v) => ({ t: 'i32', v }));

const fdArb = i32(fc.oneof(
  { weight: 5, arbitrary: fc.constant(3) },
  { weight: 3, arbitrary: fc.constantFrom(1, 2, 4) },
  { weight: 4, arbitrary: fc.nat(10) },
  { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 0x80000000, 256, 1024) },
  { weight: 1, arbitrary: u32 },
));
const ptrArb = i32(fc.oneof(
  { weight: 6, arbitrary: fc.nat(127).map((i) => SCRATCH + i * 8) },
  { weight: 1, arbitrary: fc.nat(1023) },
  { weight: 1, arbitrary: edge },
));
const flagsArb = i32(fc.oneof({ weight: 5, arbitrary: fc.nat(15) }, { weight: 2, arbitrary: fc.nat(0xff) }, { weight: 1, arbitrary: u32 }));
const codeArb = i32(fc.oneof({ weight: 5, arbitrary: fc.nat(4) }, { weight: 1, arbitrary: u32 }));
const u64Arb: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 4096n }) },
  { weight: 2, arbitrary: fc.constantFrom(2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), -1n, -4096n) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
).map((v) => ({ t: 'i64', v }));
const rightsArb: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0x1fffffffn) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 0x1fffffffn }) },
  { weight: 1, arbitrary: u64Arb.map((a) => (a as { v: bigint }).v) },
).map((v) => ({ t: 'i64', v }));
const wildPair: fc.Arbitrary<Arg> = fc.record({ ptr: fc.oneof(edge, fc.nat(MEM_SIZE - 1)), len: fc.oneof(edge, fc.nat(MEM_SIZE)) }).map((p) => ({ t: 'pair', ...p }));
const pathArb: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 8, arbitrary: fc.nat(PATH_SLOTS - 1).map((slot): Arg => ({ t: 'path', slot })) },
  { weight: 1, arbitrary: wildPair },
);
const iovsArb: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ start: fc.nat(15), count: fc.nat(4) }).map((r): Arg => ({ t: 'iovs', ...r })) },
  { weight: 1, arbitrary: fc.record({ ptr: fc.oneof(edge, fc.constant(IOV)), len: fc.constantFrom(1025, 8192, 0x20000000, 0xffffffff) }).map((p): Arg => ({ t: 'pair', ...p })) },
  { weight: 1, arbitrary: wildPair },
);
const bufArb: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ ptr: fc.nat(MEM_SIZE - BUF - 1).map((o) => BUF + o), len: fc.oneof(fc.nat(64), fc.nat(4096)) }).map((p): Arg => ({ t: 'pair', ...p })) },
  { weight: 1, arbitrary: wildPair },
);
const subsArb = i32(fc.oneof({ weight: 6, arbitrary: fc.constant(SUBS) }, { weight: 1, arbitrary: edge }));

const KIND_ARB: Record<Kind, fc.Arbitrary<Arg>> = {
  fd: fdArb, ptr: ptrArb, flags: flagsArb, u64: u64Arb, rights: rightsArb, code: codeArb, path: pathArb, iovs: iovsArb, buf: bufArb, subs: subsArb,
};

/** Calls that reach files weigh more; proc_exit ends a sequence, so it is rare. */
const WEIGHT: Partial<Record<WasiFunction, number>> = {
  path_open: 12, fd_read: 4, fd_write: 4, fd_pread: 3, fd_pwrite: 3, fd_readdir: 3, fd_seek: 2, path_create_directory: 2,
  path_filestat_get: 3, path_rename: 2, path_symlink: 2, path_link: 2, path_readlink: 2, path_unlink_file: 2,
  path_remove_directory: 2, path_filestat_set_times: 2, fd_renumber: 0.5, fd_close: 0.5, proc_exit: 0.1,
};
const nameArb: fc.Arbitrary<WasiFunction> = fc.oneof(
  ...AK_WASI_FUNCS.map((n) => ({ weight: Math.round((WEIGHT[n] ?? 1) * 10), arbitrary: fc.constant(n) })),
);

export const callArb: fc.Arbitrary<Call> = nameArb.chain((name) =>
  fc.tuple(...KINDS[name].map((k) => KIND_ARB[k])).map((args): Call => ({ name, args })),
);

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Names in the test tree (fs-tree.ts), dot segments, NUL, non-ASCII and invalid UTF-8. */
const COMPONENTS = [
  'a', 'b', 'f', 'g', 'up', 'upup', 'deep', 'abs', 'in', 'out', 'loop', 'link', 'new', 'n2', 'secret', 'root', 'ro',
  '..', '.', '', 'x\0y', 'é', 'a'.repeat(256),
].map(enc);
COMPONENTS.push(Uint8Array.from([0xff, 0xfe]), Uint8Array.from([0xc0, 0xaf]));

function join(abs: boolean, parts: Uint8Array[]): Uint8Array {
  const out: number[] = abs ? [0x2f] : [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(0x2f);
    out.push(...p);
  });
  return Uint8Array.from(out);
}

export const pathBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('a', 'b', 'a/f', 'f', 'g', 'sub', 'new', 'n2', 'a/new', 'b/in/f', 'new/f', '.', 'link', 'secret', 'b/out', 'a/deep/f').map(enc) },
  { weight: 8, arbitrary: fc.tuple(fc.boolean(), fc.array(fc.constantFrom(...COMPONENTS), { minLength: 1, maxLength: 8 })).map(([abs, parts]) => join(abs, parts)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom('../'.repeat(300), 'a/'.repeat(400), 'up/'.repeat(100) + 'secret').map(enc) },
).map((b) => b.subarray(0, PATH_SLOT - 1));

const subscriptionArb: fc.Arbitrary<Subscription> = fc.record({
  userdata: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  tag: fc.oneof({ weight: 6, arbitrary: fc.nat(2) }, { weight: 1, arbitrary: fc.nat(255) }),
  clockId: fc.oneof(fc.nat(3), u32),
  // mostly short sleeps (ns): a case must stay fast; the run's deadline bounds the rest
  timeout: fc.oneof({ weight: 6, arbitrary: fc.bigInt({ min: 0n, max: 2_000_000n }) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  flags: fc.oneof(fc.nat(1), fc.nat(0xffff)),
  fd: fc.oneof(fc.nat(6), u32),
});

const iovecArb: fc.Arbitrary<[number, number]> = fc.tuple(
  fc.oneof({ weight: 6, arbitrary: fc.nat(MEM_SIZE - BUF - 1).map((o) => BUF + o) }, { weight: 1, arbitrary: edge }),
  fc.oneof({ weight: 6, arbitrary: fc.nat(256) }, { weight: 2, arbitrary: fc.nat(MEM_SIZE - BUF) }, { weight: 1, arbitrary: edge }),
);

export const wasiCaseArb = (maxCalls = 24): fc.Arbitrary<WasiCase> => fc.record({
  paths: fc.array(pathBytesArb, { minLength: PATH_SLOTS, maxLength: PATH_SLOTS }),
  iovecs: fc.array(iovecArb, { minLength: 16, maxLength: 16 }),
  subs: fc.array(subscriptionArb, { maxLength: 4 }),
  fill: fc.nat(),
  calls: fc.array(callArb, { minLength: 1, maxLength: maxCalls, size: 'medium' }),
});

/** The case's memory image (MEM_SIZE bytes). */
export function memoryImage(c: WasiCase): Uint8Array {
  const mem = new Uint8Array(MEM_SIZE);
  const dv = new DataView(mem.buffer);
  c.paths.forEach((p, i) => mem.set(p, STR + i * PATH_SLOT));
  c.subs.forEach((s, i) => {
    const at = SUBS + i * 48;
    dv.setBigUint64(at, s.userdata, true);
    dv.setUint8(at + 8, s.tag);
    if (s.tag === 0) {
      dv.setUint32(at + 16, s.clockId >>> 0, true);
      dv.setBigUint64(at + 24, s.timeout, true);
      dv.setUint16(at + 40, s.flags, true);
    } else {
      dv.setUint32(at + 16, s.fd >>> 0, true);
    }
  });
  c.iovecs.forEach(([p, l], i) => {
    dv.setUint32(IOV + i * 8, p >>> 0, true);
    dv.setUint32(IOV + i * 8 + 4, l >>> 0, true);
  });
  let x = c.fill | 1;
  for (let i = BUF; i < MEM_SIZE; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    mem[i] = x & 0xff;
  }
  return mem;
}

/** A call's arguments as V8 passes them to an import: i32 as number, i64 as (signed) BigInt. */
export function resolveArgs(c: WasiCase, call: Call): (number | bigint)[] {
  const out: (number | bigint)[] = [];
  for (const a of call.args) {
    switch (a.t) {
      case 'i32': out.push(a.v | 0); break;
      case 'i64': out.push(BigInt.asIntN(64, a.v)); break;
      case 'path': out.push(STR + a.slot * PATH_SLOT, c.paths[a.slot]!.byteLength); break;
      case 'iovs': out.push(IOV + a.start * 8, a.count); break;
      case 'pair': out.push(a.ptr | 0, a.len | 0); break;
    }
  }
  return out;
}

/** The parameter types of a WASI function (for encoding raw host-call arguments). */
export function paramTypes(name: WasiFunction): ('i32' | 'i64')[] {
  return WASI_SIGNATURES[name]!.params;
}

/** Human-readable form of a call, for failure messages. */
export function describeCall(c: WasiCase, call: Call): string {
  return `${call.name}(${resolveArgs(c, call).map(String).join(', ')})`;
}
