/**
 * `run-code python` in the micro-VM: CPython 3.11 (python-guest.ts) booted once per memory cap, initialised with
 * the `wasm` backend's own runner and preloaded modules (src/runtimes/python/runner.ts), then snapshotted. Every
 * run takes a VM reset to that snapshot from a pool, writes its input into the driver's buffer in linear memory
 * and makes one guest call, ak_py_run, whose WASI calls the host serves: the standard library and the run's
 * mounts are preopened directories, stdin and the clock are the run's.
 *
 * Results are the runner's, so they read as the `wasm` backend's Python does (same exit codes, structured errors,
 * memory-limit and timeout wording). Timeouts are the VM watchdog's: the guest is stopped where it is.
 */
import { AgentKernelError, ValidationError } from '../../../core/errors.js';
import { EXIT, type Mount, type ToolHost } from '../../../core/types.js';
import { guestCwd } from '../../../runtimes/command.js';
import { memoryLimit, outcomeOf, timedOut } from '../../../runtimes/python/outcome.js';
import { RUNNER_SETUP, type RunnerResult } from '../../../runtimes/python/runner.js';
import type { CodeRequest, CodeRuntime, OutputSink, RuntimeOutcome } from '../../../runtimes/types.js';
import { WasiPreview1 } from '../../../runtimes/wasi/wasi.js';
import { AK_OP_INVOKE, AK_TRAP_STACK_EXHAUSTED } from '../abi.js';
import { drive, vmMemSize, type CallEnd } from '../sandbox.js';
import { GuestProtocolError, MicroVm, Snapshot, VmPool, parseOutputRecords, type AkMessage } from '../vmm.js';
import { GUEST_STDLIB } from './cpython-build.js';
import { GuestInterpreter } from './interpreter.js';
import { toolCalls } from './tools.js';
import { pythonGuest, type PythonDriverName, type PythonGuest } from './python-guest.js';

const MiB = 1024 * 1024;
const PAGE = 65536;
/** Guest memory besides linear memory: image, heap for tables, stack, guard gap, allocator slack. */
const OVERHEAD_MB = 8;
/** The driver's input buffer made at init (guest/python/ak_python.c INPUT_SMALL). */
const INPUT_SMALL = 64 * 1024;
const MAX_RESULT_BYTES = 8 * MiB;
/**
 * The runner's `run`, bound for the driver (it takes `run` from the setup's globals), and the runner's bridge to
 * a session's tools: the driver's built-in module, whose calls leave the guest as host calls.
 */
const SETUP = `${RUNNER_SETUP}
import _agentkernel_host
sys.modules["_agentkernel_runner"]._host = _agentkernel_host.call
del _agentkernel_host
run = sys.modules["_agentkernel_runner"].run
`;


const enc = new TextEncoder();
const NO_OUTPUT: OutputSink = { stdout: () => {}, stderr: () => {} };

/** A booted, initialised CPython for one memory cap, and its pool of VMs. */
export class PyImage {
  constructor(
    readonly memoryMb: number,
    readonly snapshot: Snapshot,
    readonly dispatch: bigint,
    /** The most bytes linear memory may grow to (READY args[1]). */
    readonly maxLinearBytes: number,
    /** Linear memory in use in the snapshot. */
    readonly cleanBytes: number,
    readonly inputPtr: number,
    readonly pool: VmPool,
  ) {}

  async close(): Promise<void> {
    await this.pool.close();
    this.snapshot.dispose();
  }
}

/** The preopens every run has (fds 3, 4): `/` (empty) and the standard library; a run's own mounts follow. */
export function baseMounts(guest: PythonGuest): Mount[] {
  return [
    { hostPath: guest.root, guestPath: '/', readOnly: true },
    { hostPath: guest.stdlib, guestPath: GUEST_STDLIB, readOnly: true },
  ];
}

/** Invokes one driver export on a VM (already reset or booted) and runs it to its end, serving WASI. */
export async function invoke(
  vm: MicroVm, dispatch: bigint, guest: PythonGuest, fn: PythonDriverName, args: number[], wasi: WasiPreview1,
  out: OutputSink, deadline: number, signal?: AbortSignal, tools?: ToolHost,
): Promise<CallEnd> {
  vm.writeRequest({ op: AK_OP_INVOKE, func: guest.driver[fn], args });
  vm.enter(dispatch);
  const end = await drive(vm, { wasi, out, deadline, signal, onImport: toolBridge(vm, guest, tools) });
  if (end.kind === 'ready') throw new AgentKernelError('INTERNAL', 'the CPython guest sent READY in the middle of a call');
  return end;
}

/** The driver's tool imports for one call, served by the shared tool bridge. */
function toolBridge(vm: MicroVm, guest: PythonGuest, tools: ToolHost | undefined) {
  const serve = toolCalls(vm, tools);
  return (index: number, msg: AkMessage): Promise<bigint[]> => {
    const which = guest.hostImports[index];
    if (which === 'tool_call' || which === 'tool_result') return serve(which, msg);
    throw new GuestProtocolError(`unknown host import ${index} of the CPython guest`);
  };
}

