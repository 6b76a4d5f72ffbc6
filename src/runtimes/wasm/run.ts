/**
 * The V8 executor used inside the jailed worker: a fresh instance per call, WASI preview1 as its imports, and
 * every way a run can end (exit, trap, memory cap) turned into a RuntimeOutcome.
 */
import { NotFoundError, ValidationError } from '../../core/errors.js';
import { EXIT } from '../../core/types.js';
import type { OutputSink, RuntimeOutcome, RuntimeRequest } from '../types.js';
import { WasiExit, WasiPreview1 } from '../wasi/wasi.js';
import { isMemory, wasm, type WasmMemory, type WasmModule } from './engine.js';
import type { ModuleInfo } from './inspect.js';
import { formatResults, formatSignature, parseInvokeArgs } from './invoke-args.js';
import { linkImports } from './link.js';
import { moduleInfo } from './module.js';
import { classifyTrap } from './traps.js';

const PAGE = 65536;
const EMPTY = new Uint8Array(0);

type Call = (exports: Record<string, unknown>) => unknown;

/** A trap while memory cannot grow any further is, in all likelihood, the guest's allocator giving up. */
function atMemoryCap(memory: WasmMemory | undefined, memoryMb: number): boolean {
  return memory !== undefined && memory.buffer.byteLength + PAGE > memoryMb * 1024 * 1024;
}

function findMemory(exports: Record<string, unknown>): WasmMemory | undefined {
  if (isMemory(exports.memory)) return exports.memory;
  return Object.values(exports).find(isMemory);
}

async function execute(
  module: WasmModule,
  info: ModuleInfo | undefined,
  args: string[],
  req: RuntimeRequest,
  out: OutputSink,
  call: Call,
): Promise<RuntimeOutcome & { value?: unknown; returned?: boolean }> {
  const wasi = new WasiPreview1({ args, env: req.env, stdin: req.stdin, out, mounts: req.mounts, deadline: req.deadline });
  let memory: WasmMemory | undefined;
  try {
    const linked = linkImports(module, info, wasi);
    memory = linked.memory;
    // re-read on every WASI call: memory.grow replaces the buffer
    wasi.bindMemory(() => (memory ? new Uint8Array(memory.buffer) : EMPTY));
    let instance;
    try {
      // synchronous: the module is compiled already, and the async form costs an event-loop round trip per run
      instance = new wasm.Instance(module, linked.imports);
    } catch (e) {
      if (e instanceof wasm.LinkError) throw new ValidationError(`cannot link the module: ${(e as Error).message}`);
      throw e;
    }
    memory ??= findMemory(instance.exports);
    const value = call(instance.exports);
    return { exitCode: EXIT.OK, value, returned: true };
  } catch (e) {
    // POSIX keeps the low 8 bits of an exit status
    if (e instanceof WasiExit) return { exitCode: e.code & 0xff };
    const trap = classifyTrap(e);
    if (!trap) throw e;
    if ((trap.kind === 'unreachable' || trap.kind === 'out_of_bounds') && atMemoryCap(memory, req.memoryMb)) {
      trap.kind = 'memory_limit';
      trap.message = `linear memory reached its cap of ${req.memoryMb} MiB (${trap.message})`;
    }
    out.stderr(`wasm trap: ${trap.message}\n`);
    return { exitCode: trap.kind === 'memory_limit' ? EXIT.MEMORY : EXIT.TRAP, trap };
  } finally {
    wasi.close();
  }
}

function exportList(module: WasmModule, info: ModuleInfo | undefined): string {
  const names = info
    ? info.exports.map((e) => (e.kind === 'func' ? formatSignature(e) : `${e.name} (${e.kind})`))
    : wasm.Module.exports(module).map((e) => `${e.name} (${e.kind})`);
  return names.length > 0 ? names.join(', ') : '(none)';
}

/** Runs `_start` of a WASI command module; argv is [programName, ...args]. */
export async function runWasiCommand(
  module: WasmModule,
  req: RuntimeRequest & { args: string[]; programName: string },
  out: OutputSink,
): Promise<RuntimeOutcome> {
  const info = moduleInfo(module);
  if (!wasm.Module.exports(module).some((e) => e.name === '_start' && e.kind === 'function')) {
    throw new ValidationError(`the module has no _start export, so it is not a WASI command; its exports: ${exportList(module, info)}`);
  }
  const r = await execute(module, info, [req.programName, ...req.args], req, out, (exports) => (exports._start as () => void)());
  return r.trap ? { exitCode: r.exitCode, trap: r.trap } : { exitCode: r.exitCode };
}

/** Calls one exported function with typed arguments; a reactor's `_initialize` runs first. */
export async function invokeExport(
  module: WasmModule,
  exportName: string,
  args: (string | number | bigint)[],
  req: RuntimeRequest,
  out: OutputSink,
): Promise<RuntimeOutcome> {
  const info = moduleInfo(module);
  if (!info) throw new ValidationError('invoke needs the module signatures: compile it with compileModule()');
  const fn = info.exports.find((e) => e.kind === 'func' && e.name === exportName);
  if (!fn) {
    const funcs = info.exports.filter((e) => e.kind === 'func').map(formatSignature);
    throw new NotFoundError(`the module exports no function named "${exportName}"; exported functions: ${funcs.length > 0 ? funcs.join(', ') : '(none)'}`, {
      export: exportName,
    });
  }
  if (fn.results.includes('v128')) throw new ValidationError(`${formatSignature(fn)} returns a v128, which cannot be reported as a result`);
  const values = parseInvokeArgs(fn, args);
  const r = await execute(module, info, [exportName], req, out, (exports) => {
    if (exportName !== '_initialize' && typeof exports._initialize === 'function') (exports._initialize as () => void)();
    return (exports[exportName] as (...a: unknown[]) => unknown)(...values);
  });
  // results only when the function returned (not when it called proc_exit)
  if (r.trap) return { exitCode: r.exitCode, trap: r.trap };
  return r.returned ? { exitCode: r.exitCode, results: formatResults(fn.results, r.value) } : { exitCode: r.exitCode };
}
