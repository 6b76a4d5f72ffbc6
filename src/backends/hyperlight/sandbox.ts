/**
 * Running Wasm calls in micro-VMs: a module is compiled into a guest image once, booted once per memory size to
 * READY and snapshotted there (a GuestImage); each call drives a VM made from that snapshot through its host
 * calls (WASI, buffered output) to its end, which becomes the same RuntimeOutcome the V8 executor gives.
 *
 * `MicroVmSandbox` is the stateful, public face of the same machinery: one VM kept across calls (globals and
 * memory persist, as in one WebAssembly instance), which can be snapshotted and forked.
 *
 * WASI runs on the host (the one shared implementation) directly on the guest's linear memory: a zero-copy view
 * the engine hands out for one host call and detaches right after (and on any run, reset or dispose), so
 * JavaScript never holds a pointer into memory the VM no longer maps.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AbortError, AgentKernelError, NotFoundError, ValidationError } from '../../core/errors.js';
import { EXIT, type Mount, type TrapKind } from '../../core/types.js';
import type { OutputSink, RuntimeOutcome } from '../../runtimes/types.js';
import { WasiExit, WasiPreview1 } from '../../runtimes/wasi/wasi.js';
import { WASI_SIGNATURES } from '../../runtimes/wasi/signatures.js';
import { formatResults, formatSignature, parseInvokeArgs } from '../../runtimes/wasm/invoke-args.js';
import { inspectModule, loadModuleBytes, type ModuleInfo, type ValType } from '../../runtimes/wasm/module.js';
import {
  AK_HC_FLUSH, AK_HC_IMPORT_BASE, AK_HC_WASI_BASE, AK_OP_INVOKE, AK_OP_START, AK_TRAP_CALL_INDIRECT, AK_TRAP_DIV_BY_ZERO,
  AK_TRAP_INT_OVERFLOW, AK_TRAP_INVALID_CONVERSION, AK_TRAP_NULL_REF, AK_TRAP_OOB, AK_TRAP_OUT_OF_MEMORY,
  AK_TRAP_STACK_EXHAUSTED, AK_TRAP_UNREACHABLE, AK_WASI_FUNCS,
} from './abi.js';
import { compileGuest, type CompiledGuest } from './compile.js';
import { GuestProtocolError, MicroVm, Snapshot, VmPool, parseOutputRecords, type AkMessage, type VmExit } from './vmm.js';

const MiB = 1024 * 1024;
const PAGE = 65536;
const EMPTY = new Uint8Array(0);

/** Guest memory for a memory cap: whole 2 MiB pages, 4 MiB to 1 GiB (the engine's bounds). */
export function vmMemSize(memoryMb: number): number {
  const bytes = Math.ceil((memoryMb * MiB) / (2 * MiB)) * 2 * MiB;
  return Math.min(Math.max(bytes, 4 * MiB), 1024 * MiB);
}

// ---------------------------------------------------------------------------------------------------------------
// Guest images: a compiled module booted to READY, per memory size

/** A module compiled for the micro-VM, with the signatures inspection found. */
export interface PreparedModule {
  guest: CompiledGuest;
  info: ModuleInfo;
  elf: Uint8Array;
}

/** How a call (or the boot) ended, before it becomes a RuntimeOutcome. */
export type CallEnd =
  | { kind: 'done'; status: number; results: bigint[] }
  | { kind: 'trap'; code: number; memSize: number }
  | { kind: 'fault'; detail: string }
  | { kind: 'timeout' };

/** A guest booted to READY and snapshotted there; every call starts from this state. */
export class GuestImage {
  /** Guest output of the module's start function (replayed into every call, as each V8 instance would print it). */
  readonly bootOutput: { fd: number; bytes: Uint8Array }[];
  /** Set when the start function ended the module (trap or proc_exit): every call reports this end. */
  readonly bootEnd?: CallEnd;
  #pool: VmPool | undefined;

