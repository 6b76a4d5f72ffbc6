/**
 * Fuzzed surface: the micro-VM host-call interface. A real KVM guest (test/fixtures/guests/fuzz.c) replays a
 * script of raw messages the fuzzer wrote (every header field, the message data, the exit port, CPU faults and a
 * spinning guest), and the backend's own dispatcher (`callVm`: the same code path as every hyperlight call, with
 * the shared WASI layer and real preopens) serves them. Most messages are well-formed WASI host calls with fuzzed
 * arguments over a linear memory holding the fuzzed case; the rest break the ABI on purpose.
 *
 * Invariants: a call ends in an outcome or a typed AgentKernelError, within its timeout; the marker of files
 * outside the preopens never reaches guest memory or output; nothing outside the writable preopen changes; the
 * same VM, reset, still serves a normal call.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AgentKernelError } from '../../src/core/errors.js';
import {
  AK_ABI_VERSION, AK_HC_FLUSH, AK_HC_WASI_BASE, AK_IMAGE_BASE, AK_MSG_ADDR, AK_PORT_ABORT, AK_PORT_DONE, AK_PORT_HOSTCALL,
  AK_PORT_READY, AK_PORT_TRAP, AK_WASI_FUNCS, MSG, MSG_DATA_CAPACITY, MSG_HEADER_SIZE,
} from '../../src/backends/hyperlight/abi.js';
import type { CompiledGuest } from '../../src/backends/hyperlight/compile.js';
import { callVm, GuestImage, type CallContext } from '../../src/backends/hyperlight/sandbox.js';
import type { MicroVm } from '../../src/backends/hyperlight/vmm.js';
import { compileWat, inspectModule } from '../../src/runtimes/wasm/module.js';
import { bootToReady, cleanupGuests, skipReason } from '../hyperlight-vmm/helpers.js';
import { makeTree, type FuzzTree } from './fs-tree.js';
import type { FuzzSurface, OpenSurface } from './runner.js';
import { Tally, within } from './runner.js';
import { BoundedSink } from './wasi-surface.js';
import { callArb, memoryImage, paramTypes, resolveArgs, wasiCaseArb, BUF, MEM_SIZE, type Call, type WasiCase } from './wasi-gen.js';

const MiB = 1024 * 1024;
const VM_MEM = 16 * MiB;
/** Where fuzz.c reads its script, and where the fuzzed linear memory lies. */
const SCRIPT_ADDR = AK_IMAGE_BASE + 0x200000;
const SCRIPT_MAX = 0x100000;
const LM_BASE = AK_IMAGE_BASE + 0x400000;
const FUZZ_UD2 = 0x10000;
const FUZZ_SPIN = 0x10001;
const FUZZ_HOST_WRITE = 0x10002;
/** A fuzzed call's time limit: long enough for a normal script, short for a guest that spins or sleeps. */
const CALL_TIMEOUT_MS = 250;

type Field = 'abi' | 'func' | 'nargs' | 'nresults' | 'status' | 'memBase' | 'memSize' | 'dataLen' | 'arg';
interface Mutation {
  field: Field;
  value: bigint;
  index: number;
}

type Entry =
  | { t: 'wasi'; call: Call; garbage: bigint; muts: Mutation[] }
  | { t: 'flush'; records: { fd: number; lie: number; bytes: Uint8Array }[]; muts: Mutation[] }
  | { t: 'raw'; port: number; header: Uint8Array; data: Uint8Array }
  | { t: 'end'; port: number; status: number; text: Uint8Array; muts: Mutation[] };