/** A (length << 32 | pointer) result of the driver, read from linear memory. */
export function readResult(vm: MicroVm, bits: bigint | undefined): string | undefined {
  if (!bits) return undefined;
  const ptr = Number(bits & 0xffffffffn);
  const len = Number(bits >> 32n);
  if (len > MAX_RESULT_BYTES) return undefined;
  return vm.linearMemory(vm.readMsg()).read(ptr, len).toString('utf8');
}

function describe(end: CallEnd): string {
  switch (end.kind) {
    case 'done': return `status ${end.status}`;
    case 'trap': return `trap ${end.code}`;
    case 'fault': return end.detail;
    default: return end.kind;
  }
}

/** Boots CPython to READY, initialises it with the runner (ak_py_init), and snapshots that state. */
async function bootImage(guest: PythonGuest, memoryMb: number): Promise<PyImage> {
  const spanMb = Math.ceil(guest.guest.imageSpan / MiB);
  const image = Snapshot.fromImage(guest.elf, { memSize: vmMemSize(memoryMb + spanMb + OVERHEAD_MB) });
  let vm: MicroVm | undefined;
  const wasi = new WasiPreview1({ args: ['python3'], env: {}, stdin: new Uint8Array(0), out: NO_OUTPUT, mounts: baseMounts(guest) });
  const deadline = Date.now() + 60_000;
  try {
    vm = await image.createVmAsync();
    const ready = await drive(vm, { wasi, out: NO_OUTPUT, deadline, until: 'ready' });
    if (ready.kind !== 'ready') throw new AgentKernelError('INTERNAL', `the CPython guest did not start (${describe(ready)})`);
    const dispatch = ready.msg.args[0] ?? 0n;
    const maxLinearBytes = Number(ready.msg.args[1] ?? 0n);
    const setup = enc.encode(`${SETUP}\0`);
    const buf = await invoke(vm, dispatch, guest, 'ak_py_input', [setup.length], wasi, NO_OUTPUT, deadline);
    const bufPtr = buf.kind === 'done' ? Number(buf.results[0] ?? 0n) : 0;
    if (!bufPtr) {
      throw new AgentKernelError('INTERNAL', `CPython in the micro-VM has no room for its setup with a ${memoryMb} MiB memory limit (${describe(buf)})`);
    }
    vm.linearMemory(vm.readMsg()).write(bufPtr, setup);
    const init = await invoke(vm, dispatch, guest, 'ak_py_init', [setup.length - 1], wasi, NO_OUTPUT, deadline);
    if (init.kind !== 'done' || init.results[0] !== 0n) {
      let why = init.kind === 'done' ? `step ${init.results[0]}` : describe(init);
      if (init.kind === 'done') {
        const e = await invoke(vm, dispatch, guest, 'ak_py_init_error', [], wasi, NO_OUTPUT, deadline);
        const text = e.kind === 'done' ? readResult(vm, e.results[0]) : undefined;
        if (text) why += `: ${text.replace(/^!/, '')}`;
      }
      throw new AgentKernelError('INTERNAL', `CPython could not be initialised in the micro-VM with a ${memoryMb} MiB memory limit (${why})`);
    }
    const input = await invoke(vm, dispatch, guest, 'ak_py_input', [0], wasi, NO_OUTPUT, deadline);
    const inputPtr = input.kind === 'done' ? Number(input.results[0] ?? 0n) : 0;
    if (!inputPtr) throw new AgentKernelError('INTERNAL', 'the CPython guest has no input buffer after init');
    const cleanBytes = Number(vm.readMsg().memSize);
    const snap = await vm.snapshot();
    return new PyImage(memoryMb, snap, dispatch, maxLinearBytes, cleanBytes, inputPtr, new VmPool(snap, { maxIdle: 4, maxVms: 64 }));
  } finally {
    wasi.close();
    await vm?.dispose();
    image.dispose();
  }
}

export class MicroVmPython extends GuestInterpreter<PythonGuest, PyImage> implements CodeRuntime {
  readonly language = 'python' as const;

  protected loadGuest(onProgress?: (message: string) => void): Promise<PythonGuest> {
    return pythonGuest(onProgress);
  }

  protected boot(guest: PythonGuest, memoryMb: number): Promise<PyImage> {
    return bootImage(guest, memoryMb);
  }

  /** The guest and the snapshot for a memory cap, for a session's VM. */
  async loaded(memoryMb: number): Promise<{ guest: PythonGuest; image: PyImage }> {
    return { guest: await this.guest(), image: await this.image(memoryMb) };
  }