  constructor(
    readonly module: PreparedModule,
    readonly memoryMb: number,
    readonly snapshot: Snapshot | undefined,
    readonly dispatch: bigint,
    /** The most bytes linear memory may grow to (READY args[1]). */
    readonly maxLinearBytes: number,
    boot: { output: { fd: number; bytes: Uint8Array }[]; end?: CallEnd },
  ) {
    this.bootOutput = boot.output;
    if (boot.end) this.bootEnd = boot.end;
  }

  /** VMs of this image kept reset for reuse (created on first use). */
  get pool(): VmPool {
    if (!this.snapshot) throw new AgentKernelError('INTERNAL', 'a module that ended during instantiation has no VMs');
    this.#pool ??= new VmPool(this.snapshot, { maxIdle: 4, maxVms: 64 });
    return this.#pool;
  }

  async close(): Promise<void> {
    await this.#pool?.close();
    this.snapshot?.dispose();
  }

  /** Boots the image to READY (serving the start function's host calls with an empty WASI) and snapshots it. */
  static async boot(module: PreparedModule, memoryMb: number, timeoutMs: number, signal?: AbortSignal): Promise<GuestImage> {
    const image = Snapshot.fromImage(module.elf, { memSize: vmMemSize(memoryMb) });
    let vm: MicroVm | undefined;
    try {
      vm = await image.createVmAsync();
      const output: { fd: number; bytes: Uint8Array }[] = [];
      const sink: OutputSink = {
        stdout: (d) => output.push({ fd: 1, bytes: Buffer.from(d) }),
        stderr: (d) => output.push({ fd: 2, bytes: Buffer.from(d) }),
      };
      const wasi = new WasiPreview1({ args: [], env: {}, stdin: EMPTY, out: sink, mounts: [] });
      try {
        const r = await drive(vm, { wasi, out: sink, deadline: Date.now() + timeoutMs, signal, until: 'ready' });
        if (r.kind !== 'ready') return new GuestImage(module, memoryMb, undefined, 0n, 0, { output, end: r });
        const snap = await vm.snapshot();
        return new GuestImage(module, memoryMb, snap, r.msg.args[0] ?? 0n, Number(r.msg.args[1] ?? 0n), { output });
      } finally {
        wasi.close();
      }
    } finally {
      await vm?.dispose();
      image.dispose();
    }
  }
}

/** Content hash of module bytes: the in-process cache key. */
export function moduleHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** compileGuest + inspection, for module bytes already loaded. */
export async function prepareModule(bytes: Uint8Array, signal?: AbortSignal): Promise<PreparedModule> {
  const guest = await compileGuest(bytes, { signal, onProgress: () => {} });
  return { guest, info: inspectModule(bytes), elf: await readFile(guest.imagePath) };
}

// ---------------------------------------------------------------------------------------------------------------
// Driving a VM through one call

export interface DriveOptions {
  wasi: WasiPreview1;
  out: OutputSink;
  deadline: number;
  signal?: AbortSignal;
  /** Boot: run until READY instead of until DONE. */
  until?: 'ready';
  /** Serves host calls of non-WASI imports (AK_HC_IMPORT_BASE + index): their raw results. */
  onImport?: (index: number, msg: AkMessage) => bigint[] | Promise<bigint[]>;
}

/** WASI functions that take no pointers: served without copying linear memory. */
const NO_MEMORY = new Set([
  'fd_close', 'fd_datasync', 'fd_sync', 'fd_renumber', 'fd_advise', 'fd_allocate', 'fd_filestat_set_size',
  'fd_filestat_set_times', 'fd_fdstat_set_flags', 'fd_fdstat_set_rights', 'proc_raise', 'sched_yield', 'sock_shutdown',
]);

/** Raw 64-bit argument bits as the JavaScript value V8 would pass for the WASI parameter type. */
function wasiArg(type: 'i32' | 'i64', bits: bigint): number | bigint {
  return type === 'i64' ? BigInt.asIntN(64, bits) : Number(BigInt.asIntN(32, bits));
}

