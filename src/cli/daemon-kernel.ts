/**
 * The CLI's use of a running daemon. When `agentkernel daemon start` has a server on its unix socket, commands
 * that run or manage sandboxes send their work there, where pools are already warm, instead of starting
 * workers, VMs or containers in this short-lived process. Anything the wire API cannot carry exactly as this
 * process would do it (host directories with --dir, binary stdin, --no-network, a per-project agentkernel.toml,
 * limits above the daemon's ceilings) runs in-process instead, as it does when no daemon runs; so does a call
 * when the daemon cannot be reached, since such a request never started anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AgentKernelError } from '../core/errors.js';
import { location } from '../core/paths.js';
import type { ExecOptions, ExecResult, FileEntry, InvokeOptions, Language, RunCodeOptions, RunWasmOptions, SandboxInfo, SandboxSpec } from '../core/types.js';
import type { AgentKernel, BackendChoice, RunOptions } from '../service/kernel.js';
import type { BackendName } from '../core/types.js';
import type { ProfileName } from '../core/profiles.js';
import type { PidRecord } from './commands/serve.js';
import type { RunFlags } from './options.js';
import type { HttpTransport } from '../sdk/transport/http.js';

/** `AGENTKERNEL_NO_DAEMON=1` keeps every command in-process. */
const OPT_OUT = 'AGENTKERNEL_NO_DAEMON';

