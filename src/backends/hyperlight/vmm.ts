/**
 * The KVM micro-VM engine, typed: snapshots, VMs and a pool over the native addon (native/vmm, built by
 * scripts/build-native.mjs into build/Release/agentkernel_vmm.node and loaded lazily).
 *
 * Guest memory map (guest-physical == guest-virtual; see native/common/abi.h):
 *
 *   0x0000_0000  host area: GDT 0x1000, page tables 0x2000-0x5fff, TSS + I/O bitmap 0x7000 (guest cannot write
 *                it; page 0 is unmapped so a null pointer faults)
 *   0x0001_0000  struct ak_msg (AK_MSG_SIZE): the only channel between host and guest
 *   0x0020_0000  the guest image (static ELF, PT_LOAD segments at their physical addresses)
 *   ...          guest heap and Wasm linear memory (msg.mem_base / msg.mem_size in every message)
 *   top - 1 MiB  guest stack; RSP = top of memory at every entry
 *
 * Exit protocol: `run()` resolves at the guest's next exit. `out` on an ABI port gives `ready`, `hostcall`,
 * `done`, `trap` or `abort` (the message is in guest memory: `readMsg()`); after a `hostcall` the host writes its
 * reply (`writeReply()`) and calls `run()` again to resume after the `out`. A CPU exception in the guest (no IDT:
 * every exception is a triple fault) is a `fault` with the guest's RIP; anything else is `unexpected`. Both leave
 * the VM stopped until `reset()` or `enter()`. `timeout` and `cancelled` stop the guest where it was: `run()`
 * resumes it, `reset()` discards it.
 *
 * Lifecycle: a guest image becomes a Snapshot (`Snapshot.fromImage`); a VM booted from it runs to READY, where
 * `vm.snapshot()` captures the initialised guest; VMs created from that snapshot map its memory copy-on-write
 * (~0.3 ms), a call is `writeRequest()` + `enter(dispatch)` + `run()`, and `reset()` returns a VM to the snapshot
 * for the next call (written pages restored, registers and FPU state reloaded). `VmPool` keeps reset VMs ready.
 * Runs happen on native runner threads: the event loop never blocks on a guest. A VM disposed after ending
 * cleanly leaves its KVM VM + vCPU for the next VM of the same size (`vmmSetShellCache`); see
 * docs/hyperlight-engine.md for the details and measured costs.
 *
 * Every value read from guest memory is hostile: `readMsg()`, `readMsgData()`, `linearMemory()` and
 * `parseOutputRecords()` validate counts, lengths and addresses and throw GuestProtocolError; the native layer
 * bounds-checks every access again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AbortError, AgentKernelError, ConflictError, UnavailableError, ValidationError,
} from '../../core/errors.js';
import {
  AK_ABI_VERSION, AK_IMAGE_BASE, AK_MAX_ARGS, AK_MAX_RESULTS, AK_MSG_ADDR, MSG, MSG_DATA_CAPACITY, MSG_HEADER_SIZE,
  OUT_RECORD_HEADER, PORT_NAMES, type PortName,
} from './abi.js';

// ---------------------------------------------------------------------------------------------------------------
// The native addon

type Handle = object & { readonly __brand?: 'native-handle' };

interface NativeExit {
  kind: 'port' | 'fault' | 'timeout' | 'cancelled' | 'unexpected';
  port: number;
  value: number;
  rip: bigint;
  kvmReason: number;
  detail: string;
  runNs: number;
}

interface NativeVmm {
  probe(): { ok: boolean; reason?: string; apiVersion: number; syncRegs: number; immediateExit: boolean; vcpuMmapSize: number; kickSignal: number };
  stats(): VmmStats;
  setShellCache(n: number): void;
  setResetCopyLimit(bytes: number): void;
  abiLayout(): Record<string, number>;
  snapshotFromImage(elf: Uint8Array, memSize: number): Handle;
  snapshotInfo(s: Handle): { memSize: number; populated: number; rip: bigint; rsp: bigint };
  snapshotDispose(s: Handle): void;
  vmCreate(s: Handle): Handle;
  vmCreateAsync(s: Handle): Promise<Handle>;
  vmRun(vm: Handle, timeoutMs: number): Promise<NativeExit>;
  vmCancel(vm: Handle): boolean;
  vmReset(vm: Handle): void;
  vmEnter(vm: Handle, rip: number | bigint, opts?: { rsp?: number | bigint; args?: (number | bigint)[] }): void;
  vmSnapshot(vm: Handle): Promise<Handle>;
  vmRead(vm: Handle, addr: number, len: number): Buffer;
  vmWrite(vm: Handle, addr: number, data: Uint8Array): void;
  vmView(vm: Handle, addr: number, len: number): ArrayBuffer;
  vmUnview(vm: Handle): void;
  vmDispose(vm: Handle): Promise<void>;
  vmState(vm: Handle): { disposed: boolean; busy: boolean; stopped: boolean; memSize: number };
}

export const ADDON_NAME = 'agentkernel_vmm.node';

/** The package root: the nearest ancestor of this file holding binding.gyp (works from src/ and dist/src/). */
function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    dir = up;
  }
}

