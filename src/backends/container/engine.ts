/**
 * The container engine's command line, driven with argv arrays (never a shell string). One class serves every
 * engine; what differs between them (flags every call or every container needs, how the CLI words its own
 * failures, how another OCI runtime is selected) is an EngineProfile supplied by src/backends/docker,
 * src/backends/podman and src/backends/apple, and how the CLI's commands and output look is its EngineDialect.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { AgentKernelError, TimeoutError, UnavailableError } from '../../core/errors.js';
import { BoundedOutput } from '../../core/output.js';
import { dir } from '../../core/paths.js';
import { DOCKER_DIALECT, type EngineDialect } from './dialect.js';

export type EngineName = 'docker' | 'podman' | 'apple';

/** What differs between the engines. */
export interface EngineProfile {
  name: EngineName;
  /** The CLI to run (a name looked up on PATH, or a path). */
  binary: string;
  /** Flags before the sub-command of every call on a container created with `runtime` (podman selects its OCI runtime here). */
  globalArgs(runtime?: string): string[];
  /** Flags every container this engine creates needs on this machine (podman: rlimits it is allowed to set). */
  createArgs(runtime?: string): string[];
  /** Throws UnavailableError unless the OCI runtime (e.g. 'runsc') can be used with this engine here. */
  checkRuntime(engine: ContainerEngine, runtime: string): Promise<void>;
  /** Sub-command that removes a container at once, whatever runs in it (podman would first wait 10 s on SIGTERM). */
  removeNow: string[];
  /**
   * The engine may drop a command's output when the command exits without reading all of its stdin (podman 4
   * does, intermittently): such commands are then wrapped so that the rest of stdin is read before they exit.
   */
  drainStdin: boolean;
  /** Facts shown by `status` beyond the engine's version (runtime chosen, rlimits applied...). */
  describe(): Record<string, unknown>;
  /** How this CLI's commands and output look. @default docker's (podman speaks it too) */
  dialect?: EngineDialect;
}

export interface CallResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Engine calls that are bookkeeping (inspect, rm, ps) get this long before they count as hung. */
const CALL_TIMEOUT_MS = 60_000;
/** What an engine call may print before it is cut (its output is JSON or ids, never guest data). */
const CALL_OUTPUT_BYTES = 8 * 1024 * 1024;

export class ContainerEngine {
  readonly dialect: EngineDialect;

  constructor(readonly profile: EngineProfile) {
    this.dialect = profile.dialect ?? DOCKER_DIALECT;
  }

  get name(): EngineName {
    return this.profile.name;
  }

  /** argv for the engine CLI: global flags, then the sub-command's. */
  argv(args: string[], runtime?: string): string[] {
    return [...this.profile.globalArgs(runtime), ...args];
  }

  /** Start the CLI with the given stdio; the caller owns the child. */
  spawn(args: string[], opts: { runtime?: string; stdio: StdioOptions }): ChildProcess {
    // a working directory of our own: podman's conmon writes files such as `oom` into it when a container is
    // killed for memory, which must not land in the caller's project
    return spawn(this.profile.binary, this.argv(args, opts.runtime), { stdio: opts.stdio, cwd: dir('state', 'engine') });
  }

  /** Run one engine command to completion and collect its output. A non-zero exit is returned, not thrown. */
  call(args: string[], opts: { runtime?: string; timeoutMs?: number; stdin?: string } = {}): Promise<CallResult> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(args, { runtime: opts.runtime, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      const out = new BoundedOutput(CALL_OUTPUT_BYTES);
      const err = new BoundedOutput(CALL_OUTPUT_BYTES);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs ?? CALL_TIMEOUT_MS);
      child.stdout!.on('data', (d: Buffer) => out.write(d));
      child.stderr!.on('data', (d: Buffer) => err.write(d));
      if (opts.stdin !== undefined) {
        child.stdin!.on('error', () => {}); // the CLI may exit before reading everything; its exit code says why
        child.stdin!.end(opts.stdin);
      }
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(this.spawnError(e));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) {
          reject(new TimeoutError(`'${this.name} ${args[0]}' did not answer within ${Math.round((opts.timeoutMs ?? CALL_TIMEOUT_MS) / 1000)} s`, { engine: this.name }));
          return;
        }
        resolve({ exitCode: code ?? 128 + signalNumber(signal), stdout: out.text(), stderr: err.text() });
      });
    });
  }

  /** Like call(), but a non-zero exit becomes an error carrying the engine's complaint. */
  async check(args: string[], opts: { runtime?: string; timeoutMs?: number; stdin?: string } = {}): Promise<string> {
    const r = await this.call(args, opts);
    if (r.exitCode !== 0) throw this.failure(`${args[0]}${args[1] && !args[1].startsWith('-') ? ` ${args[1]}` : ''}`, r);
    return r.stdout;
  }

  /** An error for a failed engine command, with the engine's last words. */
  failure(what: string, r: CallResult): AgentKernelError {
    return new AgentKernelError('INTERNAL', `${this.name} ${what} failed (exit ${r.exitCode}): ${lastLine(r.stderr) || 'no message'}`, {
      engine: this.name, exitCode: r.exitCode, stderr: r.stderr.slice(-2000),
    });
  }

  spawnError(e: NodeJS.ErrnoException): AgentKernelError {
    if (e.code === 'ENOENT') return new UnavailableError(`the ${this.name} CLI ('${this.profile.binary}') is not installed or not on PATH`, { engine: this.name });
    if (e.code === 'EACCES') return new UnavailableError(`the ${this.name} CLI ('${this.profile.binary}') is not executable by this user`, { engine: this.name });
    return new AgentKernelError('INTERNAL', `could not run ${this.profile.binary}: ${e.message}`, { engine: this.name });
  }
}

/** The engine's own complaint is its last non-empty stderr line. */
export function lastLine(s: string): string {
  return s.trim().split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/** Shell convention for a child killed by a signal: 128 + its number. */
export function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? SIGNALS[signal] ?? 0 : 0;
}
