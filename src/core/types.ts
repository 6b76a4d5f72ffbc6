/**
 * The backend contract: the spine of agentkernel. Every engine (the portable `wasm` engine, the KVM micro-VM
 * `hyperlight`, containers, microVMs) implements `Backend`; the CLI, HTTP API, MCP server and SDK only ever talk
 * to this interface. A new backend is one new folder under src/backends/ plus one line in its registry.
 */

/** Names of all backends the project knows about (implemented or not). */
export type BackendName = 'hyperlight' | 'wasm' | 'docker' | 'podman' | 'firecracker' | 'qemu' | 'apple';

export type Language = 'javascript' | 'python' | 'shell';

/** What a backend can do. Callers check this (or get an UnsupportedError naming the capability). */
export interface Capabilities {
  /** create/start/stop/remove/list persistent sandboxes */
  lifecycle: boolean;
  /** exec(argv) in a sandbox, and `run` of an ephemeral command */
  exec: boolean;
  /** read/write/list/remove files of a sandbox */
  files: boolean;
  /** run a WASI preview1 command module */
  runWasm: boolean;
  /** call an exported function of a module */
  invoke: boolean;
  /** languages runCode() accepts */
  languages: Language[];
  /** snapshot()/restore() of a warmed-up sandbox */
  snapshot: boolean;
  /** WASI 0.2 components */
  wasmComponent: boolean;
}

export type CapabilityName = Exclude<keyof Capabilities, 'languages'> | `runCode:${Language}`;

export interface Availability {
  available: boolean;
  /** Why it is unavailable, or notes about a degraded mode (e.g. a jail layer missing). */
  reason?: string;
  /** Facts shown by `agentkernel status` (versions, paths, isolation layers). */
  details?: Record<string, unknown>;
  /**
   * false: usable when named explicitly (`-B NAME`) but never picked by automatic selection, e.g. a microVM that can
   * only run under software emulation here. `reason` then says why. @default true
   */
  autoSelect?: boolean;
}

/** Resource limits applied to a single run. Resolved from profile + config + flags (see core/limits.ts). */
export interface Limits {
  /** Wall-clock limit; the run is stopped and reported with exit code 124. */
  timeoutMs: number;
  /** Memory cap for the guest (Wasm linear memory, interpreter heap, container memory). */
  memoryMb: number;
  /** Bytes kept of stdout and of stderr each; the rest is dropped and `*Truncated` is set. */
  outputBytes: number;
}

/** Which isolation layers actually applied to a run. Missing layers are listed, never silently skipped. */
export interface IsolationReport {
  /** e.g. ['wasm', 'namespaces', 'seccomp', 'rlimits'] or ['wasm', 'kvm'] or ['container'] */
  layers: string[];
  /** Layers that the backend would apply but could not here, with the reason. */
  missing?: { layer: string; reason: string }[];
}

/** A structured guest exception (runCode) or trap (Wasm). */
export interface GuestError {
  name: string;
  message: string;
  traceback?: string;
}

export type TrapKind =
  | 'unreachable'
  | 'out_of_bounds'
  | 'stack_exhausted'
  | 'integer_divide_by_zero'
  | 'integer_overflow'
  | 'invalid_conversion'
  | 'indirect_call_type_mismatch'
  | 'null_reference'
  | 'memory_limit'
  | 'cpu_exception'
  | 'unknown';

/** Exit codes with a fixed meaning across all backends (like timeout(1) and shells do). */
export const EXIT = {
  OK: 0,
  /** the run's timeout fired (same as timeout(1)) */
  TIMEOUT: 124,
  /** the command is not known to the backend */
  NOT_FOUND: 127,
  /** the Wasm guest trapped (out-of-bounds, unreachable, stack exhaustion...) */
  TRAP: 134,
  /** the memory cap was hit */
  MEMORY: 137,
  /** an uncaught exception in runCode (like `python -c 'raise X'`) */
  EXCEPTION: 1,
} as const;

/** The result of anything that runs guest code. A non-zero exit is a result, not an exception. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  /** The run was stopped by its timeout (exitCode is 124). */
  timedOut?: boolean;
  /** The guest trapped (exitCode is 134, or 137 for memory_limit). */
  trap?: { kind: TrapKind; message: string };
  /** runCode: the uncaught exception, with its traceback. */
  error?: GuestError;
  /** invoke: the export's results, one per value (i64 as decimal strings to keep precision in JSON). */
  results?: (number | string)[];
  /** runComponent with `invoke`: the export's return value as JSON (shapes in docs/components.md); null for none. */
  value?: unknown;
  backend: BackendName;
  isolation?: IsolationReport;
}

/** Streaming callbacks and cancellation shared by every call that runs guest code. */
export interface RunHooks {
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
}

/** A host directory made visible to a guest (WASI preopen, bind mount). */
export interface Mount {
  hostPath: string;
  /** Path inside the guest; defaults to hostPath. */
  guestPath: string;
  readOnly: boolean;
}

export interface ExecOptions extends RunHooks {
  /** Security profile name for ephemeral runs (persistent sandboxes keep the one they were created with). */
  profile?: string;
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string | Uint8Array;
  timeoutMs?: number;
  memoryMb?: number;
  outputBytes?: number;
}

export interface RunWasmOptions extends ExecOptions {
  /** Module bytes (binary .wasm or .wat text), or a path to a .wasm/.wat file. */
  module: Uint8Array | string;
  /** argv[1..] for `_start`; argv[0] is the module's file name. */
  args?: string[];
  /** Preopened directories (`--dir HOST[::GUEST][:rw]`). */
  mounts?: Mount[];
}