let loaded: { native?: NativeVmm; error?: string; path: string } | undefined;

function loadAddon(): { native?: NativeVmm; error?: string; path: string } {
  if (loaded) return loaded;
  const root = packageDir();
  const path = join(root, 'build', 'Release', ADDON_NAME);
  if (!existsSync(path)) {
    const marker = join(root, 'build', 'native-unavailable.txt');
    const why = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : 'run `node scripts/build-native.mjs` to build it';
    loaded = { path, error: `the native micro-VM engine is not built (${why})` };
    return loaded;
  }
  try {
    loaded = { path, native: createRequire(import.meta.url)(path) as NativeVmm };
  } catch (e) {
    loaded = { path, error: `the native micro-VM engine failed to load: ${(e as Error).message}` };
  }
  return loaded;
}

export interface VmmAvailability {
  available: boolean;
  reason?: string;
  details: Record<string, unknown>;
}

let availability: VmmAvailability | undefined;

/**
 * Whether micro-VMs can run here: Linux x86-64, the addon built and loadable, /dev/kvm present and openable,
 * KVM API version 12 with KVM_CAP_SYNC_REGS and KVM_CAP_IMMEDIATE_EXIT. Cached after the first call.
 */
export function vmmAvailability(): VmmAvailability {
  if (availability) return availability;
  const details: Record<string, unknown> = { platform: `${process.platform}/${process.arch}` };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return (availability = { available: false, reason: `micro-VMs need Linux on x86-64 (this is ${process.platform}/${process.arch})`, details });
  }
  const addon = loadAddon();
  details.addon = addon.path;
  if (!addon.native) return (availability = { available: false, reason: addon.error, details });
  const p = addon.native.probe();
  Object.assign(details, { kvmApiVersion: p.apiVersion, syncRegs: p.syncRegs, immediateExit: p.immediateExit, kickSignal: p.kickSignal });
  if (!p.ok) return (availability = { available: false, reason: p.reason, details });
  return (availability = { available: true, details });
}

function native(): NativeVmm {
  const a = vmmAvailability();
  if (!a.available) throw new UnavailableError(a.reason ?? 'micro-VMs are unavailable', { backend: 'hyperlight' });
  return loadAddon().native!;
}

/** Native errors carry AK_* codes; give callers the project's typed errors. */
function typed(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof AgentKernelError) return e;
  const code = (e as Error & { code?: string }).code;
  switch (code) {
    case 'AK_VALIDATION': return new ValidationError(e.message);
    case 'AK_CONFLICT': return new ConflictError(e.message);
    case 'AK_UNAVAILABLE': return new UnavailableError(e.message, { backend: 'hyperlight' });
    case 'AK_INTERNAL': return new AgentKernelError('INTERNAL', e.message);
    default: return e;
  }
}

function sync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw typed(e);
  }
}

async function later<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw typed(e);
  }
}

/** The C compiler's view of struct ak_msg (for checking abi.ts). */
export function nativeAbiLayout(): Record<string, number> {
  return native().abiLayout();
}

export interface VmmStats {
  /** VMs alive (created and not yet torn down). */
  vms: number;
  /** Snapshots alive (held by a handle or by VMs made from them). */
  snapshots: number;
  /** Runner threads, and how many of them are waiting for work. */
  runners: number;
  runnersIdle: number;
  /** KVM VM + vCPU pairs of disposed VMs kept for reuse by the next VM of the same memory size. */
  shells: number;
  /** Resets so far that copied the written pages back, and that dropped every private page (see vmmSetResetCopyLimit). */
  resetsCopied: number;
  resetsDropped: number;
  /** Pages (4 KiB) copied back by copying resets. */
  pagesRestored: number;
  /** Resets that found the page tables, GDT or TSS written and made KVM rebuild its mappings. */
  slotReloads: number;
}

