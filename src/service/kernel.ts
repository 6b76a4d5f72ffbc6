/**
 * AgentKernel: the one in-process entry point that the CLI, the HTTP API, the MCP server and the SDK's local mode all
 * use. It resolves settings (profile, limits, backend choice), selects the backend for each operation, and routes
 * lifecycle operations to the backend recorded for the sandbox. Backends themselves never read config or flags.
 */
import { loadConfig, resolveSettings, parseBackendName, type Settings, type SettingsOverrides } from '../core/config.js';
import { getProfile } from '../core/profiles.js';
import { NotFoundError, throwIfAborted } from '../core/errors.js';
import type {
  Backend, BackendName, CapabilityName, ExecOptions, ExecResult, FileEntry, InvokeOptions, Language, Mount,
  RunCodeOptions, RunWasmOptions, SandboxInfo, SandboxSpec,
} from '../core/types.js';
import { selectBackend, probeAll, type BackendStatus } from '../backends/detect.js';
import { loadBackend, closeLoadedBackends } from '../backends/registry.js';
import { requireCapability } from '../backends/base.js';
import { SandboxStore, validateSandboxName, toInfo } from './store.js';
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

  constructor(opts: {
    settings?: Settings; overrides?: SettingsOverrides; configPath?: string; store?: SandboxStore;
    /** Which interface the calls come through, written in every audit record. @default 'library' */
    origin?: AuditOrigin;
  } = {}) {
    this.settings = opts.settings ?? resolveSettings(loadConfig(opts.configPath), opts.overrides ?? {});
    this.store = opts.store ?? new SandboxStore();
    this.audit = new AuditLog(this.settings.audit, opts.origin);
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

  /** Release every pooled worker, VM and container this process holds. */
  async close(): Promise<void> {
    this.audit.close();
    await closeLoadedBackends();
  }
}

function backendOf(info: SandboxInfo): AuditFields {
  return { backend: info.backend };
}

/** A module given as bytes is recorded by digest; one given as a path by its path. */
function moduleFields(module: Uint8Array | string): AuditFields {
  return typeof module === 'string' ? { path: module } : digest(module);
}
