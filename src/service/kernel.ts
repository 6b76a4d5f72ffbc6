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

/** Every operation may name its backend; otherwise settings, then automatic selection, decide. */
export interface BackendChoice {
  backend?: BackendName | string;
}

export type RunOptions = ExecOptions & BackendChoice & { image?: string; mounts?: Mount[] };

export class AgentKernel {
  readonly settings: Settings;
  readonly store: SandboxStore;

  constructor(opts: { settings?: Settings; overrides?: SettingsOverrides; configPath?: string; store?: SandboxStore } = {}) {
    this.settings = opts.settings ?? resolveSettings(loadConfig(opts.configPath), opts.overrides ?? {});
    this.store = opts.store ?? new SandboxStore();
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
    const b = await this.backendFor('runWasm', opts);
    return b.runWasm(this.withLimits(opts));
  }

  async invoke(opts: InvokeOptions & BackendChoice): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const b = await this.backendFor('invoke', opts);
    return b.invoke(this.withLimits(opts));
  }

  async runCode(language: Language, code: string, opts: RunCodeOptions & BackendChoice = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const b = await this.backendFor(`runCode:${language}`, opts);
    return b.runCode(language, code, this.withLimits(opts));
  }

  /** Run a command in a throw-away sandbox. */
  async run(argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const explicit = this.explicit(opts);
    const image = opts.image ?? this.settings.image;
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
    const b = await this.backendFor('lifecycle', spec);
    const { backend: _b, ...rest } = spec;
    return b.create({
      ...rest,
      profile: spec.profile ?? this.settings.profile.name,
      image: spec.image ?? this.settings.image,
      memoryMb: spec.memoryMb ?? this.settings.limits.memoryMb,
      cpus: spec.cpus ?? this.settings.cpus,
    });
  }

  /** The backend that owns an existing sandbox. */
  private async owner(name: string, capability: CapabilityName): Promise<Backend> {
    const rec = this.store.require(validateSandboxName(name));
    const b = await loadBackend(rec.backend);
    requireCapability(b, capability);
    return b;
  }

  async start(name: string): Promise<SandboxInfo> { return (await this.owner(name, 'lifecycle')).start(name); }
  async stop(name: string): Promise<SandboxInfo> { return (await this.owner(name, 'lifecycle')).stop(name); }
  async remove(name: string): Promise<void> { return (await this.owner(name, 'lifecycle')).remove(name); }

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
    const b = await this.owner(name, 'exec');
    const { profile: _p, ...rest } = this.withLimits(opts);
    return b.exec(name, argv, rest);
  }

  async readFile(name: string, path: string): Promise<Uint8Array> { return (await this.owner(name, 'files')).readFile(name, path); }
  async writeFile(name: string, path: string, data: Uint8Array | string): Promise<void> {
    return (await this.owner(name, 'files')).writeFile(name, path, data);
  }
  async listFiles(name: string, path: string): Promise<FileEntry[]> { return (await this.owner(name, 'files')).listFiles(name, path); }
  async removeFile(name: string, path: string): Promise<void> { return (await this.owner(name, 'files')).removeFile(name, path); }

  /** Release every pooled worker, VM and container this process holds. */
  async close(): Promise<void> {
    await closeLoadedBackends();
  }
}