  async run(req: CodeRequest, out: OutputSink, signal?: AbortSignal): Promise<RuntimeOutcome> {
    const guest = await this.guest();
    const image = await this.image(req.memoryMb);
    if (image.cleanBytes + PAGE > image.maxLinearBytes) {
      throw new ValidationError(
        `the Python runtime needs more than ${Math.ceil(image.cleanBytes / MiB)} MiB of memory; the limit is ${req.memoryMb} MiB`,
        { memoryMb: req.memoryMb },
      );
    }
    const deadline = req.deadline ?? Date.now() + 10_000;
    if (Date.now() >= deadline) return timedOut(out);
    const vm = await image.pool.acquire(signal);
    let trusted = false;
    const mounts = [...baseMounts(guest), ...req.mounts];
    const wasi = new WasiPreview1({ args: ['python3'], env: {}, stdin: req.stdin, out, mounts, deadline });
    try {
      const r = await runOnVm(vm, image, guest, req, wasi, out, deadline, signal);
      trusted = r.trusted;
      return r.outcome;
    } finally {
      wasi.close();
      if (trusted) image.pool.release(vm);
      else image.pool.discard(vm);
    }
  }

}

/** What a session's call adds to a run: __main__ kept, and the tools it may call. */
export interface SessionCall {
  tools?: ToolHost;
}

export async function runOnVm(
  vm: MicroVm, image: PyImage, guest: PythonGuest, req: CodeRequest, wasi: WasiPreview1, out: OutputSink, deadline: number,
  signal?: AbortSignal, session?: SessionCall,
): Promise<{ outcome: RuntimeOutcome; trusted: boolean }> {
  const script = req.scriptPath;
  const filename = !script || (script.startsWith('-') && script !== '-') ? '<string>' : script === '-' ? '<stdin>' : script;
  const argv = [script ?? '-c', ...(req.args ?? [])];
  const parts = [
    req.code, filename, JSON.stringify(argv), JSON.stringify(req.env), guestCwd(req), req.mounts.map((m) => m.guestPath).join('\n'),
    JSON.stringify(session?.tools?.names ?? []),
  ].map((s) => enc.encode(s));
  const total = parts.reduce((n, p) => n + p.length, 0);
  let ptr = image.inputPtr;
  if (total > INPUT_SMALL) {
    const r = await invoke(vm, image.dispatch, guest, 'ak_py_input', [total], wasi, out, deadline, signal);
    ptr = r.kind === 'done' ? Number(r.results[0] ?? 0n) : 0;
    if (!ptr) return { outcome: r.kind === 'done' ? memoryLimit(out, req.memoryMb) : abnormalEnd(vm, r, out), trusted: r.kind !== 'fault' };
  }
  const mem = vm.linearMemory(vm.readMsg());
  let at = ptr;
  for (const p of parts) {
    mem.write(at, p);
    at += p.length;
  }
  const firstFd = 3 + baseMounts(guest).length;
  const end = await invoke(
    vm, image.dispatch, guest, 'ak_py_run', [...parts.map((p) => p.length), firstFd, session ? 1 : 0], wasi, out, deadline, signal, session?.tools,
  );
  if (end.kind !== 'done') return { outcome: abnormalEnd(vm, end, out), trusted: end.kind !== 'fault' };
  // no results: the program ended the interpreter itself (os._exit, or WASI proc_exit)
  if (end.results.length === 0) return { outcome: { exitCode: end.status & 0xff }, trusted: true };
  const raw = readResult(vm, end.results[0]);
  // a MemoryError counts as the memory limit when linear memory refused to grow (the driver's break saw it)
  let refused = false;
  if (raw === undefined || raw.startsWith('!') || (JSON.parse(raw) as RunnerResult).memoryError) {
    const r = await invoke(vm, image.dispatch, guest, 'ak_py_refused', [], wasi, out, deadline, signal);
    refused = r.kind === 'done' && r.results[0] === 1n;
  }
  if (raw === undefined || raw.startsWith('!')) {
    // the driver could not run the runner or return its result: out of memory, or a broken interpreter
    const hostError = new Error(raw ? raw.slice(1) : 'the interpreter returned no result');
    return { outcome: outcomeOf({ hostError, fired: false, overCap: false, refused, memoryMb: req.memoryMb }, out), trusted: true };
  }
  return { outcome: outcomeOf({ raw, hostError: undefined, fired: false, overCap: false, refused, memoryMb: req.memoryMb }, out), trusted: true };
}

/** A run stopped by the watchdog, a trap or a fault. Output still buffered in the guest is delivered first. */
function abnormalEnd(vm: MicroVm, end: Exclude<CallEnd, { kind: 'done' }>, out: OutputSink): RuntimeOutcome {
  if (end.kind === 'timeout') {
    try {
      for (const r of parseOutputRecords(vm.readMsgData(vm.readMsg()))) (r.fd === 2 ? out.stderr : out.stdout)(r.bytes);
    } catch {
      // stopped halfway through a record: what was complete is all there is
    }
    return timedOut(out);
  }
  if (end.kind === 'trap' && end.code === AK_TRAP_STACK_EXHAUSTED) {
    const message = 'maximum recursion depth exceeded (the interpreter ran out of stack)';
    out.stderr(`RecursionError: ${message}\n`);
    return { exitCode: EXIT.TRAP, trap: { kind: 'stack_exhausted', message } };
  }
  const message = end.kind === 'trap' ? `CPython trapped (code ${end.code})` : `the micro-VM stopped: ${end.detail}`;
  out.stderr(`Fatal Python error: ${message}\n`);
  return { exitCode: EXIT.TRAP, trap: { kind: 'unknown', message } };
}