export interface HostcallCase {
  wasi: WasiCase;
  entries: Entry[];
}

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const FIELD_VALUES: Record<Field, bigint[]> = {
  abi: [0n, 2n, 0xdeadn, 0xffffffffn],
  func: [0n, 1n, 2n, 0xffn, BigInt(AK_HC_WASI_BASE - 1), BigInt(AK_HC_WASI_BASE + AK_WASI_FUNCS.length), 0x7fffffffn, 0xffffffffn],
  nargs: [0n, 1n, 15n, 16n, 17n, 1000n, 0xffffffffn],
  nresults: [0n, 8n, 9n, 0xffffffffn],
  status: [0n, -1n, 0x7fffffffn],
  memBase: [0n, BigInt(AK_MSG_ADDR), BigInt(AK_IMAGE_BASE), BigInt(SCRIPT_ADDR), BigInt(VM_MEM - MEM_SIZE), BigInt(VM_MEM - 1), BigInt(VM_MEM), BigInt(VM_MEM + 4096), 2n ** 63n, 2n ** 64n - 1n],
  memSize: [0n, 1n, BigInt(MEM_SIZE - 1), BigInt(VM_MEM), BigInt(VM_MEM - LM_BASE), 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n],
  dataLen: [1n, 7n, 8n, BigInt(MSG_DATA_CAPACITY), BigInt(MSG_DATA_CAPACITY + 1), 0xffffffffn],
  arg: [0n, 0xffffffffn, 0x100000000n, 2n ** 63n, 2n ** 64n - 1n, BigInt(MEM_SIZE), BigInt(VM_MEM)],
};
const FIELDS = Object.keys(FIELD_VALUES) as Field[];

const mutationArb: fc.Arbitrary<Mutation> = fc.constantFrom(...FIELDS).chain((field) =>
  fc.record({
    field: fc.constant(field),
    value: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FIELD_VALUES[field]) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
    index: fc.nat(15),
  }),
);
const mutsArb = fc.oneof({ weight: 4, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 1, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) });

const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      t: fc.constant('wasi' as const),
      call: callArb,
      // bits above an i32 argument's 32 (the host must ignore them)
      garbage: fc.oneof({ weight: 5, arbitrary: fc.constant(0n) }, { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 2n ** 32n - 1n }) }),
      muts: mutsArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('flush' as const),
      records: fc.array(fc.record({
        fd: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) }),
        lie: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -8, max: 0xffff }) }),
        bytes: fc.uint8Array({ maxLength: 64 }),
      }), { maxLength: 4 }),
      muts: mutsArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('raw' as const),
      port: fc.oneof(fc.constantFrom(AK_PORT_HOSTCALL, AK_PORT_DONE, AK_PORT_TRAP, AK_PORT_ABORT, AK_PORT_READY), fc.nat(0xffff)),
      header: fc.uint8Array({ minLength: MSG_HEADER_SIZE, maxLength: MSG_HEADER_SIZE }),
      data: fc.uint8Array({ maxLength: 64 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('end' as const),
      port: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(AK_PORT_DONE, AK_PORT_TRAP, AK_PORT_ABORT, AK_PORT_READY, 0xa5, 0x3f8, 0x80, FUZZ_UD2, FUZZ_HOST_WRITE) },
        { weight: 1, arbitrary: fc.constant(FUZZ_SPIN) },
      ),
      status: fc.oneof(fc.nat(12), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      text: fc.uint8Array({ maxLength: 32 }),
      muts: mutsArb,
    }),
  },
);

export const hostcallCaseArb: fc.Arbitrary<HostcallCase> = fc.record({
  wasi: wasiCaseArb(1),
  entries: fc.array(entryArb, { minLength: 1, maxLength: 12, size: 'medium' }),
});

/** A header as the guest would leave it: ABI version, function, arguments, linear memory at LM_BASE. */
function header(func: number, args: bigint[], dataLen: number, status = 0): Buffer {
  const h = Buffer.alloc(MSG_HEADER_SIZE);
  h.writeUInt32LE(AK_ABI_VERSION, MSG.abi);
  h.writeUInt32LE(func, MSG.func);
  h.writeUInt32LE(args.length, MSG.nargs);
  args.forEach((a, i) => h.writeBigUInt64LE(u64(a), MSG.args + 8 * i));
  h.writeInt32LE(status | 0, MSG.status);
  h.writeBigUInt64LE(BigInt(LM_BASE), MSG.memBase);
  h.writeBigUInt64LE(BigInt(MEM_SIZE), MSG.memSize);
  h.writeUInt32LE(dataLen, MSG.dataLen);
  return h;
}

