/**
 * The portable engine: V8's WebAssembly, QuickJS, Pyodide and a bash interpreter, run in pre-forked worker
 * processes that are themselves jailed (namespaces, seccomp, rlimits, a memory cap; Seatbelt on macOS). It works
 * wherever Node.js does; layers a machine cannot provide are reported in every result, never skipped silently.
 *
 * Persistent sandboxes are a host directory (state/wasm-fs/NAME) that their runs see read-write at /workspace.
 */
import { basename } from 'node:path';
import { realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { AbortError, ConflictError, UnavailableError, ValidationError, throwIfAborted } from '../../core/errors.js';
import { BoundedOutput } from '../../core/output.js';
import { dir } from '../../core/paths.js';
import { getProfile } from '../../core/profiles.js';
import {
  EXIT, type Availability, type Capabilities, type ExecOptions, type ExecResult, type FileEntry, type InvokeOptions,
  type Language, type Limits, type Mount, type RunCodeOptions, type RunComponentOptions, type RunHooks, type RunWasmOptions, type SandboxInfo,
  type SandboxSpec,
} from '../../core/types.js';
import { routeCommand } from '../../runtimes/command.js';
import { LANGUAGES, parseLanguage } from '../../runtimes/index.js';
import { loadModuleBytes } from '../../runtimes/wasm/module.js';
import { loadComponentBytes, transpileComponent } from '../../runtimes/component/index.js';
import { checkArgs, findFunction } from '../../runtimes/component/run.js';
import { SandboxStore, toInfo, validateSandboxName, type SandboxRecord } from '../../service/store.js';
import { BaseBackend } from '../base.js';
import { Jail, type JailOptions } from './jail/index.js';
import { runnerLaunch, type LaunchOptions } from './launch.js';
import { resolveLimits } from './limits.js';
import { normalizeMounts } from './mounts.js';
import { checkEnv, stdinBytes } from './request.js';
import { WorkerPool } from './pool.js';
import { PythonSnapshot } from './snapshot.js';
import { WasmSessions } from './sessions.js';
import { WorkerProcess, type JobEnd } from './worker-process.js';
import { moduleKey, type Job, type WireRequest } from './worker/protocol.js';
import { WORKSPACE, Workspace } from './workspace.js';

const MiB = 1024 * 1024;

export interface WasmBackendOptions {
  /** Workers kept started for runs without mounts. @default 2 */
  poolSize?: number;
  /** Workers with mounts (per distinct mount set) alive at once. @default 4 */
  maxMountWorkers?: number;
  /** A worker with mounts ends after this long unused (ms). @default 30000 */
  mountIdleMs?: number;
  /** A worker still holding more than this after a job is replaced (MiB). @default 768 */
  recycleRssMb?: number;
  /** V8 heap of a worker's own JavaScript (MiB); guest memory is capped separately. @default 512 */
  workerHeapMb?: number;
  /** Runtimes each worker loads as soon as it starts. @default ['javascript'] */
  prewarm?: Language[];
  /** Extra time after the timeout for a runtime to stop its guest itself before the host kills the worker (ms). @default 250 */
  timeoutGraceMs?: number;
  jail?: JailOptions;
  store?: SandboxStore;
}

export interface Dispatch {
  mounts: Mount[];
  limits: Limits;
  hooks: RunHooks;
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
  cwd?: string;
  /** Builds the job once the worker is known and the deadline fixed. */
  job: (req: WireRequest, knows: (hash: string) => boolean) => Job;
  moduleBytes?: Uint8Array;
}



export class WasmBackend extends BaseBackend {
  readonly name = 'wasm' as const;
  readonly jail: Jail;
  readonly pool: WorkerPool;
  readonly python: PythonSnapshot;
  /** Code sessions: a pinned worker each (sessions.ts). */
  readonly sessions: WasmSessions;
  private readonly store: SandboxStore;
  private readonly launch: LaunchOptions;
  private readonly grace: number;

  constructor(private readonly opts: WasmBackendOptions = {}) {
    super();
    this.jail = new Jail(opts.jail);
    this.store = opts.store ?? new SandboxStore();
    this.launch = { workerHeapMb: opts.workerHeapMb ?? 512, prewarm: opts.prewarm ?? ['javascript'] };
    this.grace = opts.timeoutGraceMs ?? 250;
    this.python = new PythonSnapshot(this.jail, this.launch);
    this.sessions = new WasmSessions({ jail: this.jail, launch: this.launch, python: this.python, dispatch: (d, w) => this.dispatch(d, w) });
    this.pool = new WorkerPool({
      size: opts.poolSize ?? 2,
      maxMountWorkers: opts.maxMountWorkers ?? 4,
      mountIdleMs: opts.mountIdleMs ?? 30_000,
      recycleRssBytes: (opts.recycleRssMb ?? 768) * MiB,
      spawn: (key, mounts) => WorkerProcess.start(this.jail, runnerLaunch(mounts, this.launch), key),
    });
  }

  capabilities(): Capabilities {
    return {
      lifecycle: true, exec: true, files: true, runWasm: true, invoke: true,
      languages: [...LANGUAGES], snapshot: false, wasmComponent: true,
    };
  }

  async availability(): Promise<Availability> {
    const plan = await this.jail.probe();
    const missing = plan.report.missing ?? [];
    return {
      available: true,
      ...(missing.length > 0 ? { reason: `degraded isolation: ${missing.map((m) => `${m.layer} (${m.reason})`).join('; ')}` } : {}),
      details: {
        jail: plan.kind,
        layers: plan.report.layers,
        missing,
        ...plan.details,
        pool: { size: this.opts.poolSize ?? 2, maxMountWorkers: this.opts.maxMountWorkers ?? 4, workers: this.pool.info() },
        pythonSnapshot: { path: this.python.path, ready: this.python.exists, ...(this.python.error ? { error: this.python.error } : {}) },
      },
    };
  }

  /** Start the workers now instead of on first use (servers call this at start-up). */
  warm(): void {
    this.pool.warm();
  }

  async close(): Promise<void> {
    // sessions are closed by the kernel that made them: another kernel in this process may share this backend
    await this.pool.close();
  }

  // ---- ephemeral work ------------------------------------------------------------------------------------------

  async runWasm(o: RunWasmOptions): Promise<ExecResult> {
    throwIfAborted(o.signal);
    const limits = resolveLimits(o);
    const mounts = normalizeMounts(o.mounts);
    const bytes = await loadModuleBytes(o.module);
    const hash = moduleKey(bytes, limits.memoryMb);
    const programName = typeof o.module === 'string' && !o.module.trimStart().startsWith('(') ? basename(o.module) : 'module.wasm';
    const args = (o.args ?? []).map(String);
    return this.dispatch({
      mounts, limits, hooks: o, env: o.env, stdin: o.stdin, cwd: o.cwd, moduleBytes: bytes,
      job: (req, knows) => ({ kind: 'wasm-start', module: knows(hash) ? { hash } : { hash, bytes }, programName, args, req }),
    });
  }

  async invoke(o: InvokeOptions): Promise<ExecResult> {
    throwIfAborted(o.signal);
    if (typeof o.export !== 'string' || o.export === '') throw new ValidationError('invoke needs the name of an exported function');
    const limits = resolveLimits(o);
    const mounts = normalizeMounts(o.mounts);
    const bytes = await loadModuleBytes(o.module);
    const hash = moduleKey(bytes, limits.memoryMb);
    const args = (o.args ?? []).map((a) => (typeof a === 'bigint' ? a.toString() : a));
    return this.dispatch({
      mounts, limits, hooks: o, env: o.env, stdin: o.stdin, cwd: o.cwd, moduleBytes: bytes,
      job: (req, knows) => ({ kind: 'wasm-invoke', module: knows(hash) ? { hash } : { hash, bytes }, export: o.export, args, req }),
    });
  }

  async runComponent(o: RunComponentOptions): Promise<ExecResult> {
    throwIfAborted(o.signal);
    const limits = resolveLimits(o);
    const mounts = normalizeMounts(o.mounts);
    // transpiled here, on the host (cached): the worker only instantiates
    const component = await transpileComponent(await loadComponentBytes(o.component));
    let invoke: { name: string; args: unknown[] } | undefined;
    if (o.invoke !== undefined) {
      if (typeof o.invoke !== 'string' || o.invoke === '') throw new ValidationError('invoke needs the name of an exported function');
      const args = o.invokeArgs ?? [];
      // checked before a worker is involved: a wrong argument is the caller's error, named by parameter
      checkArgs(findFunction(component.wit, o.invoke), args);
      invoke = { name: o.invoke, args };
    }
    const programName = typeof o.component === 'string' && !o.component.trimStart().startsWith('(') ? basename(o.component) : 'component.wasm';
    const args = (o.args ?? []).map(String);
    return this.dispatch({
      mounts, limits, hooks: o, env: o.env, stdin: o.stdin, cwd: o.cwd,
      job: (req) => ({ kind: 'component', component, programName, args, ...(invoke ? { invoke } : {}), req }),
    });
  }

  async runCode(language: Language, code: string, o: RunCodeOptions = {}): Promise<ExecResult> {
    throwIfAborted(o.signal);
    const lang = parseLanguage(language);
    if (typeof code !== 'string') throw new ValidationError('code must be a string');
    const limits = resolveLimits(o);
    const mounts = normalizeMounts(o.mounts);
    if (lang === 'python') await this.python.ensure();
    return this.dispatch({ mounts, limits, hooks: o, env: o.env, stdin: o.stdin, cwd: o.cwd, job: (req) => ({ kind: 'code', language: lang, code, req }) });
  }

  async run(argv: string[], o: ExecOptions & { image?: string; mounts?: Mount[] } = {}): Promise<ExecResult> {
    throwIfAborted(o.signal);
    return this.command(argv, { ...o, mounts: normalizeMounts(o.mounts) }, resolveLimits(o));
  }

  private async command(argv: string[], o: ExecOptions & { mounts: Mount[] }, limits: Limits): Promise<ExecResult> {
    // routed here too: an unknown program is refused before a worker is involved, and Python needs its snapshot
    const routed = routeCommand(argv);
    if (routed.kind !== 'wasm' && routed.language === 'python') await this.python.ensure();
    return this.dispatch({
      mounts: o.mounts, limits, hooks: o, env: o.env, stdin: o.stdin, cwd: o.cwd,
      job: (req) => ({ kind: 'command', argv: [...argv], req }),
    });
  }

  /** Send one job to a worker for these mounts (or to a session's own worker) and turn how it ended into an ExecResult. */
  private async dispatch(d: Dispatch, pinned?: WorkerProcess): Promise<ExecResult> {
    const signal = d.hooks.signal;
    const env = checkEnv(d.env);
    const stdin = stdinBytes(d.stdin);
    if (d.cwd !== undefined && (typeof d.cwd !== 'string' || !d.cwd.startsWith('/'))) throw new ValidationError('cwd must be an absolute guest path');
    const plan = await this.jail.probe();
    const started = performance.now();
    const stdout = new BoundedOutput(d.limits.outputBytes, d.hooks.onStdout);
    const stderr = new BoundedOutput(d.limits.outputBytes, d.hooks.onStderr);
    const worker = pinned ?? await this.pool.acquire(d.mounts, signal);
    let end: JobEnd | undefined;
    try {
      const req: WireRequest = {
        env, stdin, mounts: d.mounts, memoryMb: d.limits.memoryMb, deadline: Date.now() + d.limits.timeoutMs,
        ...(d.cwd !== undefined ? { cwd: d.cwd } : {}),
      };
      const job = d.job(req, (h) => worker.knowsModule(h));
      end = await worker.run(job, {
        outputBytes: d.limits.outputBytes,
        memoryMb: d.limits.memoryMb,
        hardTimeoutMs: d.limits.timeoutMs + this.grace,
        signal,
        moduleBytes: d.moduleBytes,
        onOutput: (c) => (c.stream === 'stdout' ? stdout : stderr).write(c.data),
      });
    } finally {
      if (!pinned) this.pool.release(worker, end?.kind === 'done' ? end.rss : undefined);
    }
    const base = { backend: this.name, isolation: plan.report };
    if (end.kind === 'killed') {
      if (end.reason === 'abort') throw new AbortError();
      if (end.reason === 'close') throw new UnavailableError('the run was stopped: the wasm backend was closed or its sandbox stopped');
      if (end.reason === 'timeout') stderr.write(`timeout: the run was stopped after ${d.limits.timeoutMs} ms\n`);
      const memory = end.reason === 'memory';
      const message = `the run exceeded its memory limit of ${d.limits.memoryMb} MiB and was stopped`;
      if (memory) stderr.write(`${message}\n`);
      stdout.end();
      stderr.end();
      return {
        exitCode: memory ? EXIT.MEMORY : EXIT.TIMEOUT,
        stdout: stdout.text(), stderr: stderr.text(),
        stdoutTruncated: stdout.truncated, stderrTruncated: stderr.truncated,
        durationMs: performance.now() - started,
        ...(memory ? { trap: { kind: 'memory_limit' as const, message } } : { timedOut: true }),
        ...base,
      };
    }
    stdout.end();
    stderr.end();
    const o = end.outcome;
    return {
      exitCode: o.exitCode,
      stdout: stdout.text(),
      stderr: stderr.text(),
      stdoutTruncated: stdout.truncated || end.dropped.stdout > 0,
      stderrTruncated: stderr.truncated || end.dropped.stderr > 0,
      durationMs: performance.now() - started,
      ...(o.exitCode === EXIT.TIMEOUT ? { timedOut: true } : {}),
      ...(o.trap ? { trap: o.trap } : {}),
      ...(o.error ? { error: o.error } : {}),
      ...(o.results ? { results: o.results } : {}),
      ...('value' in o ? { value: o.value } : {}),
      ...base,
    };
  }

  // ---- persistent sandboxes ------------------------------------------------------------------------------------

  private workspaceDir(name: string): string {
    return dir('state', 'wasm-fs', validateSandboxName(name));
  }

  private record(name: string): SandboxRecord {
    const rec = this.store.require(validateSandboxName(name));
    if (rec.backend !== this.name) throw new ConflictError(`sandbox '${name}' belongs to backend '${rec.backend}'`, { name, backend: rec.backend });
    return rec;
  }

  /** The mounts of a sandbox's runs: its directory at /workspace (read-write), then the spec's own mounts. */
  private sandboxMounts(rec: SandboxRecord): Mount[] {
    const ws: Mount = { hostPath: this.workspaceDir(rec.name), guestPath: WORKSPACE, readOnly: false };
    return normalizeMounts([ws, ...(rec.spec.mounts ?? [])]);
  }

  async create(spec: SandboxSpec): Promise<SandboxInfo> {
    validateSandboxName(spec.name);
    const profile = getProfile(spec.profile).name;
    checkEnv(spec.env);
    normalizeMounts(spec.mounts);
    const rec = this.store.reserve(spec, this.name, profile);
    try {
      const ws = this.workspaceDir(spec.name);
      rec.status = 'running';
      rec.backendData = { workspace: ws };
      // guests here never get sockets, whatever the spec asked
      rec.applied = { network: false, workspace: WORKSPACE, readOnlyRoot: true, memoryMb: spec.memoryMb ?? getProfile(profile).memoryMb };
      this.store.put(rec);
    } catch (e) {
      this.store.delete(spec.name);
      throw e;
    }
    return toInfo(rec);
  }

  async start(name: string): Promise<SandboxInfo> {
    const rec = this.record(name);
    if (rec.status === 'running') return toInfo(rec);
    return toInfo(this.store.update(name, { status: 'running' }));
  }

  async stop(name: string): Promise<SandboxInfo> {
    this.record(name);
    const info = toInfo(this.store.update(name, { status: 'stopped' }));
    await this.pool.closeMount(realpathSync(this.workspaceDir(name)));
    return info;
  }

  async remove(name: string): Promise<void> {
    this.record(name);
    await this.pool.closeMount(realpathSync(this.workspaceDir(name)));
    await rm(this.workspaceDir(name), { recursive: true, force: true });
    this.store.delete(name);
  }

  async list(): Promise<SandboxInfo[]> {
    return this.store.list(this.name).map(toInfo);
  }

  async exec(name: string, argv: string[], o: ExecOptions = {}): Promise<ExecResult> {
    throwIfAborted(o.signal);
    const rec = this.record(name);
    if (rec.status === 'stopped') throw new ConflictError(`sandbox '${name}' is stopped; start it first`, { name });
    const limits = resolveLimits({ ...o, profile: rec.profile }, { memoryMb: rec.spec.memoryMb });
    return this.command(argv, {
      ...o,
      env: { ...(rec.spec.env ?? {}), ...(o.env ?? {}) },
      cwd: o.cwd ?? WORKSPACE,
      mounts: this.sandboxMounts(rec),
    }, limits);
  }

  private workspace(name: string): Workspace {
    this.record(name);
    return new Workspace(this.workspaceDir(name));
  }

  async readFile(name: string, path: string): Promise<Uint8Array> {
    return this.workspace(name).read(path);
  }

  async writeFile(name: string, path: string, data: Uint8Array | string): Promise<void> {
    return this.workspace(name).write(path, data);
  }

  async listFiles(name: string, path: string): Promise<FileEntry[]> {
    return this.workspace(name).list(path);
  }

  async removeFile(name: string, path: string): Promise<void> {
    return this.workspace(name).remove(path);
  }
}

export function createWasmBackend(opts?: WasmBackendOptions): WasmBackend {
  return new WasmBackend(opts);
}