export function vmmStats(): VmmStats {
  return native().stats();
}

/**
 * Descriptors the engine holds on purpose in this process (two per live VM and per cached shell, one per snapshot),
 * or 0 when it was never loaded: what a leak check must not count as leaked.
 */
export function vmmHeldFds(): number {
  if (!loaded?.native) return 0;
  const s = loaded.native.stats();
  return 2 * (s.vms + s.shells) + s.snapshots;
}

/**
 * How many KVM VM + vCPU pairs ("shells") of disposed VMs are kept for the next VM of the same memory size
 * (default 16, at most 256; 0 turns recycling off). Creating and closing a KVM VM costs ~0.3 ms each here, a
 * recycled one ~10 us; each cached shell holds two fds and ~0.4 MiB of kernel memory. Shrinking closes the
 * surplus on the calling thread (~0.3 ms each). Once every VM and snapshot is disposed, only cached shells
 * remain: setShellCache(0) releases them too.
 */
export function vmmSetShellCache(n: number): void {
  native().setShellCache(n);
}

/**
 * How a reset restores memory. A VM copies back only the pages written since its last reset (KVM's dirty log plus
 * the host's writes) and keeps its private pages and KVM's mappings, so the next run takes no page faults on the
 * pages it touched before; once the pages it keeps would pass `bytes` (default 16 MiB), a reset drops them all
 * instead (every page the next run touches faults in again). 0: every reset drops. Applies to every VM.
 */
export function vmmSetResetCopyLimit(bytes: number): void {
  native().setResetCopyLimit(bytes);
}

// ---------------------------------------------------------------------------------------------------------------
// Errors and exits

/** The guest broke the ABI (a message with impossible counts, lengths or addresses). The host did nothing with it. */
export class GuestProtocolError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('TRAP', `guest protocol violation: ${message}`, details);
  }
}

interface ExitBase {
  /** The guest's instruction pointer when it stopped. */
  rip: bigint;
  /** Time the run took on its runner thread, in nanoseconds. */
  runNs: number;
}

export type VmExit =
  | (ExitBase & { kind: PortName; port: number })
  | (ExitBase & { kind: 'fault'; detail: string })
  | (ExitBase & { kind: 'timeout' | 'cancelled' })
  | (ExitBase & { kind: 'unexpected'; detail: string; kvmReason: number });

function toExit(n: NativeExit): VmExit {
  const base = { rip: n.rip, runNs: n.runNs };
  switch (n.kind) {
    case 'port': {
      const name = PORT_NAMES[n.port];
      if (name) return { ...base, kind: name, port: n.port };
      return { ...base, kind: 'unexpected', detail: `exit on port 0x${n.port.toString(16)}`, kvmReason: n.kvmReason };
    }
    case 'fault': return { ...base, kind: 'fault', detail: n.detail };
    case 'timeout':
    case 'cancelled': return { ...base, kind: n.kind };
    default: return { ...base, kind: 'unexpected', detail: n.detail, kvmReason: n.kvmReason };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

/** struct ak_msg as read from guest memory, validated. */
export interface AkMessage {
  abi: number;
  op: number;
  func: number;
  /** msg.args[0..nargs) */
  args: bigint[];
  /** msg.results[0..nresults) */
  results: bigint[];
  status: number;
  memBase: bigint;
  memSize: bigint;
  dataLen: number;
}

/** A host -> guest request written before entering the dispatch entry. */
export interface AkRequest {
  op: number;
  func?: number;
  args?: readonly (bigint | number)[];
  /** Bytes for msg.data (at most MSG_DATA_CAPACITY). */
  data?: Uint8Array;
}

/** The host's answer to a host call, written before resuming the guest. */
export interface AkReply {
  status: number;
  results?: readonly (bigint | number)[];
  data?: Uint8Array;
}

const u64 = (v: bigint | number): bigint => BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(v));

/** One `ak_out_record` of an AK_HC_FLUSH message. */
export interface OutputRecord {
  fd: number;
  bytes: Uint8Array;
}

/** Splits msg.data of an AK_HC_FLUSH into its records; a record running past the data is a protocol violation. */
export function parseOutputRecords(data: Uint8Array): OutputRecord[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: OutputRecord[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < OUT_RECORD_HEADER) throw new GuestProtocolError('truncated output record header', { offset: at });
    const fd = view.getUint32(at, true);
    const len = view.getUint32(at + 4, true);
    at += OUT_RECORD_HEADER;
    if (len > data.length - at) throw new GuestProtocolError(`output record of ${len} bytes runs past the message data`, { offset: at, len });
    out.push({ fd, bytes: data.subarray(at, at + len) });
    at += len;
  }
  return out;
}