function mutate(h: Buffer, muts: Mutation[]): void {
  for (const m of muts) {
    const v32 = Number(m.value & 0xffffffffn);
    switch (m.field) {
      case 'abi': h.writeUInt32LE(v32, MSG.abi); break;
      case 'func': h.writeUInt32LE(v32, MSG.func); break;
      case 'nargs': h.writeUInt32LE(v32, MSG.nargs); break;
      case 'nresults': h.writeUInt32LE(v32, MSG.nresults); break;
      case 'status': h.writeUInt32LE(v32, MSG.status); break;
      case 'dataLen': h.writeUInt32LE(v32, MSG.dataLen); break;
      case 'memBase': h.writeBigUInt64LE(m.value, MSG.memBase); break;
      case 'memSize': h.writeBigUInt64LE(m.value, MSG.memSize); break;
      case 'arg': h.writeBigUInt64LE(m.value, MSG.args + 8 * m.index); break;
    }
  }
}

function encodeEntry(c: WasiCase, e: Entry): { port: number; header: Uint8Array; data: Uint8Array } {
  switch (e.t) {
    case 'wasi': {
      const types = paramTypes(e.call.name);
      const bits = resolveArgs(c, e.call).map((v, i) => (types[i] === 'i64' ? u64(BigInt(v)) : BigInt(Number(v) >>> 0) | (e.garbage << 32n)));
      const h = header(AK_HC_WASI_BASE + AK_WASI_FUNCS.indexOf(e.call.name), bits, 0);
      mutate(h, e.muts);
      return { port: AK_PORT_HOSTCALL, header: h, data: new Uint8Array(0) };
    }
    case 'flush': {
      const parts: Buffer[] = [];
      for (const r of e.records) {
        const rec = Buffer.alloc(8);
        rec.writeUInt32LE(r.fd >>> 0, 0);
        rec.writeUInt32LE((r.bytes.byteLength + r.lie) >>> 0, 4);
        parts.push(rec, Buffer.from(r.bytes));
      }
      const data = Buffer.concat(parts);
      const h = header(AK_HC_FLUSH, [], data.byteLength);
      mutate(h, e.muts);
      return { port: AK_PORT_HOSTCALL, header: h, data };
    }
    case 'raw':
      return { port: e.port, header: e.header, data: e.data };
    case 'end': {
      const h = header(0, [], e.text.byteLength, e.status);
      mutate(h, e.muts);
      return { port: e.port, header: h, data: e.text };
    }
  }
}