export interface InvokeOptions extends Omit<RunWasmOptions, 'args'> {
  /** Export to call. */
  export: string;
  /** Arguments, parsed by the export's signature (numbers or decimal strings). */
  args?: (number | string | bigint)[];
}

/** A WebAssembly component (WASI 0.2): run its wasi:cli/run, or call one exported function. */
export interface RunComponentOptions extends ExecOptions {
  /** Component bytes (binary or component text), or a path to a file holding either. */
  component: Uint8Array | string;
  /** argv[1..] of a command; argv[0] is the component's file name. */
  args?: string[];
  /** Preopened directories, as for runWasm. */
  mounts?: Mount[];
  /** Call this exported function (`name`, or `interface#name`) instead of wasi:cli/run. */
  invoke?: string;
  /** JSON arguments of `invoke`, checked against the function's WIT types. */
  invokeArgs?: unknown[];
}

export interface RunCodeOptions extends ExecOptions {
  mounts?: Mount[];
}

export interface SandboxSpec {
  name: string;
  image?: string;
  profile?: string;
  memoryMb?: number;
  cpus?: number;
  env?: Record<string, string>;
  mounts?: Mount[];
  network?: boolean;
}

export type SandboxStatus = 'created' | 'running' | 'stopped';

export interface SandboxInfo {
  name: string;
  backend: BackendName;
  status: SandboxStatus;
  image?: string;
  profile: string;
  createdAt: string;
  /** What the backend actually applied (network, read-only root, caps...). Shown by `inspect`. */
  applied?: Record<string, unknown>;
}

export interface FileEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/**
 * The contract. Operations a backend cannot do throw UnsupportedError (BaseBackend does this for you);
 * `capabilities()` says which ones those are before anyone calls.
 */
export interface Backend {
  readonly name: BackendName;
  availability(): Promise<Availability>;
  capabilities(): Capabilities;

  // persistent sandboxes
  create(spec: SandboxSpec): Promise<SandboxInfo>;
  start(name: string): Promise<SandboxInfo>;
  stop(name: string): Promise<SandboxInfo>;
  remove(name: string): Promise<void>;
  list(): Promise<SandboxInfo[]>;
  exec(name: string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;

  // files of a sandbox
  readFile(name: string, path: string): Promise<Uint8Array>;
  writeFile(name: string, path: string, data: Uint8Array | string): Promise<void>;
  listFiles(name: string, path: string): Promise<FileEntry[]>;
  removeFile(name: string, path: string): Promise<void>;

  // ephemeral work
  /** Run a command in a fresh, throw-away sandbox. */
  run(argv: string[], opts?: ExecOptions & { image?: string; mounts?: Mount[] }): Promise<ExecResult>;
  runWasm(opts: RunWasmOptions): Promise<ExecResult>;
  invoke(opts: InvokeOptions): Promise<ExecResult>;
  runCode(language: Language, code: string, opts?: RunCodeOptions): Promise<ExecResult>;
  /** Run a WASI 0.2 component or call one of its exports (capability `wasmComponent`). */
  runComponent(opts: RunComponentOptions): Promise<ExecResult>;

  /**
   * Interactive TTY session in a sandbox with the caller's stdio (the CLI's `attach`). Optional: only backends
   * with real shells have it; resolves with the session's exit code.
   */
  attach?(name: string, opts?: { command?: string[] }): Promise<number>;

  /** Persistent code sessions (interpreter state kept between calls; see docs/sessions.md). Absent: none here. */
  readonly sessions?: SessionSupport;

  /** Why a capability it lacks is missing (e.g. a guest not compiled yet), for the error that refuses it. Optional. */
  unsupportedReason?(capability: CapabilityName): string | undefined;

  /** Release pooled workers/VMs/containers. The backend may be used again afterwards (pools refill lazily). */
  close(): Promise<void>;
}

// ---- persistent code sessions ----------------------------------------------------------------------------------

/** A session's interpreter state, taken between calls (its linear memory). Opaque to callers. */
export interface SessionImage {
  language: Language;
  backend: BackendName;
  bytes: Uint8Array;
  /** what the interpreter needs to check that the image fits it (e.g. addresses of its runtime objects) */
  meta: Record<string, number>;
}

/** Host functions a session's code may call (`tools.NAME(...)`); arguments and results cross as JSON text. */
export interface ToolHost {
  names: string[];
  /** Resolves with the result as JSON text; rejects with an error whose message the guest sees. */
  call(name: string, argsJson: string): Promise<string>;
}

export interface SessionRunOptions extends RunHooks {
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
  timeoutMs: number;
  memoryMb: number;
  outputBytes: number;
  tools?: ToolHost;
}

/** One live interpreter whose state survives between calls. */
export interface SessionHandle {
  readonly language: Language;
  run(code: string, opts: SessionRunOptions): Promise<ExecResult>;
  snapshot(): Promise<SessionImage>;
  /** Put an image back (also revives a session whose interpreter was lost). */
  restore(image: SessionImage): Promise<void>;
  close(): Promise<void>;
}

export interface SessionSupport {
  languages: Language[];
  /** A new interpreter, fresh or started from an image (fork). */
  open(language: Language, opts: { memoryMb: number; image?: SessionImage }): Promise<SessionHandle>;
}