/**
 * The guest's Wasm linear memory, as a message describes it: a window of guest RAM checked to lie inside the
 * VM and above the host area and message. Pointers are offsets into linear memory.
 */
export class GuestLinearMemory {
  constructor(private readonly vm: MicroVm, readonly base: number, readonly size: number) {}

  /** Whether [ptr, ptr + len) lies inside linear memory. */
  inBounds(ptr: number, len: number): boolean {
    return Number.isSafeInteger(ptr) && Number.isSafeInteger(len) && ptr >= 0 && len >= 0 && ptr <= this.size && len <= this.size - ptr;
  }

  private check(ptr: number, len: number): void {
    if (!this.inBounds(ptr, len)) throw new GuestProtocolError(`linear memory access ${ptr}+${len} is out of bounds (size ${this.size})`, { ptr, len, size: this.size });
  }

  read(ptr: number, len: number): Buffer {
    this.check(ptr, len);
    return this.vm.readGuest(this.base + ptr, len);
  }

  write(ptr: number, bytes: Uint8Array): void {
    this.check(ptr, bytes.length);
    this.vm.writeGuest(this.base + ptr, bytes);
  }

  readU32(ptr: number): number {
    return this.read(ptr, 4).readUInt32LE(0);
  }

  readU64(ptr: number): bigint {
    return this.read(ptr, 8).readBigUInt64LE(0);
  }

  /**
   * Calls fn with a zero-copy view of the whole linear memory. The view is detached when fn returns (and by any
   * run, reset or dispose of the VM), so it can never reach memory the VM no longer maps.
   */
  withView<T>(fn: (memory: Uint8Array) => T): T {
    return this.vm.withView(this.base, this.size, fn);
  }

  writeU32(ptr: number, v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.write(ptr, b);
  }

