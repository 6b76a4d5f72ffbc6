/**
 * Worker side: instantiate a transpiled component with the confined WASI 0.2 host and either run its
 * wasi:cli/run export (a command) or call one exported function with JSON arguments. Every run instantiates
 * afresh; the loaded bindings and compiled core modules are cached per content hash (and memory cap).
 */
import { NotFoundError, ValidationError } from '../../core/errors.js';
import { EXIT } from '../../core/types.js';
import { compileModule, type WasmModule } from '../wasm/module.js';
import { isMemory, wasm, type WasmImports, type WasmInstance, type WasmMemory } from '../wasm/engine.js';
import { classifyTrap } from '../wasm/traps.js';
import type { TrapKind } from '../../core/types.js';
import type { OutputSink, RuntimeOutcome, RuntimeRequest } from '../types.js';
import type { TranspiledComponent } from './transpile.js';
import { camel, fromJs, toJs } from './values.js';
import { checkImports, ComponentExit, createHost } from './wasi-host.js';
import { parseWorld, type WitFunction } from './wit.js';

type InstantiateCore = (module: WasmModule, imports?: Record<string, unknown>) => Promise<WasmInstance>;
type Instantiate = (
  getCoreModule: (name: string) => Promise<WasmModule>,
  imports: Record<string, unknown>,
  instantiateCore: InstantiateCore,
) => Promise<Record<string, unknown>>;

const PAGE = 65536;

interface Loaded {
  instantiate: Instantiate;
  modules: Map<string, Promise<WasmModule>>;
}

const CACHE_SIZE = 16;
const loaded = new Map<string, Loaded>();

async function load(c: TranspiledComponent, memoryMb: number): Promise<Loaded> {
  const key = `${c.hash}:${memoryMb}`;
  const hit = loaded.get(key);
  if (hit) {
    loaded.delete(key);
    loaded.set(key, hit);
    return hit;
  }
  // an ES module from memory: the worker's filesystem is read-only, and this needs no eval
  const mod = (await import(`data:text/javascript;base64,${Buffer.from(c.js, 'utf8').toString('base64')}`)) as { instantiate: Instantiate };
  const entry: Loaded = { instantiate: mod.instantiate, modules: new Map() };
  loaded.set(key, entry);
  if (loaded.size > CACHE_SIZE) loaded.delete(loaded.keys().next().value as string);
  return entry;
}

export interface ComponentRequest extends RuntimeRequest {
  /** argv[0] of a command. */
  programName: string;
  args: string[];
}

export interface ComponentCall {
  /** As --invoke names it: `name`, `iface#name`, or a name unique among all exported functions. */
  name: string;
  args: unknown[];
}

