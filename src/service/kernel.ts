/**
 * AgentKernel: the one in-process entry point that the CLI, the HTTP API, the MCP server and the SDK's local mode all
 * use. It resolves settings (profile, limits, backend choice), selects the backend for each operation, and routes
 * lifecycle operations to the backend recorded for the sandbox. Backends themselves never read config or flags.
 */
import { loadConfig, resolveSettings, parseBackendName, type Settings, type SettingsOverrides } from '../core/config.js';
import { getProfile } from '../core/profiles.js';
import { NotFoundError, UnsupportedError, isAgentKernelError, throwIfAborted } from '../core/errors.js';
import type {
  Backend, BackendName, CapabilityName, ExecOptions, ExecResult, FileEntry, InvokeOptions, Language, Mount,
  RunCodeOptions, RunComponentOptions, RunWasmOptions, SandboxInfo, SandboxSpec,
} from '../core/types.js';
import { selectBackend, probeAll, type BackendStatus } from '../backends/detect.js';
import { loadBackend, closeLoadedBackends } from '../backends/registry.js';
import { requireCapability } from '../backends/base.js';
import { SandboxStore, validateSandboxName, toInfo } from './store.js';
import { SessionManager, type SessionCallOptions, type SessionInfo, type SnapshotInfo } from './sessions.js';
import type { ToolFn, ToolInfo, ToolSchema } from './tools.js';
import { AuditLog, audited, digest, envKeys, resultFields, type AuditFields, type AuditOrigin } from '../audit/index.js';

/** Every operation may name its backend; otherwise settings, then automatic selection, decide. */
export interface BackendChoice {
  backend?: BackendName | string;
}

export type RunOptions = ExecOptions & BackendChoice & { image?: string; mounts?: Mount[] };

export class AgentKernel {
  readonly settings: Settings;
  readonly store: SandboxStore;
  /** Lifecycle events and commands, as JSON lines (see src/audit). */
  readonly audit: AuditLog;
  /** Code sessions of this process (docs/sessions.md). */
  readonly sessions: SessionManager;

  constructor(opts: {
    settings?: Settings; overrides?: SettingsOverrides; configPath?: string; store?: SandboxStore;
    /** Which interface the calls come through, written in every audit record. @default 'library' */
    origin?: AuditOrigin;
  } = {}) {
    this.settings = opts.settings ?? resolveSettings(loadConfig(opts.configPath), opts.overrides ?? {});
    this.store = opts.store ?? new SandboxStore();
    this.audit = new AuditLog(this.settings.audit, opts.origin);
    this.sessions = new SessionManager({ memoryMb: () => this.settings.limits.memoryMb });
  }

  /** Run guest code under audit: a `started` record, then the outcome with the exit code. */
  private guest(event: string, fields: AuditFields, fn: () => Promise<ExecResult>): Promise<ExecResult> {
    return audited(this.audit, event, fields, fn, { start: true, end: resultFields });
  }

  /** A lifecycle or file operation under audit: one record with its outcome. */
  private op<T>(event: string, fields: AuditFields, fn: () => Promise<T>, end?: (r: T) => AuditFields): Promise<T> {
    return audited(this.audit, event, fields, fn, { end });
  }

  private explicit(choice?: BackendChoice): BackendName | undefined {
    const n = choice?.backend ?? this.settings.backend;
    return n ? parseBackendName(n) : undefined;
  }

  /** The backend an operation would use (exposed for `status` and for callers that want to know). */
  async backendFor(capability: CapabilityName, choice?: BackendChoice): Promise<Backend> {
    return selectBackend(capability, this.explicit(choice));
  }

  /** Fill limits and profile from settings where the call left them out. */
  private withLimits<T extends ExecOptions>(opts: T): T {
    const l = this.settings.limits;
    return {
      ...opts,
      profile: opts.profile ?? this.settings.profile.name,
      timeoutMs: opts.timeoutMs ?? l.timeoutMs,
      memoryMb: opts.memoryMb ?? l.memoryMb,
      outputBytes: opts.outputBytes ?? l.outputBytes,
    };
  }

  async status(): Promise<BackendStatus[]> {
    return probeAll();
  }

  // ---- ephemeral work ------------------------------------------------------------------------------------------

