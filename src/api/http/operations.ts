/**
 * The operations behind both the HTTP API and the MCP server: a validated wire request in, a call on AgentKernel
 * out. Written once so that an HTTP route and the matching MCP tool cannot drift apart. The server's limits are
 * the defaults and the maxima of every run.
 */
import type { AgentKernel, BackendChoice } from '../../service/kernel.js';
import type { ExecOptions, ExecResult, FileEntry, Limits, RunHooks, SandboxInfo } from '../../core/types.js';
import { AgentKernelError, ValidationError, throwIfAborted } from '../../core/errors.js';
import type { CodeRequest, ComponentRequest, CreateSandboxRequest, ExecFields, ExecRequest, RunRequest, WasmRequest } from './schemas.js';

export interface ApiContext {
  kernel: AgentKernel;
  /** Ceilings (and defaults) for timeout, memory and output of each run. */
  limits: Limits;
}

const CEILINGS: [keyof ExecFields & string, keyof Limits, string][] = [
  ['timeout_ms', 'timeoutMs', '--timeout'],
  ['memory_mb', 'memoryMb', '--memory'],
  ['output_bytes', 'outputBytes', '--output-limit'],
];

export function execOptions(ctx: ApiContext, b: ExecFields, hooks: RunHooks): ExecOptions {
  for (const [field, limit, flag] of CEILINGS) {
    const v = b[field] as number | undefined;
    if (v !== undefined && v > ctx.limits[limit]) {
      throw new ValidationError(`${field} ${v} is above this server's limit of ${ctx.limits[limit]} (start the server with a higher ${flag} to allow it)`, { field, limit: ctx.limits[limit] });
    }
  }
  return {
    env: b.env,
    cwd: b.cwd,
    stdin: b.stdin,
    timeoutMs: b.timeout_ms ?? ctx.limits.timeoutMs,
    memoryMb: b.memory_mb ?? ctx.limits.memoryMb,
    outputBytes: b.output_bytes ?? ctx.limits.outputBytes,
    ...hooks,
  };
}

function choice(b: { backend?: string; profile?: string }): BackendChoice & { profile?: string } {
  return { backend: b.backend, profile: b.profile };
}

export function runCommand(ctx: ApiContext, b: RunRequest, hooks: RunHooks = {}): Promise<ExecResult> {
  return ctx.kernel.run(b.command, { ...execOptions(ctx, b, hooks), ...choice(b), image: b.image });
}

export function runCode(ctx: ApiContext, b: CodeRequest, hooks: RunHooks = {}): Promise<ExecResult> {
  return ctx.kernel.runCode(b.language, b.code, { ...execOptions(ctx, b, hooks), ...choice(b) });
}

/** Exactly one way to name the module: bytes (binary or text) go as a Uint8Array, a path as a string. */
function moduleSource(b: WasmRequest): Uint8Array | string {
  const given = [b.module, b.wat, b.module_path].filter((x) => x !== undefined).length;
  if (given !== 1) throw new ValidationError('give exactly one of module (base64), wat (text) or module_path');
  if (b.module !== undefined) return new Uint8Array(Buffer.from(b.module, 'base64'));
  if (b.wat !== undefined) return new TextEncoder().encode(b.wat);
  return b.module_path!;
}

export function runWasm(ctx: ApiContext, b: WasmRequest, hooks: RunHooks = {}): Promise<ExecResult> {
  const module = moduleSource(b);
  const opts = { ...execOptions(ctx, b, hooks), ...choice(b), module };
  if (b.invoke !== undefined) return ctx.kernel.invoke({ ...opts, export: b.invoke, args: b.args });
  return ctx.kernel.runWasm({ ...opts, args: (b.args ?? []).map(String) });
}

/** Exactly one way to name the component, as for modules. */
function componentSource(b: ComponentRequest): Uint8Array | string {
  const given = [b.component, b.wat, b.component_path].filter((x) => x !== undefined).length;
  if (given !== 1) throw new ValidationError('give exactly one of component (base64), wat (text) or component_path');
  if (b.component !== undefined) return new Uint8Array(Buffer.from(b.component, 'base64'));
  if (b.wat !== undefined) return new TextEncoder().encode(b.wat);
  return b.component_path!;
}

export function runComponent(ctx: ApiContext, b: ComponentRequest, hooks: RunHooks = {}): Promise<ExecResult> {
  const opts = { ...execOptions(ctx, b, hooks), ...choice(b), component: componentSource(b) };
  if (b.invoke !== undefined) return ctx.kernel.runComponent({ ...opts, invoke: b.invoke, invokeArgs: b.args ?? [] });
  const args = b.args ?? [];
  if (!args.every((a) => typeof a === 'string')) throw new ValidationError('args of a command component are strings', { field: 'args' });
  return ctx.kernel.runComponent({ ...opts, args: args as string[] });
}

export function execIn(ctx: ApiContext, name: string, b: ExecRequest, hooks: RunHooks = {}): Promise<ExecResult> {
  return ctx.kernel.exec(name, b.command, execOptions(ctx, b, hooks));
}

export function createSandbox(ctx: ApiContext, b: CreateSandboxRequest): Promise<SandboxInfo> {
  if (b.memory_mb !== undefined && b.memory_mb > ctx.limits.memoryMb) {
    throw new ValidationError(`memory_mb ${b.memory_mb} is above this server's limit of ${ctx.limits.memoryMb}`, { field: 'memory_mb' });
  }
  return ctx.kernel.create({
    name: b.name, image: b.image, memoryMb: b.memory_mb, cpus: b.cpus, env: b.env, network: b.network, ...choice(b),
  });
}

/**
 * A guest path as given by a client: NUL bytes and `..` segments are refused here (the backend checks again
 * against its own root); `.` and empty segments are dropped. Relative paths stay relative: the backend resolves
 * them against the sandbox's working directory (the wasm backend's is /workspace); '.' is that directory.
 */
export function guestPath(raw: string): string {
  if (typeof raw !== 'string' || raw === '') throw new ValidationError('empty file path');
  if (raw.includes('\0')) throw new ValidationError('file path contains a NUL byte');
  const parts = raw.split('/');
  if (parts.includes('..')) throw new ValidationError(`file path may not contain '..': ${JSON.stringify(raw)}`, { path: raw });
  const kept = parts.filter((p) => p !== '' && p !== '.');
  if (raw.startsWith('/')) return `/${kept.join('/')}`;
  return kept.length ? kept.join('/') : '.';
}

export type PathContent = { kind: 'file'; data: Uint8Array } | { kind: 'dir'; entries: FileEntry[] };

/**
 * A file's bytes, or a directory's entries. Reading comes first (the common case); only when that fails for a
 * reason other than "not found" is the path tried as a directory, and the read's error stands if that fails too.
 */
export async function readPath(ctx: ApiContext, name: string, path: string, signal?: AbortSignal): Promise<PathContent> {
  try {
    return { kind: 'file', data: await ctx.kernel.readFile(name, path) };
  } catch (readErr) {
    if (readErr instanceof AgentKernelError && readErr.code === 'NOT_FOUND') throw readErr;
    throwIfAborted(signal);
    try {
      return { kind: 'dir', entries: await ctx.kernel.listFiles(name, path) };
    } catch {
      throw readErr;
    }
  }
}

