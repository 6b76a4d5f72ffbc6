/**
 * `run-code javascript` in the micro-VM: the QuickJS guest (quickjs-guest.ts) booted once per memory cap, its
 * runtime and context created and the prelude (src/runtimes/javascript/prelude.ts, the `wasm` backend's own)
 * started, then snapshotted. Every run takes a VM reset to that snapshot from a pool and makes one guest call,
 * ak_js_run, which evaluates the code, drains microtasks and due timers, and reports how it ended; waiting for a
 * later timer returns to the host, which sleeps and resumes the guest.
 *
 * Results match the `wasm` backend's JavaScript: the same QuickJS build, prelude, limits (heap cap, QuickJS's
 * stack cap, linear memory capped at its 16 MiB + the cap) and wording for timeouts, exceptions and
 * out-of-memory. Timeouts are the VM watchdog's: the guest is stopped where it is, no interrupt handler runs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentKernelError } from '../../../core/errors.js';
import { EXIT, type GuestError, type ToolHost } from '../../../core/types.js';
import { guestCwd } from '../../../runtimes/command.js';
import { PRELUDE_SOURCE } from '../../../runtimes/javascript/prelude.js';
import { TOOLS_SOURCE } from '../../../runtimes/javascript/tools-source.js';
import type { CodeRequest, CodeRuntime, OutputSink, RuntimeOutcome } from '../../../runtimes/types.js';
import {
  AK_HC_FLUSH, AK_HC_IMPORT_BASE, AK_OP_INVOKE, AK_TRAP_OUT_OF_MEMORY, AK_TRAP_STACK_EXHAUSTED, MSG_DATA_CAPACITY,
} from '../abi.js';
import { stoppedRun, vmMemSize } from '../sandbox.js';
import { GuestProtocolError, MicroVm, Snapshot, VmPool, parseOutputRecords, type AkMessage } from '../vmm.js';
import { serveHostImport } from './imports.js';
import { GuestInterpreter } from './interpreter.js';
import { HC_TOOL_CALL, HC_TOOL_RESULT, quickJsGuest, type DriverName, type QuickJsGuest } from './quickjs-guest.js';
import { toolCalls } from './tools.js';

const MiB = 1024 * 1024;
/** What the `wasm` backend gives QuickJS: its stack cap and the linear memory it starts with. */
const MAX_STACK_BYTES = 256 * 1024;
const INITIAL_LINEAR_MB = 16;
/** Guest memory besides linear memory: image, heap for tables, stack, guard gap, allocator slack. */
const OVERHEAD_MB = 8;
const MAX_ERROR_TEXT = 4 * MiB;

/** ak_js_run / ak_js_resume results[0] (bridge.c). */
const END_EXIT = 0n;
const END_ERROR = 1n;
const END_DUMP = 2n;
const END_SLEEP = 3n;

/** The prelude's host object around the host functions, and start(config, stdin) for a run's own settings. */
const SHIM_SOURCE = `(function (prelude, write, writeBytes, exit) {
  'use strict';
  return function (configJson, stdinText) {
    const api = prelude({ write, writeBytes, exit, stdin: () => stdinText }, configJson);
    return [api.tick, api.formatError, api.exitCode];
  };
})`;

const enc = new TextEncoder();

/** The configuration the prelude gets, exactly as the `wasm` backend builds it. */
function configJson(req: CodeRequest): string {
  return JSON.stringify({
    argv: ['node', req.scriptPath ?? '[eval]', ...(req.args ?? [])],
    env: { ...req.env },
    cwd: guestCwd(req),
  });
}
const DEFAULT_CONFIG = configJson({ code: '', env: {}, stdin: new Uint8Array(0), mounts: [], memoryMb: 0 });

type CallEnd =
  | { kind: 'done'; msg: AkMessage }
  | { kind: 'trap'; code: number }
  | { kind: 'timeout' }
  | { kind: 'fault'; detail: string };

/** A booted, initialised QuickJS for one memory cap, and its pool of VMs. */
export class JsImage {
  constructor(
    readonly memoryMb: number,
    readonly snapshot: Snapshot,
    readonly dispatch: bigint,
    readonly pool: VmPool,
  ) {}

  async close(): Promise<void> {
    await this.pool.close();
    this.snapshot.dispose();
  }
}