  writeU64(ptr: number, v: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    this.write(ptr, b);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshots and VMs

export interface ImageOptions {
  /** Guest memory in bytes: a multiple of 2 MiB, 4 MiB to 1 GiB. */
  memSize: number;
}

/** Guest memory (a sealed memfd) plus vCPU state; VMs made from it map the memory copy-on-write. */
export class Snapshot {
  readonly memSize: number;
  /** Bytes of memory that hold data (the rest reads as zero and costs nothing). */
  readonly populatedBytes: number;
  /** RIP and RSP the vCPU resumes at. */
  readonly rip: bigint;
  readonly rsp: bigint;
  #handle: Handle | undefined;

  private constructor(handle: Handle) {
    this.#handle = handle;
    const info = sync(() => native().snapshotInfo(handle));
    this.memSize = info.memSize;
    this.populatedBytes = info.populated;
    this.rip = info.rip;
    this.rsp = info.rsp;
  }

  /** @internal */
  static fromHandle(handle: Handle): Snapshot {
    return new Snapshot(handle);
  }

  /**
   * A static ELF guest image loaded into fresh memory, with the vCPU at its entry point in long mode at CPL3
   * (RSP = top of memory, RDI = memory size). The image is validated: segments must lie between AK_IMAGE_BASE and
   * the guest stack, inside the file, without overlapping.
   */
  static fromImage(elf: Uint8Array, opts: ImageOptions): Snapshot {
    const n = native();
    return new Snapshot(sync(() => n.snapshotFromImage(elf, opts.memSize)));
  }

  get disposed(): boolean {
    return this.#handle === undefined;
  }

  /** @internal */
  handle(): Handle {
    if (!this.#handle) throw new ConflictError('the snapshot has been disposed');
    return this.#handle;
  }

  /** A new VM in this state, created on the calling thread (~10 us with a recycled KVM VM, ~0.4 ms without). */
  createVm(): MicroVm {
    const h = this.handle();
    return new MicroVm(sync(() => native().vmCreate(h)), this);
  }

  /** A new VM in this state, created on a runner thread. */
  async createVmAsync(): Promise<MicroVm> {
    const h = this.handle();
    return new MicroVm(await later(() => native().vmCreateAsync(h)), this);
  }

  /** Releases this handle's memory; VMs already made from it keep working. */
  dispose(): void {
    if (!this.#handle) return;
    const h = this.#handle;
    this.#handle = undefined;
    native().snapshotDispose(h);
  }
}

export interface RunOptions {
  /** Stop the guest after this many milliseconds (exit `timeout`); 0 or absent: no limit. */
  timeoutMs?: number;
  /** Aborting stops the guest (exit `cancelled`). */
  signal?: AbortSignal;
}

export interface EnterOptions {
  /** Stack pointer (default: top of guest memory). */
  rsp?: number | bigint;
  /** Up to four arguments in RDI, RSI, RDX, RCX. */
  args?: (number | bigint)[];
}

/** One micro-VM: a KVM VM with one vCPU running at CPL3 over copy-on-write snapshot memory. */
export class MicroVm {
  readonly memSize: number;
  #lastExit: VmExit | undefined;
  #handle: Handle;
  #inflight: Promise<unknown> | undefined;
  #disposing: Promise<void> | undefined;

  /** @internal use Snapshot.createVm() or MicroVm.boot() */
  constructor(handle: Handle, readonly origin: Snapshot) {
    this.#handle = handle;
    this.memSize = origin.memSize;
  }

  /** A VM at the entry point of a guest image (the image's snapshot handle is released; the VM keeps its memory). */
  static boot(elf: Uint8Array, opts: ImageOptions): MicroVm {
    const snap = Snapshot.fromImage(elf, opts);
    try {
      return snap.createVm();
    } finally {
      snap.dispose();
    }
  }

  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /** The last exit of a run (undefined before the first run and after reset/enter). */
  get lastExit(): VmExit | undefined {
    return this.#lastExit;
  }

  /** True while a run or snapshot is in progress. */
  get busy(): boolean {
    return this.#inflight !== undefined;
  }

  /** True after a fault or unexpected exit, until reset() or enter(). */
  get stopped(): boolean {
    return !this.disposed && sync(() => native().vmState(this.#handle)).stopped;
  }

  #live(): Handle {
    if (this.#disposing) throw new ConflictError('the VM has been disposed');
    return this.#handle;
  }

  #idle(): Handle {
    const h = this.#live();
    if (this.#inflight) throw new ConflictError('the VM is busy (a run or snapshot is in progress)');
    return h;
  }

  #track<T>(p: Promise<T>): Promise<T> {
    const done = p.finally(() => {
      if (this.#inflight === done) this.#inflight = undefined;
    });
    this.#inflight = done;
    return done;
  }

  /** Runs the guest until its next exit. One run at a time per VM. */
  async run(opts: RunOptions = {}): Promise<VmExit> {
    const h = this.#idle();
    if (opts.signal?.aborted) throw new AbortError();
    const timeout = opts.timeoutMs ?? 0;
    if (!Number.isInteger(timeout) || timeout < 0) throw new ValidationError(`timeoutMs must be a non-negative integer, got ${timeout}`);
    const n = native();
    const p = this.#track(later(() => n.vmRun(h, timeout)));
    const onAbort = () => n.vmCancel(h);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const exit = toExit(await p);
      this.#lastExit = exit;
      return exit;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Stops the run in progress (it resolves with `cancelled`). False if nothing was running. */
  cancel(): boolean {
    if (this.#disposing) return false;
    return native().vmCancel(this.#handle);
  }

  /** Back to the snapshot this VM was made from: memory, registers and FPU state. */
  reset(): void {
    const h = this.#live();
    sync(() => native().vmReset(h));
    this.#lastExit = undefined;
  }

  /** The next run starts at `rip` with a fresh CPL3 register file (RSP = top of memory unless given). */
  enter(rip: number | bigint, opts: EnterOptions = {}): void {
    const h = this.#live();
    if (opts.args && opts.args.length > 4) throw new ValidationError('at most 4 entry arguments');
    sync(() => native().vmEnter(h, rip, { rsp: opts.rsp, args: opts.args }));
    this.#lastExit = undefined;
  }

  /** The VM's current memory and vCPU state as a new snapshot (memory is copied: only pages holding data). */
  async snapshot(): Promise<Snapshot> {
    const h = this.#idle();
    const n = native();
    return this.#track(later(() => n.vmSnapshot(h)).then((s) => Snapshot.fromHandle(s)));
  }

  /** Copies guest memory [addr, addr + len) out. Only while the VM is not running. */
  readGuest(addr: number, len: number): Buffer {
    const h = this.#live();
    return sync(() => native().vmRead(h, addr, len));
  }

  /** Copies bytes into guest memory at addr (at or above the message area). Only while the VM is not running. */
  writeGuest(addr: number, bytes: Uint8Array): void {
    const h = this.#live();
    sync(() => native().vmWrite(h, addr, bytes));
  }

  /**
   * Calls fn with a zero-copy view of guest memory [addr, addr + len) (at or above the message area), only while
   * the VM is not running. The view is detached when fn returns, and by run/reset/dispose, whatever fn kept.
   */
  withView<T>(addr: number, len: number, fn: (memory: Uint8Array) => T): T {
    const h = this.#idle();
    const n = native();
    const view = new Uint8Array(sync(() => n.vmView(h, addr, len)));
    try {
      return fn(view);
    } finally {
      n.vmUnview(h);
    }
  }

  /** The message the guest left at its last exit, validated. */
  readMsg(): AkMessage {
    const b = this.readGuest(AK_MSG_ADDR, MSG_HEADER_SIZE);
    const abi = b.readUInt32LE(MSG.abi);
    if (abi !== AK_ABI_VERSION) throw new GuestProtocolError(`ABI version ${abi}, expected ${AK_ABI_VERSION}`, { field: 'abi', value: abi });
    const nargs = b.readUInt32LE(MSG.nargs);
    if (nargs > AK_MAX_ARGS) throw new GuestProtocolError(`nargs ${nargs} exceeds ${AK_MAX_ARGS}`, { field: 'nargs', value: nargs });
    const nresults = b.readUInt32LE(MSG.nresults);
    if (nresults > AK_MAX_RESULTS) throw new GuestProtocolError(`nresults ${nresults} exceeds ${AK_MAX_RESULTS}`, { field: 'nresults', value: nresults });
    const dataLen = b.readUInt32LE(MSG.dataLen);
    if (dataLen > MSG_DATA_CAPACITY) throw new GuestProtocolError(`data_len ${dataLen} exceeds the ${MSG_DATA_CAPACITY}-byte data area`, { field: 'data_len', value: dataLen });
    const args: bigint[] = [];
    for (let i = 0; i < nargs; i++) args.push(b.readBigUInt64LE(MSG.args + 8 * i));
    const results: bigint[] = [];
    for (let i = 0; i < nresults; i++) results.push(b.readBigUInt64LE(MSG.results + 8 * i));
    return {
      abi,
      op: b.readUInt32LE(MSG.op),
      func: b.readUInt32LE(MSG.func),
      args,
      results,
      status: b.readInt32LE(MSG.status),
      memBase: b.readBigUInt64LE(MSG.memBase),
      memSize: b.readBigUInt64LE(MSG.memSize),
      dataLen,
    };
  }

  /** msg.data[0, data_len) of a validated message. */
  readMsgData(msg: AkMessage): Buffer {
    return this.readGuest(AK_MSG_ADDR + MSG.data, msg.dataLen);
  }

  /** The linear memory a message reports, checked to lie inside guest RAM above the message area. */
  linearMemory(msg: AkMessage): GuestLinearMemory {
    const lo = BigInt(AK_IMAGE_BASE);
    const hi = BigInt(this.memSize);
    if (msg.memBase < lo || msg.memBase > hi || msg.memSize > hi - msg.memBase) {
      throw new GuestProtocolError(`linear memory 0x${msg.memBase.toString(16)}+${msg.memSize} lies outside guest RAM above the image base`, {
        memBase: msg.memBase.toString(), memSize: msg.memSize.toString(),
      });
    }
    return new GuestLinearMemory(this, Number(msg.memBase), Number(msg.memSize));
  }

  /** Writes a fresh request header (and data) for the guest's dispatch entry. */
  writeRequest(req: AkRequest): void {
    const args = req.args ?? [];
    if (args.length > AK_MAX_ARGS) throw new ValidationError(`at most ${AK_MAX_ARGS} arguments, got ${args.length}`);
    const data = req.data ?? new Uint8Array(0);
    if (data.length > MSG_DATA_CAPACITY) throw new ValidationError(`request data of ${data.length} bytes exceeds ${MSG_DATA_CAPACITY}`);
    const b = Buffer.alloc(MSG_HEADER_SIZE + data.length);
    b.writeUInt32LE(AK_ABI_VERSION, MSG.abi);
    b.writeUInt32LE(req.op >>> 0, MSG.op);
    b.writeUInt32LE((req.func ?? 0) >>> 0, MSG.func);
    b.writeUInt32LE(args.length, MSG.nargs);
    args.forEach((a, i) => b.writeBigUInt64LE(u64(a), MSG.args + 8 * i));
    b.writeUInt32LE(data.length, MSG.dataLen);
    b.set(data, MSG.data);
    this.writeGuest(AK_MSG_ADDR, b);
  }

  /** Writes the host's answer to a host call (status, and results/data when given). */
  writeReply(reply: AkReply): void {
    const results = reply.results;
    if (results && results.length > AK_MAX_RESULTS) throw new ValidationError(`at most ${AK_MAX_RESULTS} results, got ${results.length}`);
    if (reply.data && reply.data.length > MSG_DATA_CAPACITY) throw new ValidationError(`reply data of ${reply.data.length} bytes exceeds ${MSG_DATA_CAPACITY}`);
    // results .. status are contiguous: one write covers them
    const b = Buffer.alloc(MSG.status + 4 - MSG.results);
    if (results) {
      results.forEach((r, i) => b.writeBigUInt64LE(u64(r), 8 * i));
      b.writeUInt32LE(results.length, MSG.nresults - MSG.results);
      this.writeGuest(AK_MSG_ADDR + MSG.results, b.subarray(0, MSG.status - MSG.results));
    }
    b.writeInt32LE(reply.status | 0, MSG.status - MSG.results);
    this.writeGuest(AK_MSG_ADDR + MSG.status, b.subarray(MSG.status - MSG.results));
    if (reply.data) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(reply.data.length);
      this.writeGuest(AK_MSG_ADDR + MSG.dataLen, len);
      this.writeGuest(AK_MSG_ADDR + MSG.data, reply.data);
    }
  }

  /**
   * Tears the VM down on a runner thread (every fd closed, memory unmapped). A run in progress is cancelled
   * first. Idempotent; every later call on this VM throws ConflictError.
   */
  dispose(): Promise<void> {
    if (this.#disposing) return this.#disposing;
    const h = this.#handle;
    const n = loadAddon().native!;
    const pending = this.#inflight;
    if (pending) n.vmCancel(h);
    this.#disposing = (async () => {
      if (pending) await pending.catch(() => undefined);
      await later(() => n.vmDispose(h));
    })();
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pool

export interface VmPoolOptions {
  /** Most VMs kept idle (reset) for reuse; more are disposed on release. @default 8 */
  maxIdle?: number;
  /** Idle VMs the pool keeps ready, created in the background after each acquire. @default 0 */
  minIdle?: number;
  /** Most VMs alive at once (idle + in use + being created); acquire waits beyond it. @default 64 */
  maxVms?: number;
}

export interface VmPoolStats {
  idle: number;
  inUse: number;
  creating: number;
  created: number;
  reused: number;
  discarded: number;
  waiting: number;
}

/**
 * VMs of one snapshot, ready to use: acquire() hands out an idle VM (or creates one off the main thread);
 * release() resets it back to the snapshot and keeps it for the next caller. A VM that faulted, ended with an
 * unexpected exit, or is still running is disposed instead of reused.
 */
export class VmPool {
  readonly maxIdle: number;
  readonly minIdle: number;
  readonly maxVms: number;
  #idle: MicroVm[] = [];
  #inUse = new Set<MicroVm>();
  #creating = 0;
  #waiters: { resolve: (vm: MicroVm) => void; reject: (e: unknown) => void }[] = [];
  #closed = false;
  #stats = { created: 0, reused: 0, discarded: 0 };
  /** The last error of a background creation (prewarming), if any. */
  lastError: unknown;

  constructor(readonly snapshot: Snapshot, opts: VmPoolOptions = {}) {
    this.maxIdle = opts.maxIdle ?? 8;
    this.minIdle = Math.min(opts.minIdle ?? 0, this.maxIdle);
    this.maxVms = opts.maxVms ?? 64;
    for (const [k, v] of Object.entries({ maxIdle: this.maxIdle, minIdle: this.minIdle, maxVms: this.maxVms })) {
      if (!Number.isInteger(v) || v < 0) throw new ValidationError(`VmPool ${k} must be a non-negative integer`);
    }
    if (this.maxVms < 1) throw new ValidationError('VmPool maxVms must be at least 1');
    this.#refill();
  }

  get stats(): VmPoolStats {
    return { idle: this.#idle.length, inUse: this.#inUse.size, creating: this.#creating, waiting: this.#waiters.length, ...this.#stats };
  }

  get #alive(): number {
    return this.#idle.length + this.#inUse.size + this.#creating;
  }

  async #create(): Promise<MicroVm> {
    this.#creating++;
    try {
      const vm = await this.snapshot.createVmAsync();
      this.#stats.created++;
      return vm;
    } finally {
      this.#creating--;
    }
  }

  /** Creates VMs in the background until minIdle are idle. */
  #refill(): void {
    while (!this.#closed && this.#idle.length + this.#creating < this.minIdle && this.#alive < this.maxVms) {
      this.#create().then(
        (vm) => this.#putIdle(vm),
        (e) => {
          this.lastError = e;
        },
      );
    }
  }

  #putIdle(vm: MicroVm): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#inUse.add(vm);
      waiter.resolve(vm);
    } else if (!this.#closed && this.#idle.length < this.maxIdle) {
      this.#idle.push(vm);
    } else {
      this.#stats.discarded++;
      void vm.dispose();
    }
  }

  /** A VM in the snapshot's state, for the caller's exclusive use until release(). */
  async acquire(signal?: AbortSignal): Promise<MicroVm> {
    if (this.#closed) throw new ConflictError('the VM pool is closed');
    if (signal?.aborted) throw new AbortError();
    const idle = this.#idle.pop();
    if (idle) {
      this.#stats.reused++;
      this.#inUse.add(idle);
      this.#refill();
      return idle;
    }
    if (this.#alive < this.maxVms) {
      const vm = await this.#create();
      if (this.#closed) {
        void vm.dispose();
        throw new ConflictError('the VM pool is closed');
      }
      this.#inUse.add(vm);
      this.#refill();
      return vm;
    }
    return new Promise<MicroVm>((resolve, reject) => {
      const waiter = {
        resolve: (vm: MicroVm) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(vm);
        },
        reject,
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new AbortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Returns a VM: reset for reuse, or disposed if it cannot be trusted or the pool is full. */
  release(vm: MicroVm): void {
    if (!this.#inUse.delete(vm)) throw new ValidationError('this VM does not belong to the pool (or was already released)');
    const kind = vm.lastExit?.kind;
    if (vm.disposed || vm.busy || kind === 'fault' || kind === 'unexpected' || kind === 'abort') {
      this.#discard(vm);
      return;
    }
    try {
      vm.reset();
    } catch {
      this.#discard(vm);
      return;
    }
    this.#putIdle(vm);
  }

  /** Disposes a VM taken from the pool instead of returning it. */
  discard(vm: MicroVm): void {
    if (!this.#inUse.delete(vm)) throw new ValidationError('this VM does not belong to the pool (or was already released)');
    this.#discard(vm);
  }

  #discard(vm: MicroVm): void {
    this.#stats.discarded++;
    void vm.dispose();
    // room for one more VM: the first waiter gets a new one
    if (this.#waiters.length > 0 && !this.#closed && this.#alive < this.maxVms) {
      this.#create().then((v) => this.#putIdle(v), (e) => this.#waiters.shift()?.reject(e));
    }
    this.#refill();
  }

  /** Disposes the idle VMs and refuses new acquisitions; VMs in use are disposed when released. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(new ConflictError('the VM pool is closed'));
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((vm) => vm.dispose()));
  }
}