/** `ns:pkg/iface@1.0.0#f` → `ns:pkg/iface#f`: a path may leave out the interface's version. */
const unversioned = (path: string): string => path.replace(/@[^#]*#/, '#');

/**
 * Find an exported function by its path (`f`, `iface#f`, `ns:pkg/iface@1.0.0#f`, or that without the version),
 * or by its bare name when that is unambiguous.
 */
export function findFunction(wit: string, name: string): WitFunction {
  const world = parseWorld(wit);
  const exact = world.functions.find((f) => f.path === name);
  if (exact) return exact;
  const candidates = name.includes('#')
    ? world.functions.filter((f) => unversioned(f.path) === name)
    : world.functions.filter((f) => f.name === name);
  if (candidates.length === 1) return candidates[0]!;
  const list = world.functions.map((f) => f.path).join(', ') || '(none)';
  if (candidates.length > 1) throw new ValidationError(`'${name}' is ambiguous: name one of ${candidates.map((f) => f.path).join(', ')}`);
  const untyped = world.untyped.filter((u) => !u.startsWith('wasi:'));
  throw new NotFoundError(
    `the component exports no function '${name}'; typed functions: ${list}` +
      (untyped.length ? `; exported interfaces whose types could not be read from the component (not invocable): ${untyped.join(', ')}` : ''),
    { export: name },
  );
}

/** The JSON arguments checked against the function's WIT types (ValidationError naming the parameter). */
export function checkArgs(fn: WitFunction, args: unknown[]): unknown[] {
  if (!Array.isArray(args)) throw new ValidationError('the arguments of --invoke must be a JSON array');
  if (args.length !== fn.params.length) {
    throw new ValidationError(`${fn.path} takes ${fn.params.length} argument(s) (${fn.params.map((p) => p.name).join(', ')}), got ${args.length}`);
  }
  return fn.params.map((p, i) => toJs(p.type, args[i], `argument '${p.name}'`));
}

/** jco's bindings reword V8's trap messages the way wasmtime words them ("wasm trap: ..."). */
const JCO_TRAPS: [RegExp, TrapKind][] = [
  [/`unreachable`/, 'unreachable'],
  [/out of bounds/, 'out_of_bounds'],
  [/integer divide by zero/, 'integer_divide_by_zero'],
  [/integer overflow/, 'integer_overflow'],
  [/invalid conversion to integer/, 'invalid_conversion'],
  [/indirect call type mismatch/, 'indirect_call_type_mismatch'],
  [/call stack exhausted/, 'stack_exhausted'],
];

function trapOf(e: unknown): { kind: TrapKind; message: string } | undefined {
  if (e instanceof wasm.RuntimeError && (e as Error).message.startsWith('wasm trap: ')) {
    const message = (e as Error).message.slice('wasm trap: '.length);
    return { kind: JCO_TRAPS.find(([re]) => re.test(message))?.[1] ?? 'unknown', message };
  }
  return classifyTrap(e);
}

/** The payload of a thrown top-level `result` error (jco throws it as is, or wrapped with a `payload`). */
function errPayload(e: unknown): { payload: unknown } | undefined {
  if (e instanceof ComponentExit || trapOf(e)) return undefined;
  if (e instanceof Error) return e.name === 'ComponentError' || 'payload' in e ? { payload: (e as { payload?: unknown }).payload } : undefined;
  return { payload: e };
}

async function execute(
  c: TranspiledComponent,
  req: ComponentRequest,
  out: OutputSink,
  call: (exports: Record<string, unknown>) => unknown,
): Promise<RuntimeOutcome & { returned?: unknown }> {
  const entry = await load(c, req.memoryMb);
  const host = await createHost({
    args: [req.programName, ...req.args], env: req.env, stdin: req.stdin, mounts: req.mounts,
    cwd: req.cwd ?? req.mounts[0]?.guestPath ?? '/', out,
  });
  try {
    checkImports(parseWorld(c.wit).imports, host.imports);
    const getCore = (name: string): Promise<WasmModule> => {
      let m = entry.modules.get(name);
      if (!m) {
        const bytes = c.cores[name];
        if (!bytes) throw new ValidationError(`the component's bindings asked for a missing core module ${name}`);
        m = compileModule(bytes, { memoryMb: req.memoryMb });
        entry.modules.set(name, m);
      }
      return m;
    };
    // the core instances' memories, to tell a guest that ran out of its memory cap from any other trap
    const memories: WasmMemory[] = [];
    const instantiateCore: InstantiateCore = async (module, imports) => {
      const instance = await wasm.instantiate(module, imports as WasmImports | undefined);
      for (const v of Object.values(instance.exports)) if (isMemory(v)) memories.push(v);
      return instance;
    };
    // close to the cap: the failed memory.grow may have asked for more than one page
    const cap = req.memoryMb * 1024 * 1024;
    const atCap = (): boolean => memories.some((m) => m.buffer.byteLength + Math.max(PAGE, cap / 16) > cap);
    try {
      const exports = await entry.instantiate(getCore, host.imports, instantiateCore);
      return { exitCode: EXIT.OK, returned: await call(exports) };
    } catch (e) {
      if (e instanceof ComponentExit) return { exitCode: e.code & 0xff };
      const trap = trapOf(e);
      if (trap) {
        if ((trap.kind === 'unreachable' || trap.kind === 'out_of_bounds') && atCap()) {
          trap.kind = 'memory_limit';
          trap.message = `linear memory reached its cap of ${req.memoryMb} MiB (${trap.message})`;
        }
        out.stderr(`wasm trap: ${trap.message}\n`);
        return { exitCode: trap.kind === 'memory_limit' ? EXIT.MEMORY : EXIT.TRAP, trap };
      }
      throw e;
    }
  } finally {
    host.close();
  }
}

/** Run the command's wasi:cli/run; `err` from run is exit code 1, like wasmtime. */
export async function runComponentCommand(c: TranspiledComponent, req: ComponentRequest, out: OutputSink): Promise<RuntimeOutcome> {
  const r = await execute(c, req, out, (exports) => {
    const run = (exports['wasi:cli/run@0.2.0'] ?? Object.entries(exports).find(([k]) => k.startsWith('wasi:cli/run@'))?.[1]) as { run?: () => void } | undefined;
    if (typeof run?.run !== 'function') {
      throw new ValidationError('the component exports no wasi:cli/run (it is not a command); call one of its functions with --invoke');
    }
    try {
      run.run();
      return 0;
    } catch (e) {
      if (errPayload(e)) return 1;
      throw e;
    }
  });
  const { returned, ...outcome } = r;
  return returned === 1 ? { exitCode: 1 } : outcome;
}

/** Call one export; its return value, as JSON, is the outcome's `value`. */
export async function invokeComponent(c: TranspiledComponent, call: ComponentCall, req: ComponentRequest, out: OutputSink): Promise<RuntimeOutcome> {
  const fn = findFunction(c.wit, call.name);
  const args = checkArgs(fn, call.args);
  const r = await execute(c, req, out, (exports) => {
    const holder = (fn.iface ? exports[fn.iface] : exports) as Record<string, unknown> | undefined;
    const f = holder?.[camel(fn.name)];
    if (typeof f !== 'function') throw new NotFoundError(`the component's bindings have no function ${fn.path}`, { export: fn.path });
    try {
      const v = (f as (...a: unknown[]) => unknown)(...args);
      // a top-level result is returned as its ok value and thrown as its err value by jco's bindings
      return { value: fn.result ? fromJs(fn.result, fn.result.kind === 'result' ? { tag: 'ok', val: v } : v) : null };
    } catch (e) {
      const err = errPayload(e);
      if (err && fn.result?.kind === 'result') return { value: fromJs(fn.result, { tag: 'err', val: err.payload }) };
      throw e;
    }
  });
  const value = (r.returned as { value?: unknown } | undefined)?.value;
  return value !== undefined && r.exitCode === EXIT.OK ? { exitCode: EXIT.OK, value } : { exitCode: r.exitCode, ...(r.trap ? { trap: r.trap } : {}) };
}