  async runWasm(opts: RunWasmOptions & BackendChoice): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const withLimits = this.withLimits(opts);
    return this.guest('run.wasm', { ...moduleFields(opts.module), argv: opts.args, ...envKeys(opts.env), profile: withLimits.profile }, async () =>
      (await this.backendFor('runWasm', opts)).runWasm(withLimits));
  }

  async invoke(opts: InvokeOptions & BackendChoice): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const withLimits = this.withLimits(opts);
    return this.guest('run.invoke', { ...moduleFields(opts.module), export: opts.export, profile: withLimits.profile }, async () =>
      (await this.backendFor('invoke', opts)).invoke(withLimits));
  }

  async runComponent(opts: RunComponentOptions & BackendChoice): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const withLimits = this.withLimits(opts);
    const fields = { ...moduleFields(opts.component), ...(opts.invoke ? { export: opts.invoke } : { argv: opts.args }), ...envKeys(opts.env), profile: withLimits.profile };
    return this.guest('run.component', fields, async () => {
      const backend = await this.backendFor('wasmComponent', opts).catch((e: unknown) => {
        throw isAgentKernelError(e) && e.details?.backend === 'hyperlight' && e.details?.capability === 'wasmComponent' ? new UnsupportedError(HYPERLIGHT_COMPONENTS, e.details) : e;
      });
      return backend.runComponent(withLimits);
    });
  }

  async runCode(language: Language, code: string, opts: RunCodeOptions & BackendChoice = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const withLimits = this.withLimits(opts);
    return this.guest('run.code', { language, ...digest(code), ...envKeys(opts.env), profile: withLimits.profile }, async () =>
      (await this.backendFor(`runCode:${language}`, opts)).runCode(language, code, withLimits));
  }

  /** Run a command in a throw-away sandbox. */
  async run(argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const image = opts.image ?? this.settings.image;
    return this.guest('run.command', { argv, image, ...envKeys(opts.env), profile: opts.profile ?? this.settings.profile.name }, () =>
      this.runCommand(argv, opts, image));
  }

  private async runCommand(argv: string[], opts: RunOptions, image: string | undefined): Promise<ExecResult> {
    const explicit = this.explicit(opts);
    const b = await selectBackend('exec', explicit);
    try {
      return await b.run(argv, this.withLimits({ ...opts, image }));
    } catch (e) {
      // Automatic selection picked a container engine, but the image the command needs is not on this offline
      // machine: the portable engine serves python3/node/sh commands, so it takes the run instead of failing.
      // An explicit -B or --image is never second-guessed.
      if (explicit || image || !(e instanceof NotFoundError) || !e.details?.image || b.name === 'wasm') throw e;
      const fallback = await loadBackend('wasm');
      return fallback.run(argv, this.withLimits({ ...opts }));
    }
  }

  // ---- persistent sandboxes ------------------------------------------------------------------------------------

  async create(spec: SandboxSpec & BackendChoice): Promise<SandboxInfo> {
    validateSandboxName(spec.name);
    getProfile(spec.profile ?? this.settings.profile.name); // unknown profile: error before anything is created
    const { backend: _b, ...rest } = spec;
    const full = {
      ...rest,
      profile: spec.profile ?? this.settings.profile.name,
      image: spec.image ?? this.settings.image,
      memoryMb: spec.memoryMb ?? this.settings.limits.memoryMb,
      cpus: spec.cpus ?? this.settings.cpus,
    };
    return this.op('sandbox.create', { sandbox: spec.name, image: full.image, profile: full.profile, ...envKeys(spec.env) }, async () =>
      (await this.backendFor('lifecycle', spec)).create(full), (info) => ({ backend: info.backend }));
  }

  /** The backend that owns an existing sandbox. */
  private async owner(name: string, capability: CapabilityName): Promise<Backend> {
    const rec = this.store.require(validateSandboxName(name));
    const b = await loadBackend(rec.backend);
    requireCapability(b, capability);
    return b;
  }

  async start(name: string): Promise<SandboxInfo> {
    return this.op('sandbox.start', { sandbox: name }, async () => (await this.owner(name, 'lifecycle')).start(name), backendOf);
  }
  async stop(name: string): Promise<SandboxInfo> {
    return this.op('sandbox.stop', { sandbox: name }, async () => (await this.owner(name, 'lifecycle')).stop(name), backendOf);
  }
  async remove(name: string): Promise<void> {
    return this.op('sandbox.remove', { sandbox: name }, async () => (await this.owner(name, 'lifecycle')).remove(name));
  }

  /** Every sandbox of every backend, status as last recorded (backends reconcile in their own list()). */
  async list(): Promise<SandboxInfo[]> {
    const records = this.store.list();
    const byBackend = new Map<BackendName, SandboxInfo[]>();
    for (const name of new Set(records.map((r) => r.backend))) {
      try {
        byBackend.set(name, await (await loadBackend(name)).list());
      } catch {
        // backend not loadable here (e.g. engine gone): fall back to the stored records below
      }
    }
    return records.map((r) => byBackend.get(r.backend)?.find((i) => i.name === r.name) ?? toInfo(r));
  }

  async get(name: string): Promise<SandboxInfo> {
    const all = await this.list();
    const found = all.find((s) => s.name === name);
    return found ?? toInfo(this.store.require(validateSandboxName(name)));
  }

  async exec(name: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const { profile: _p, ...rest } = this.withLimits(opts);
    return this.guest('sandbox.exec', { sandbox: name, argv, ...envKeys(opts.env) }, async () =>
      (await this.owner(name, 'exec')).exec(name, argv, rest));
  }

  async readFile(name: string, path: string): Promise<Uint8Array> {
    return this.op('file.read', { sandbox: name, path }, async () => (await this.owner(name, 'files')).readFile(name, path),
      (data) => ({ bytes: data.byteLength }));
  }
  async writeFile(name: string, path: string, data: Uint8Array | string): Promise<void> {
    return this.op('file.write', { sandbox: name, path, ...digest(data) }, async () => (await this.owner(name, 'files')).writeFile(name, path, data));
  }
  async listFiles(name: string, path: string): Promise<FileEntry[]> { return (await this.owner(name, 'files')).listFiles(name, path); }
  async removeFile(name: string, path: string): Promise<void> {
    return this.op('file.remove', { sandbox: name, path }, async () => (await this.owner(name, 'files')).removeFile(name, path));
  }

  // ---- code sessions (interpreter state kept between calls) ----------------------------------------------------

  /** A session's backend is the one named in the call (it must have sessions), else the portable `wasm` engine. */
  async createSession(o: { name?: string; language: Language | string; memoryMb?: number } & BackendChoice): Promise<SessionInfo> {
    const backend = o.backend ? parseBackendName(o.backend) : undefined;
    return this.op('session.create', { sandbox: o.name, language: String(o.language) }, () => this.sessions.create({ ...o, backend }),
      (i) => ({ sandbox: i.name, backend: i.backend }));
  }

  async runInSession(name: string, code: string, opts: Omit<RunCodeOptions, 'mounts' | 'cwd' | 'profile'> = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const { profile: _p, ...limited } = this.withLimits(opts as RunCodeOptions);
    return this.guest('session.run', { sandbox: name, ...digest(code), ...envKeys(opts.env) }, () =>
      this.sessions.run(name, code, limited as SessionCallOptions));
  }

  async snapshotSession(name: string, snapshot?: string): Promise<SnapshotInfo> {
    return this.op('session.snapshot', { sandbox: name }, () => this.sessions.snapshot(name, snapshot), (i) => ({ bytes: i.bytes }));
  }

  async restoreSession(name: string, snapshot?: string): Promise<SnapshotInfo> {
    return this.op('session.restore', { sandbox: name }, () => this.sessions.restore(name, snapshot));
  }

  async forkSession(name: string, o: { name?: string; snapshot?: string } = {}): Promise<SessionInfo> {
    return this.op('session.fork', { sandbox: name }, () => this.sessions.fork(name, o), (i) => ({ backend: i.backend }));
  }

  async closeSession(name: string): Promise<void> {
    return this.op('session.close', { sandbox: name }, () => this.sessions.close(name));
  }

  listSessions(): SessionInfo[] {
    return this.sessions.list();
  }

  /** A host function the session's code may call as `tools.NAME(...)`, its arguments checked against `schema`. */
  registerTool(session: string, name: string, schema: ToolSchema, fn: ToolFn, description?: string): void {
    this.sessions.registerTool(session, name, schema, fn, description);
  }

  listTools(session: string): ToolInfo[] {
    return this.sessions.tools(session);
  }

  /** Release every pooled worker, VM and container this process holds, and end its code sessions. */
  async close(): Promise<void> {
    this.audit.close();
    await this.sessions.closeAll();
    await closeLoadedBackends();
  }
}

function backendOf(info: SandboxInfo): AuditFields {
  return { backend: info.backend };
}

/** A module given as bytes is recorded by digest; one given as a path by its path. */
/** Why hyperlight says no to components, and what it would take. */
const HYPERLIGHT_COMPONENTS =
  "backend 'hyperlight' does not run WebAssembly components: its pipeline compiles core modules to native code " +
  'with wasm2c, which does not understand the component model (a component needs its canonical-ABI lifting and ' +
  "lowering and a WASI 0.2 host, which the micro-VM's guest runtime does not have yet). Run it on the 'wasm' backend (-B wasm)";

function moduleFields(module: Uint8Array | string): AuditFields {
  return typeof module === 'string' ? { path: module } : digest(module);
}