/** The script fuzz.c replays: u32 count, then { u32 port; u32 len; header; data } per entry. */
export function encodeScript(entries: { port: number; header: Uint8Array; data: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32LE(entries.length);
  for (const e of entries) {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(e.port >>> 0, 0);
    head.writeUInt32LE(e.data.byteLength, 4);
    parts.push(head, Buffer.from(e.header), Buffer.from(e.data));
  }
  const script = Buffer.concat(parts);
  if (script.byteLength > SCRIPT_MAX) throw new Error('script too large');
  return script;
}

/** A normal call: one flush of "ok\n" and one WASI fd_write of "wasi-ok\n" served by the host. */
function healthScript(): { script: Buffer; memory: Uint8Array } {
  const memory = new Uint8Array(MEM_SIZE);
  const dv = new DataView(memory.buffer);
  memory.set(Buffer.from('wasi-ok\n'), BUF);
  dv.setUint32(64, BUF, true);
  dv.setUint32(68, 8, true);
  const rec = Buffer.alloc(8);
  rec.writeUInt32LE(1, 0);
  rec.writeUInt32LE(3, 4);
  const flush = Buffer.concat([rec, Buffer.from('ok\n')]);
  const script = encodeScript([
    { port: AK_PORT_HOSTCALL, header: header(AK_HC_FLUSH, [], flush.byteLength), data: flush },
    { port: AK_PORT_HOSTCALL, header: header(AK_HC_WASI_BASE + AK_WASI_FUNCS.indexOf('fd_write'), [1n, 64n, 1n, 128n], 0), data: new Uint8Array(0) },
  ]);
  return { script, memory };
}

/** A GuestImage over the fuzz guest, so that callVm (the backend's dispatcher) drives it like a compiled module. */
async function fuzzImage(): Promise<GuestImage> {
  const ready = await bootToReady('fuzz', VM_MEM);
  const info = inspectModule(await compileWat('(module (memory 1) (func (export "_start")))'));
  const guest = { hasStart: true, hasInitialize: false, exports: [] } as unknown as CompiledGuest;
  return new GuestImage({ guest, info, elf: new Uint8Array(0) }, VM_MEM / MiB, ready.snapshot, ready.dispatch, MEM_SIZE, { output: [] });
}

async function runScript(vm: MicroVm, image: GuestImage, tree: FuzzTree, script: Buffer, memory: Uint8Array, timeoutMs: number) {
  vm.reset();
  vm.writeGuest(SCRIPT_ADDR, script);
  vm.writeGuest(LM_BASE, memory);
  const out = new BoundedSink();
  const ctx: CallContext = { env: { A: 'b' }, stdin: Buffer.from('stdin bytes\n'), mounts: tree.mounts, timeoutMs, out };
  try {
    const r = await within(callVm(vm, image, { op: 'start', programName: 'fuzz', args: [] }, ctx), timeoutMs + 15_000, 'a fuzzed micro-VM call');
    return { outcome: r.outcome, out };
  } catch (e) {
    // INTERNAL is the guest reporting its own runtime as broken (AK_PORT_ABORT); from anywhere else it is a host bug
    if (e instanceof AgentKernelError && (e.code !== 'INTERNAL' || e.message.startsWith('the micro-VM guest runtime aborted'))) return { error: e, out };
    throw e;
  }
}

export const hostcallSurface: FuzzSurface = {
  name: 'hostcall',
  ciRuns: 200,
  async open(): Promise<OpenSurface | { skip: string }> {
    const why = await skipReason();
    if (why) return { skip: why };
    const image = await fuzzImage();
    const vm = image.snapshot!.createVm();
    const tree = makeTree();
    const before = tree.snapshot();
    const health = healthScript();
    const tally = new Tally();
    const healthy = async (): Promise<void> => {
      const r = await runScript(vm, image, tree, health.script, health.memory, 10_000);
      assert.equal(r.error, undefined, `the VM no longer serves a normal call: ${String(r.error)}`);
      assert.equal(r.outcome?.exitCode, 0);
      assert.equal(r.out.text().toString(), 'ok\nwasi-ok\n');
    };
    return {
      property: fc.asyncProperty(hostcallCaseArb, async (c) => {
        tree.reset();
        const script = encodeScript(c.entries.map((e) => encodeEntry(c.wasi, e)));
        const r = await runScript(vm, image, tree, script, memoryImage(c.wasi), CALL_TIMEOUT_MS);
        tally.add(r.error ? `error ${r.error.code}` : `exit ${r.outcome!.exitCode}`);
        if (r.outcome) assert.ok(Number.isInteger(r.outcome.exitCode) && r.outcome.exitCode >= 0 && r.outcome.exitCode <= 255, `exit code ${r.outcome.exitCode}`);
        assert.equal(r.out.text().indexOf(tree.marker), -1, 'a file outside the preopens reached guest output');
        const leaked = vm.withView(AK_MSG_ADDR, VM_MEM - AK_MSG_ADDR, (m) => Buffer.from(m.buffer, m.byteOffset, m.byteLength).indexOf(tree.marker));
        assert.equal(leaked, -1, 'a file outside the preopens reached guest memory');
        assert.equal(tree.snapshot(), before, 'something outside the writable preopen changed');
        await healthy();
      }),
      async healthy() {
        await healthy();
        // the generator must reach every way a call can end: normal exits, guest traps and faults, refusals
        if (tally.total() < 100) return;
        for (const kind of ['exit 0', 'exit 134', 'error TRAP']) assert.ok(tally.get(kind) > 0, `no "${kind}" in ${tally.total()} calls: ${JSON.stringify(tally.counts)}`);
      },
      stats: () => tally.counts,
      async close() {
        await vm.dispose();
        await image.close();
        tree.remove();
        await cleanupGuests();
      },
    };
  },
};