/** Runs a VM until its call ends, serving output flushes and host imports. */
async function drive(
  vm: MicroVm, guest: QuickJsGuest, out: OutputSink, deadline: number, signal?: AbortSignal, tools?: ToolHost,
): Promise<CallEnd | { kind: 'ready'; msg: AkMessage }> {
  const serveTool = toolCalls(vm, tools);
  for (;;) {
    const left = Math.ceil(deadline - Date.now());
    if (left <= 0) return { kind: 'timeout' };
    const exit = await vm.run({ timeoutMs: left, signal });
    switch (exit.kind) {
      case 'hostcall': {
        const msg = vm.readMsg();
        if (msg.func === AK_HC_FLUSH) {
          emit(parseOutputRecords(vm.readMsgData(msg)), out);
          vm.writeReply({ status: 0 });
        } else if (msg.func === AK_HC_IMPORT_BASE + HC_TOOL_CALL || msg.func === AK_HC_IMPORT_BASE + HC_TOOL_RESULT) {
          vm.writeReply({ status: 0, results: await serveTool(msg.func === AK_HC_IMPORT_BASE + HC_TOOL_CALL ? 'tool_call' : 'tool_result', msg) });
        } else if (msg.func >= AK_HC_IMPORT_BASE && msg.func - AK_HC_IMPORT_BASE < guest.hostImports.length) {
          const role = guest.hostImports[msg.func - AK_HC_IMPORT_BASE]!;
          const r = serveHostImport(role, msg, () => vm.linearMemory(msg));
          if (r.end) return { kind: 'done', msg: { ...msg, status: r.end.status, results: [] } };
          if (r.abort) throw new QuickJsAbort(r.abort);
          vm.writeReply({ status: 0, results: r.results ?? [] });
        } else {
          throw new GuestProtocolError(`unknown host call 0x${msg.func.toString(16)}`, { func: msg.func });
        }
        break;
      }
      case 'ready':
      case 'done':
        return { kind: exit.kind, msg: vm.readMsg() } as { kind: 'done'; msg: AkMessage };
      case 'trap':
        return { kind: 'trap', code: vm.readMsg().status };
      case 'abort':
      case 'fault':
      case 'unexpected':
      case 'timeout':
      case 'cancelled':
        return stoppedRun(vm, exit);
    }
  }
}

function emit(records: { fd: number; bytes: Uint8Array }[], out: OutputSink): void {
  for (const r of records) {
    if (r.fd === 1) out.stdout(r.bytes);
    else if (r.fd === 2) out.stderr(r.bytes);
    else throw new GuestProtocolError(`output record for fd ${r.fd}`);
  }
}

/** QuickJS called abort() or failed an assertion: its state cannot be trusted. */
class QuickJsAbort extends Error {}

export class MicroVmJavaScript extends GuestInterpreter<QuickJsGuest, JsImage> implements CodeRuntime {
  readonly language = 'javascript' as const;

  protected loadGuest(onProgress?: (message: string) => void): Promise<QuickJsGuest> {
    return quickJsGuest(onProgress);
  }

  protected boot(guest: QuickJsGuest, memoryMb: number): Promise<JsImage> {
    return bootImage(guest, memoryMb);
  }

  async run(req: CodeRequest, out: OutputSink, signal?: AbortSignal): Promise<RuntimeOutcome> {
    const guest = await this.guest();
    const image = await this.image(req.memoryMb);
    const deadline = req.deadline ?? Date.now() + 10_000;
    const vm = await image.pool.acquire(signal);
    let trusted = false;
    try {
      const r = await runOnVm(vm, image, guest, req, out, deadline, signal);
      trusted = r.trusted;
      return r.outcome;
    } catch (e) {
      if (!(e instanceof QuickJsAbort)) throw e;
      out.stderr(`InternalError: ${e.message}\n`);
      return { exitCode: EXIT.TRAP, trap: { kind: 'unknown', message: e.message } };
    } finally {
      if (trusted) image.pool.release(vm);
      else image.pool.discard(vm);
    }
  }

}

/** Boots the guest to READY, initialises QuickJS and the prelude (ak_js_init), and snapshots that state. */
async function bootImage(guest: QuickJsGuest, memoryMb: number): Promise<JsImage> {
  const spanMb = Math.ceil(guest.guest.imageSpan / MiB);
  const image = Snapshot.fromImage(guest.elf, { memSize: vmMemSize(INITIAL_LINEAR_MB + memoryMb + spanMb + OVERHEAD_MB) });
  let vm: MicroVm | undefined;
  const sink: OutputSink = { stdout: () => {}, stderr: () => {} };
  try {
    vm = await image.createVmAsync();
    const ready = await drive(vm, guest, sink, Date.now() + 30_000);
    if (ready.kind !== 'ready') throw new AgentKernelError('INTERNAL', `the QuickJS guest did not start (${describeEnd(ready)})`);
    const dispatch = ready.msg.args[0] ?? 0n;
    const data = enc.encode(SHIM_SOURCE + PRELUDE_SOURCE + DEFAULT_CONFIG + TOOLS_SOURCE);
    vm.writeRequest({
      op: AK_OP_INVOKE, func: guest.driver.ak_js_init, data,
      args: [
        memoryMb, INITIAL_LINEAR_MB + memoryMb, MAX_STACK_BYTES, enc.encode(SHIM_SOURCE).length, enc.encode(PRELUDE_SOURCE).length,
        enc.encode(DEFAULT_CONFIG).length, enc.encode(TOOLS_SOURCE).length,
      ],
    });
    vm.enter(dispatch);
    const init = await drive(vm, guest, sink, Date.now() + 30_000);
    if (init.kind !== 'done' || init.msg.results[0] !== 0n) {
      throw new AgentKernelError('INTERNAL', `QuickJS could not be initialised in the micro-VM (${init.kind === 'done' ? `step ${init.msg.results[0]}` : describeEnd(init)})`);
    }
    const snap = await vm.snapshot();
    return new JsImage(memoryMb, snap, dispatch, new VmPool(snap, { maxIdle: 4, maxVms: 64 }));
  } finally {
    await vm?.dispose();
    image.dispose();
  }
}