/** Serves one WASI host call; returns the errno, or throws WasiExit (a poll_oneoff sleep reaching the deadline). */
function serveWasi(vm: MicroVm, msg: AkMessage, wasi: WasiPreview1, bind: (m: Uint8Array) => void): number {
  const name = AK_WASI_FUNCS[msg.func - AK_HC_WASI_BASE];
  const sig = name ? WASI_SIGNATURES[name] : undefined;
  const fn = name ? wasi.imports[name] : undefined;
  if (!name || !sig || !fn) throw new GuestProtocolError(`unknown host call 0x${msg.func.toString(16)}`, { func: msg.func });
  if (msg.args.length !== sig.params.length) {
    throw new GuestProtocolError(`${name} takes ${sig.params.length} arguments, the guest passed ${msg.args.length}`);
  }
  const args = sig.params.map((t, i) => wasiArg(t, msg.args[i]!));
  if (NO_MEMORY.has(name)) {
    bind(EMPTY);
    return fn(...args) >>> 0;
  }
  // WASI works on guest RAM itself, through a view the engine detaches when this returns
  return vm.linearMemory(msg).withView((view) => {
    bind(view);
    try {
      return fn(...args) >>> 0;
    } finally {
      bind(EMPTY);
    }
  });
}

/** Runs a VM (already entered) until its call ends, serving host calls; returns how it ended. */
export async function drive(vm: MicroVm, o: DriveOptions): Promise<CallEnd | { kind: 'ready'; msg: AkMessage }> {
  let memory: Uint8Array = EMPTY;
  o.wasi.bindMemory(() => memory);
  const bind = (m: Uint8Array) => {
    memory = m;
  };
  for (;;) {
    const left = Math.ceil(o.deadline - Date.now());
    if (left <= 0) return { kind: 'timeout' };
    const exit = await vm.run({ timeoutMs: left, signal: o.signal });
    switch (exit.kind) {
      case 'hostcall': {
        const msg = vm.readMsg();
        if (msg.func === AK_HC_FLUSH) {
          for (const r of parseOutputRecords(vm.readMsgData(msg))) {
            if (r.fd === 1) o.out.stdout(r.bytes);
            else if (r.fd === 2) o.out.stderr(r.bytes);
            else throw new GuestProtocolError(`output record for fd ${r.fd}`);
          }
          vm.writeReply({ status: 0 });
          break;
        }
        if (o.onImport && msg.func >= AK_HC_IMPORT_BASE) {
          vm.writeReply({ status: 0, results: await o.onImport(msg.func - AK_HC_IMPORT_BASE, msg) });
          break;
        }
        let status: number;
        try {
          status = serveWasi(vm, msg, o.wasi, bind);
        } catch (e) {
          if (e instanceof WasiExit) return { kind: 'done', status: e.code, results: [] };
          throw e;
        }
        vm.writeReply({ status });
        break;
      }
      case 'ready':
        if (o.until === 'ready') return { kind: 'ready', msg: vm.readMsg() };
        throw new GuestProtocolError('READY in the middle of a call');
      case 'done': {
        if (o.until === 'ready') {
          // proc_exit inside the start function
          const msg = vm.readMsg();
          return { kind: 'done', status: msg.status, results: [] };
        }
        const msg = vm.readMsg();
        return { kind: 'done', status: msg.status, results: msg.results };
      }
      case 'trap': {
        const msg = vm.readMsg();
        return { kind: 'trap', code: msg.status, memSize: Number(msg.memSize) };
      }
      case 'abort':
      case 'fault':
      case 'unexpected':
      case 'timeout':
      case 'cancelled':
        return stoppedRun(vm, exit);
    }
  }
}

/**
 * How a guest call ends when the VM stopped for anything but a host call or the guest's own end: shared by every
 * loop that drives a guest (WASI programs, exports, the JavaScript engine).
 */