/** The daemon's socket, when a daemon has recorded one and it exists; undefined otherwise (no round trip). */
export function daemonSocket(): string | undefined {
  try {
    const rec = JSON.parse(readFileSync(location('state', 'daemon.json'), 'utf8')) as PidRecord;
    return typeof rec.socket === 'string' && existsSync(rec.socket) ? rec.socket : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this CLI call may hand its work to the daemon at all. */
export function mayUseDaemon(f: RunFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): boolean {
  if (env[OPT_OUT] && env[OPT_OUT] !== '0') return false;
  // the daemon has its own settings: a config file for this call (or project) means in-process
  if (f.config || env.AGENTKERNEL_CONFIG || existsSync(resolve(cwd, 'agentkernel.toml'))) return false;
  if (f.network === false) return false; // no wire field for it
  return true;
}

/** The request never reached a server (nothing ran), or asked for more than the daemon allows. */
function retryLocally(e: unknown): boolean {
  if (!(e instanceof AgentKernelError)) return false;
  const d = e.details ?? {};
  return (e.code === 'UNAVAILABLE' && d.unreachable === true) || (e.code === 'VALIDATION' && typeof d.limit === 'number');
}

function envInt(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const v = env[key];
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** The settings a flag or AGENTKERNEL_* variable gave explicitly; the daemon's own defaults fill the rest. */
function explicitChoices(f: RunFlags, env: NodeJS.ProcessEnv) {
  return {
    backend: (f.backend ?? env.AGENTKERNEL_BACKEND) as BackendName | undefined,
    profile: (f.profile ?? env.AGENTKERNEL_PROFILE) as ProfileName | undefined,
    timeoutMs: f.timeout ?? envInt(env, 'AGENTKERNEL_TIMEOUT_MS'),
    memoryMb: f.memory ?? envInt(env, 'AGENTKERNEL_MEMORY_MB'),
    outputBytes: f.outputLimit ?? envInt(env, 'AGENTKERNEL_OUTPUT_BYTES'),
    image: f.image,
  };
}

type Local = () => AgentKernel;

/** stdin as the wire's UTF-8 text, or undefined when it is bytes that would not survive that. */
function textStdin(stdin: ExecOptions['stdin']): { ok: boolean; text?: string } {
  if (stdin === undefined || typeof stdin === 'string') return { ok: true, text: stdin };
  const text = Buffer.from(stdin).toString('utf8');
  return Buffer.from(text, 'utf8').equals(Buffer.from(stdin)) ? { ok: true, text } : { ok: false };
}

/**
 * The kernel calls of the CLI, over the daemon's socket. Methods the CLI uses that have no wire form (settings,
 * status, the store...) are answered by a local kernel, made on first need.
 */
class DaemonKernel {
  private transport?: Promise<HttpTransport>;
  private readonly choices: ReturnType<typeof explicitChoices>;

  constructor(private readonly socketPath: string, flags: RunFlags, private readonly local: Local, env: NodeJS.ProcessEnv) {
    this.choices = explicitChoices(flags, env);
  }

  /** A call over the socket. The HTTP client (node:http and the wire code) loads on the first one. */
  private wire<T>(call: (t: HttpTransport) => Promise<T>): () => Promise<T> {
    return async () => {
      this.transport ??= import('../sdk/transport/http.js').then((m) => new m.HttpTransport({ socketPath: this.socketPath }));
      return call(await this.transport);
    };
  }

  /** Over the socket when `remote` is defined, else (or when the daemon cannot take it) in this process. */
  private async either<T>(remote: (() => Promise<T>) | undefined, here: (k: AgentKernel) => Promise<T>): Promise<T> {
    if (remote) {
      try {
        return await remote();
      } catch (e) {
        if (!retryLocally(e)) throw e;
      }
    }
    return here(this.local());
  }

  private runOpts(o: ExecOptions & BackendChoice) {
    const stdin = textStdin(o.stdin);
    if (!stdin.ok) return undefined;
    const c = this.choices;
    return {
      env: o.env, cwd: o.cwd, stdin: stdin.text, signal: o.signal, onStdout: o.onStdout, onStderr: o.onStderr,
      timeoutMs: o.timeoutMs ?? c.timeoutMs, memoryMb: o.memoryMb ?? c.memoryMb, outputBytes: o.outputBytes ?? c.outputBytes,
      backend: (o.backend ?? c.backend) as BackendName | undefined, profile: (o.profile ?? c.profile) as ProfileName | undefined,
    };
  }

  /** A module named by path is read here, where the path means what the user meant. */
  private static async moduleBytes(m: Uint8Array | string): Promise<Uint8Array> {
    return typeof m === 'string' ? new Uint8Array(await readFile(resolve(m))) : m;
  }

  runWasm(o: RunWasmOptions & BackendChoice): Promise<ExecResult> {
    const w = o.mounts?.length ? undefined : this.runOpts(o);
    return this.either(w && this.wire(async (t) => t.runWasm(await DaemonKernel.moduleBytes(o.module), { ...w, args: o.args })), (k) => k.runWasm(o));
  }

  invoke(o: InvokeOptions & BackendChoice): Promise<ExecResult> {
    const w = o.mounts?.length ? undefined : this.runOpts(o);
    const args = o.args?.map((a) => (typeof a === 'bigint' ? a.toString() : a));
    return this.either(w && this.wire(async (t) => t.runWasm(await DaemonKernel.moduleBytes(o.module), { ...w, invoke: o.export, args })), (k) => k.invoke(o));
  }

  runCode(language: Language, code: string, o: RunCodeOptions & BackendChoice = {}): Promise<ExecResult> {
    const w = o.mounts?.length ? undefined : this.runOpts(o);
    return this.either(w && this.wire((t) => t.runCode(language, code, w)), (k) => k.runCode(language, code, o));
  }

  run(argv: string[], o: RunOptions = {}): Promise<ExecResult> {
    const w = o.mounts?.length ? undefined : this.runOpts(o);
    return this.either(w && this.wire((t) => t.run(argv, { ...w, image: o.image ?? this.choices.image })), (k) => k.run(argv, o));
  }

  exec(name: string, argv: string[], o: ExecOptions = {}): Promise<ExecResult> {
    const w = this.runOpts(o);
    return this.either(w && this.wire((t) => t.exec(name, argv, w)), (k) => k.exec(name, argv, o));
  }

  create(spec: SandboxSpec & BackendChoice): Promise<SandboxInfo> {
    const c = this.choices;
    const remote = spec.mounts?.length || spec.network === false ? undefined : this.wire((t) => t.create({
      name: spec.name, backend: (spec.backend ?? c.backend) as BackendName | undefined, profile: (spec.profile ?? c.profile) as ProfileName | undefined,
      image: spec.image ?? c.image, env: spec.env, memoryMb: spec.memoryMb ?? c.memoryMb, cpus: spec.cpus, network: spec.network,
    }, {}));
    return this.either(remote, (k) => k.create(spec));
  }

  start(name: string): Promise<SandboxInfo> { return this.either(this.wire((t) => t.start(name, {})), (k) => k.start(name)); }
  stop(name: string): Promise<SandboxInfo> { return this.either(this.wire((t) => t.stop(name, {})), (k) => k.stop(name)); }
  remove(name: string): Promise<void> { return this.either(this.wire((t) => t.remove(name, {})), (k) => k.remove(name)); }
  list(): Promise<SandboxInfo[]> { return this.either(this.wire((t) => t.list({})), (k) => k.list()); }
  get(name: string): Promise<SandboxInfo> { return this.either(this.wire((t) => t.get(name, {})), (k) => k.get(name)); }
  readFile(name: string, path: string): Promise<Uint8Array> { return this.either(this.wire((t) => t.readFile(name, path, {})), (k) => k.readFile(name, path)); }
  listFiles(name: string, path: string): Promise<FileEntry[]> { return this.either(this.wire((t) => t.listFiles(name, path, {})), (k) => k.listFiles(name, path)); }
  removeFile(name: string, path: string): Promise<void> { return this.either(this.wire((t) => t.removeFile(name, path, {})), (k) => k.removeFile(name, path)); }
  writeFile(name: string, path: string, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    return this.either(this.wire((t) => t.writeFile(name, path, bytes, {})), (k) => k.writeFile(name, path, data));
  }
}

/**
 * A kernel for this CLI call that works through the daemon when one runs, else undefined. Whatever it does not
 * implement itself comes from the local kernel (made on first use), so commands need not know which they got.
 */
export function daemonKernel(f: RunFlags, local: Local, env: NodeJS.ProcessEnv = process.env): AgentKernel | undefined {
  if (!mayUseDaemon(f, env)) return undefined;
  const socket = daemonSocket();
  if (!socket) return undefined;
  let made: AgentKernel | undefined;
  const lazyLocal = () => (made ??= local());
  const remote = new DaemonKernel(socket, f, lazyLocal, env);
  return new Proxy(remote, {
    get(target, prop) {
      if (prop === 'close') return async () => { await made?.close(); };
      if (prop in target) {
        const v = (target as unknown as Record<PropertyKey, unknown>)[prop];
        return typeof v === 'function' ? v.bind(target) : v;
      }
      const k = lazyLocal() as unknown as Record<PropertyKey, unknown>;
      const v = k[prop];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(k) : v;
    },
  }) as unknown as AgentKernel;
}