function describeEnd(end: CallEnd | { kind: 'ready' }): string {
  if (end.kind === 'trap') return `trap ${end.code}`;
  if (end.kind === 'fault') return end.detail;
  return end.kind;
}

/** Invokes one driver function on a VM (already reset) and runs it to its end. */
export async function invoke(
  vm: MicroVm, image: JsImage, guest: QuickJsGuest, fn: DriverName, args: number[], data: Uint8Array | undefined,
  out: OutputSink, deadline: number, signal?: AbortSignal, tools?: ToolHost,
): Promise<CallEnd> {
  vm.writeRequest({ op: AK_OP_INVOKE, func: guest.driver[fn], args, ...(data ? { data } : {}) });
  vm.enter(image.dispatch);
  const end = await drive(vm, guest, out, deadline, signal, tools);
  if (end.kind === 'ready') throw new GuestProtocolError('READY in the middle of a call');
  return end;
}

/** The input of ak_js_run: filename, config (empty: the snapshot's), stdin, code, a session's tool names. */
function runInput(req: CodeRequest, session?: SessionCall): { parts: Uint8Array[]; mode: number } {
  const script = req.scriptPath;
  const filename = !script ? '[eval]' : script === '-' ? '[stdin]' : script;
  const stdin = Buffer.from(req.stdin).toString('utf8');
  const config = configJson(req);
  // a session's call always sets the prelude up again, as the wasm backend's sessions do
  const custom = config !== DEFAULT_CONFIG || stdin !== '' || session !== undefined;
  // as the wasm backend: .mjs is a module; other code a global script, retried as a module when it only parses so
  const mode = filename.endsWith('.mjs') ? 1 : /\b(import|export|await)\b/.test(req.code) ? 2 : 0;
  const tools = session ? JSON.stringify(session.tools?.names ?? []) : '';
  return { parts: [enc.encode(filename), enc.encode(custom ? config : ''), enc.encode(custom ? stdin : ''), enc.encode(req.code), enc.encode(tools)], mode };
}

/** What a session's call adds to a run: the prelude set up again, and the tools it may call. */
export interface SessionCall {
  tools?: ToolHost;
}

export async function runOnVm(
  vm: MicroVm, image: JsImage, guest: QuickJsGuest, req: CodeRequest, out: OutputSink, deadline: number, signal?: AbortSignal,
  session?: SessionCall,
): Promise<{ outcome: RuntimeOutcome; trusted: boolean }> {
  const { parts, mode } = runInput(req, session);
  const blob = Buffer.concat(parts);
  const lens = parts.map((p) => p.length);
  let end: CallEnd;
  if (blob.length <= MSG_DATA_CAPACITY) {
    end = await invoke(vm, image, guest, 'ak_js_run', [0, mode, ...lens], blob, out, deadline, signal, session?.tools);
  } else {
    // too big for the message area: into linear memory first
    const alloc = await invoke(vm, image, guest, 'ak_js_alloc', [blob.length], undefined, out, deadline, signal);
    if (alloc.kind !== 'done' || !alloc.msg.results[0]) return { outcome: outOfMemory(req, out), trusted: alloc.kind !== 'fault' };
    const ptr = Number(alloc.msg.results[0]);
    vm.linearMemory(alloc.msg).write(ptr, blob);
    end = await invoke(vm, image, guest, 'ak_js_run', [ptr, mode, ...lens], undefined, out, deadline, signal, session?.tools);
  }
  for (;;) {
    if (end.kind !== 'done') return { outcome: abnormalEnd(vm, end, req, out), trusted: end.kind !== 'fault' };
    const { msg } = end;
    // exit(): the bridge ended the call with the code and no results
    if (msg.results.length === 0) return { outcome: { exitCode: msg.status & 0xff }, trusted: true };
    const [kind, a = 0n, b = 0n] = msg.results;
    if (kind === END_EXIT) return { outcome: { exitCode: Number(a) & 0xff }, trusted: true };
    if (kind === END_ERROR || kind === END_DUMP) {
      // an error's text is the guest's to make huge: more than the output could ever keep is not read
      const text = vm.linearMemory(msg).read(Number(a), Math.min(Number(b), MAX_ERROR_TEXT)).toString('utf8');
      return { outcome: errorOutcome(kind === END_ERROR ? fromFormatted(text) : fromDump(text), req, out), trusted: true };
    }
    if (kind !== END_SLEEP) return { outcome: outOfMemory(req, out), trusted: true };
    const ms = new Float64Array(new BigUint64Array([a]).buffer)[0]!;
    const left = deadline - Date.now();
    if (left <= 0 || ms >= left) {
      await sleep(Math.max(0, left), undefined, { signal });
      return { outcome: timedOut(out), trusted: true };
    }
    await sleep(ms, undefined, { signal });
    end = await invoke(vm, image, guest, 'ak_js_resume', [], undefined, out, deadline, signal, session?.tools);
  }
}