export function stoppedRun(vm: MicroVm, exit: VmExit): { kind: 'fault'; detail: string } | { kind: 'timeout' } {
  switch (exit.kind) {
    case 'abort': {
      const msg = vm.readMsg();
      const text = Buffer.from(vm.readMsgData(msg)).toString('utf8').replace(/\0.*$/s, '');
      throw new AgentKernelError('INTERNAL', `the micro-VM guest runtime aborted: ${text || '(no message)'}`);
    }
    case 'fault':
      return { kind: 'fault', detail: `${exit.detail} at rip 0x${exit.rip.toString(16)}` };
    case 'unexpected':
      return { kind: 'fault', detail: `unexpected VM exit: ${exit.detail}` };
    case 'timeout':
      return { kind: 'timeout' };
    case 'cancelled':
      throw new AbortError();
    default:
      throw new GuestProtocolError(`VM exit '${exit.kind}' is not the end of a call`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Outcomes

/** AK_TRAP_* as TrapKind, with V8's wording so that both Wasm backends report a trap the same way. */
const TRAPS: Record<number, [TrapKind, string]> = {
  [AK_TRAP_OOB]: ['out_of_bounds', 'memory access out of bounds'],
  [AK_TRAP_INT_OVERFLOW]: ['integer_overflow', 'divide result unrepresentable'],
  [AK_TRAP_DIV_BY_ZERO]: ['integer_divide_by_zero', 'divide by zero'],
  [AK_TRAP_INVALID_CONVERSION]: ['invalid_conversion', 'float unrepresentable in integer range'],
  [AK_TRAP_UNREACHABLE]: ['unreachable', 'unreachable'],
  [AK_TRAP_CALL_INDIRECT]: ['indirect_call_type_mismatch', 'null function or function signature mismatch'],
  [AK_TRAP_STACK_EXHAUSTED]: ['stack_exhausted', 'Maximum call stack size exceeded'],
  [AK_TRAP_NULL_REF]: ['null_reference', 'dereferencing a null pointer'],
  [AK_TRAP_OUT_OF_MEMORY]: ['memory_limit', 'out of memory'],
};

/** Whether linear memory could not grow further because of the VM's size (not the module's own maximum). */
function atMemoryCap(image: GuestImage, memSize: number): boolean {
  const declared = image.module.info.memory?.max;
  const declaredBytes = declared === undefined ? 4 * 1024 * MiB : declared * PAGE;
  return image.maxLinearBytes < declaredBytes && memSize + PAGE > image.maxLinearBytes;
}

function trapOutcome(image: GuestImage, end: { code: number; memSize: number }, out: OutputSink): RuntimeOutcome {
  const [kind0, message0] = TRAPS[end.code] ?? ['unknown' as TrapKind, `unknown trap (code ${end.code})`];
  let kind = kind0;
  let message = message0;
  if ((kind === 'unreachable' || kind === 'out_of_bounds') && atMemoryCap(image, end.memSize)) kind = 'memory_limit';
  if (kind === 'memory_limit') message = `linear memory reached its cap of ${image.memoryMb} MiB (${message})`;
  out.stderr(`wasm trap: ${message}\n`);
  return { exitCode: kind === 'memory_limit' ? EXIT.MEMORY : EXIT.TRAP, trap: { kind, message } };
}

const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const f64bits = new BigUint64Array(f64.buffer);

/** A parsed invoke argument as the raw bits AK_OP_INVOKE takes. */
function toBits(type: ValType, v: number | bigint): bigint {
  switch (type) {
    case 'i64': return BigInt.asUintN(64, BigInt(v));
    case 'f32': f32[0] = Number(v); return BigInt(f32bits[0]!);
    case 'f64': f64[0] = Number(v); return f64bits[0]!;
    default: return BigInt.asUintN(32, BigInt(v));
  }
}

/** Raw result bits as the value V8 would return for the type. */
function fromBits(type: ValType, bits: bigint): number | bigint {
  switch (type) {
    case 'i64': return BigInt.asIntN(64, bits);
    case 'f32': f32bits[0] = Number(BigInt.asUintN(32, bits)); return f32[0]!;
    case 'f64': f64bits[0] = BigInt.asUintN(64, bits); return f64[0]!;
    default: return Number(BigInt.asIntN(32, bits));
  }
}

/** What one call asks of the guest: run `_start`, or invoke an export. */
export type CallSpec =
  | { op: 'start'; programName: string; args: string[] }
  | { op: 'invoke'; export: string; args: (string | number | bigint)[] };

export interface CallContext {
  env: Record<string, string>;
  stdin: Uint8Array;
  mounts: Mount[];
  timeoutMs: number;
  signal?: AbortSignal;
  out: OutputSink;
}

/** The request a call writes, checked against the module before any VM is used. */
function plan(image: GuestImage, spec: CallSpec): { func: number; args: bigint[]; argv: string[]; results?: ValType[] } {
  const { guest, info } = image.module;
  if (spec.op === 'start') {
    if (!guest.hasStart) {
      const names = info.exports.map((e) => (e.kind === 'func' ? formatSignature(e) : `${e.name} (${e.kind})`));
      throw new ValidationError(`the module has no _start export, so it is not a WASI command; its exports: ${names.length > 0 ? names.join(', ') : '(none)'}`);
    }
    return { func: 0, args: [], argv: [spec.programName, ...spec.args] };
  }
  const fn = info.exports.find((e) => e.kind === 'func' && e.name === spec.export);
  const ge = guest.exports.find((e) => e.name === spec.export);
  if (!fn || !ge) {
    const funcs = info.exports.filter((e) => e.kind === 'func').map(formatSignature);
    throw new NotFoundError(`the module exports no function named "${spec.export}"; exported functions: ${funcs.length > 0 ? funcs.join(', ') : '(none)'}`, {
      export: spec.export,
    });
  }
  if (fn.results.includes('v128')) throw new ValidationError(`${formatSignature(fn)} returns a v128, which cannot be reported as a result`);
  const values = parseInvokeArgs(fn, spec.args);
  if (ge.index === undefined) throw new ValidationError(`${formatSignature(fn)} cannot be invoked in the micro-VM: ${ge.reason ?? 'unsupported signature'}`);
  return { func: ge.index, args: values.map((v, i) => toBits(fn.params[i]!, v)), argv: [spec.export], results: fn.results };
}

function replayBoot(image: GuestImage, out: OutputSink): void {
  for (const r of image.bootOutput) (r.fd === 1 ? out.stdout : out.stderr)(r.bytes);
}

/** A CallEnd as the RuntimeOutcome the V8 executor would give. */
function outcome(image: GuestImage, end: CallEnd, results: ValType[] | undefined, ctx: CallContext): RuntimeOutcome {
  switch (end.kind) {
    case 'done': {
      if (results && end.status === 0 && end.results.length === results.length) {
        const values = end.results.map((b, i) => fromBits(results[i]!, b));
        return { exitCode: EXIT.OK, results: formatResults(results, results.length === 1 ? values[0] : values) };
      }
      // POSIX keeps the low 8 bits of an exit status
      return { exitCode: end.status & 0xff };
    }
    case 'trap':
      return trapOutcome(image, end, ctx.out);
    case 'fault': {
      const message = `the guest stopped on a CPU exception: ${end.detail}`;
      ctx.out.stderr(`wasm trap: ${message}\n`);
      return { exitCode: EXIT.TRAP, trap: { kind: 'cpu_exception', message } };
    }
    case 'timeout':
      ctx.out.stderr(`timeout: the run was stopped after ${ctx.timeoutMs} ms\n`);
      return { exitCode: EXIT.TIMEOUT };
  }
}

/**
 * One call on `vm` (a VM of `image`, at READY state or after an earlier call): writes the request, serves the
 * guest until it ends, and reports it. `end` tells the caller whether the VM may be trusted again.
 */
export async function callVm(vm: MicroVm, image: GuestImage, spec: CallSpec, ctx: CallContext): Promise<{ outcome: RuntimeOutcome; end: CallEnd['kind'] }> {
  const p = plan(image, spec);
  if (ctx.signal?.aborted) throw new AbortError();
  const wasi = new WasiPreview1({ args: p.argv, env: ctx.env, stdin: ctx.stdin, out: ctx.out, mounts: ctx.mounts, deadline: Date.now() + ctx.timeoutMs });
  try {
    vm.writeRequest(spec.op === 'start' ? { op: AK_OP_START } : { op: AK_OP_INVOKE, func: p.func, args: p.args });
    vm.enter(image.dispatch);
    const end = await drive(vm, { wasi, out: ctx.out, deadline: Date.now() + ctx.timeoutMs, signal: ctx.signal });
    if (end.kind === 'ready') throw new GuestProtocolError('READY in the middle of a call');
    return { outcome: outcome(image, end, p.results, ctx), end: end.kind };
  } finally {
    wasi.close();
  }
}

/** A call on an image: the module's boot end if it has one, else one VM from the pool. */
export async function callImage(image: GuestImage, spec: CallSpec, ctx: CallContext): Promise<RuntimeOutcome> {
  replayBoot(image, ctx.out);
  if (image.bootEnd) {
    plan(image, spec);
    return outcome(image, image.bootEnd, undefined, ctx);
  }
  const pool = image.pool;
  const vm = await pool.acquire(ctx.signal);
  let trusted = false;
  try {
    const r = await callVm(vm, image, spec, ctx);
    trusted = r.end !== 'fault';
    return r.outcome;
  } finally {
    if (trusted) pool.release(vm);
    else pool.discard(vm);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The public, stateful sandbox

export interface MicroVmSandboxOptions {
  /** Guest memory cap in MiB (the VM's RAM, rounded up to 2 MiB, 4 MiB to 1 GiB). @default 64 */
  memoryMb?: number;
  /** Limit for instantiation (the module's start function). @default 10000 */
  bootTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface SandboxRunOptions {
  args?: string[];
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
  mounts?: Mount[];
  /** @default 10000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** argv[0]. @default 'module.wasm' */
  programName?: string;
}

export interface SandboxCallResult extends RuntimeOutcome {
  stdout: string;
  stderr: string;
  timedOut?: boolean;
}

/** A snapshot of a MicroVmSandbox: memory and CPU state of its VM; restore() forks sandboxes from it. */
export class MicroVmSnapshot {
  #disposed = false;

  /** @internal use MicroVmSandbox.snapshot() */
  constructor(readonly image: GuestImage, readonly state: Snapshot) {}

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Releases the snapshot (sandboxes restored from it keep their own memory). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.state.dispose();
  }
}

function stdinBytes(stdin: string | Uint8Array | undefined): Uint8Array {
  if (stdin === undefined) return EMPTY;
  if (typeof stdin === 'string') return new Uint8Array(Buffer.from(stdin, 'utf8'));
  if (stdin instanceof Uint8Array) return stdin;
  throw new ValidationError('stdin must be a string or bytes');
}

/**
 * One Wasm instance in its own micro-VM, kept across calls: what one call leaves in memory and globals, the next
 * sees. `snapshot()` captures it; `MicroVmSandbox.restore()` forks a new sandbox from that state.
 */
export class MicroVmSandbox {
  #vm: MicroVm;
  #busy = false;
  #owned: GuestImage | undefined;

  private constructor(readonly image: GuestImage, vm: MicroVm, owned?: GuestImage) {
    this.#vm = vm;
    this.#owned = owned;
  }

  /** Compiles (cached on disk) and instantiates a module in a new micro-VM. */
  static async create(module: Uint8Array | string, opts: MicroVmSandboxOptions = {}): Promise<MicroVmSandbox> {
    const memoryMb = opts.memoryMb ?? 64;
    if (!Number.isInteger(memoryMb) || memoryMb <= 0) throw new ValidationError(`memoryMb must be a positive integer, got ${memoryMb}`);
    const bytes = await loadModuleBytes(module);
    const image = await GuestImage.boot(await prepareModule(bytes, opts.signal), memoryMb, opts.bootTimeoutMs ?? 10_000, opts.signal);
    if (!image.snapshot) {
      const out: string[] = [];
      const sink: OutputSink = { stdout: () => {}, stderr: (d) => out.push(Buffer.from(d).toString()) };
      const r = outcome(image, image.bootEnd!, undefined, { env: {}, stdin: EMPTY, mounts: [], timeoutMs: opts.bootTimeoutMs ?? 10_000, out: sink });
      throw new ValidationError(`the module ended during instantiation (exit code ${r.exitCode})${out.length ? `: ${out.join('').trim()}` : ''}`);
    }
    try {
      return new MicroVmSandbox(image, await image.snapshot.createVmAsync(), image);
    } catch (e) {
      await image.close();
      throw e;
    }
  }

  /** A new sandbox in the state a snapshot captured (the snapshot stays usable for more). */
  static async restore(snapshot: MicroVmSnapshot): Promise<MicroVmSandbox> {
    if (snapshot.disposed) throw new ValidationError('the snapshot has been disposed');
    return new MicroVmSandbox(snapshot.image, await snapshot.state.createVmAsync());
  }

  get disposed(): boolean {
    return this.#vm.disposed;
  }

  async #call(spec: CallSpec, o: SandboxRunOptions): Promise<SandboxCallResult> {
    if (this.#busy) throw new ValidationError('the sandbox is running another call');
    this.#busy = true;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const out: OutputSink = { stdout: (d) => stdout.push(Buffer.from(d)), stderr: (d) => stderr.push(Buffer.from(d)) };
    try {
      const timeoutMs = o.timeoutMs ?? 10_000;
      const { outcome: r, end } = await callVm(this.#vm, this.image, spec, {
        env: o.env ?? {}, stdin: stdinBytes(o.stdin), mounts: o.mounts ?? [], timeoutMs, signal: o.signal, out,
      });
      // a VM stopped by a CPU exception cannot continue: the instance is back at its creation state
      if (end === 'fault') this.#vm.reset();
      return {
        ...r, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'),
        ...(end === 'timeout' ? { timedOut: true } : {}),
      };
    } finally {
      this.#busy = false;
    }
  }

  /** Runs the module's `_start` (a WASI command) in this sandbox's instance. */
  runWasm(o: SandboxRunOptions = {}): Promise<SandboxCallResult> {
    return this.#call({ op: 'start', programName: o.programName ?? 'module.wasm', args: (o.args ?? []).map(String) }, o);
  }

  /** Calls an export; memory and globals carry over to the next call. */
  invoke(name: string, args: (string | number | bigint)[] = [], o: Omit<SandboxRunOptions, 'args'> = {}): Promise<SandboxCallResult> {
    if (typeof name !== 'string' || name === '') throw new ValidationError('invoke needs the name of an exported function');
    return this.#call({ op: 'invoke', export: name, args }, o);
  }

  /** The instance's current state, for MicroVmSandbox.restore(). */
  async snapshot(): Promise<MicroVmSnapshot> {
    if (this.#busy) throw new ValidationError('the sandbox is running a call');
    return new MicroVmSnapshot(this.image, await this.#vm.snapshot());
  }

  async dispose(): Promise<void> {
    await this.#vm.dispose();
    const owned = this.#owned;
    this.#owned = undefined;
    // the boot snapshot is refcounted by the engine: VMs and snapshots forked from it keep its memory
    owned?.snapshot?.dispose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