function timedOut(out: OutputSink): RuntimeOutcome {
  out.stderr('timeout: the run was stopped at its deadline\n');
  return { exitCode: EXIT.TIMEOUT };
}

/** A run stopped by the watchdog, a trap or a fault. Output still buffered in the guest is delivered first. */
function abnormalEnd(vm: MicroVm, end: Exclude<CallEnd, { kind: 'done' }>, req: CodeRequest, out: OutputSink): RuntimeOutcome {
  if (end.kind === 'timeout') {
    try {
      emit(parseOutputRecords(vm.readMsgData(vm.readMsg())), out);
    } catch {
      // stopped halfway through a record: what was complete is all there is
    }
    return timedOut(out);
  }
  if (end.kind === 'trap' && end.code === AK_TRAP_STACK_EXHAUSTED) {
    // as the wasm backend reports the host stack giving out
    const message = 'Maximum call stack size exceeded';
    out.stderr(`RangeError: ${message}\n`);
    return { exitCode: EXIT.TRAP, trap: { kind: 'stack_exhausted', message } };
  }
  if (end.kind === 'trap' && end.code === AK_TRAP_OUT_OF_MEMORY) return outOfMemory(req, out);
  const message = end.kind === 'trap' ? `QuickJS trapped (code ${end.code})` : `the micro-VM stopped: ${end.detail}`;
  out.stderr(`InternalError: ${message}\n`);
  return { exitCode: EXIT.TRAP, trap: { kind: 'unknown', message } };
}

function fromFormatted(text: string): GuestError {
  try {
    const j = JSON.parse(text) as { name: string; message: string; text: string };
    return { name: String(j.name), message: String(j.message), traceback: String(j.text) };
  } catch {
    // cut at MAX_ERROR_TEXT
    return { name: 'Error', message: '', traceback: text };
  }
}

/** QTS_Dump's JSON of an error the prelude could not format (as the wasm backend's fallback reads it). */
function fromDump(text: string): GuestError {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    d = text;
  }
  if (d && typeof d === 'object') {
    const o = d as { name?: unknown; message?: unknown; stack?: unknown };
    const name = String(o.name ?? 'Error');
    const message = String(o.message ?? '');
    return { name, message, traceback: `${name}: ${message}${typeof o.stack === 'string' && o.stack ? `\n${o.stack.replace(/\n$/, '')}` : ''}` };
  }
  return { name: 'Error', message: String(d), traceback: `Uncaught ${String(d)}` };
}

/** An uncaught exception, printed the way the wasm backend prints it; QuickJS's out-of-memory is exit 137. */
function errorOutcome(error: GuestError, req: CodeRequest, out: OutputSink): RuntimeOutcome {
  if (error.name === 'InternalError' && error.message === 'out of memory') {
    const message = `memory limit of ${req.memoryMb} MiB reached`;
    out.stderr(`${error.traceback}\n${message}\n`);
    return { exitCode: EXIT.MEMORY, trap: { kind: 'memory_limit', message }, error };
  }
  out.stderr(`${error.traceback}\n`);
  return { exitCode: EXIT.EXCEPTION, error };
}

/** The driver itself could not allocate. */
function outOfMemory(req: CodeRequest, out: OutputSink): RuntimeOutcome {
  const message = `memory limit of ${req.memoryMb} MiB reached`;
  out.stderr(`InternalError: out of memory\n${message}\n`);
  return { exitCode: EXIT.MEMORY, trap: { kind: 'memory_limit', message } };
}

