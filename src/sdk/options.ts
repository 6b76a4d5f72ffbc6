/**
 * Every option the SDK takes, declared once with its documentation and default. Names are camelCase; the HTTP
 * transport maps them to the wire's snake_case fields.
 */
import type { BackendName } from '../core/types.js';
import type { ProfileName } from '../core/profiles.js';

export interface CallOptions {
  /** Cancels the call; a run in progress is stopped (over HTTP: the request is dropped and the server aborts it). @default none */
  signal?: AbortSignal;
}

export interface ConnectionOptions {
  /** URL of a running `agentkernel serve` (or `agentkernel daemon start`). @default process.env.AGENTKERNEL_URL ?? 'http://127.0.0.1:18888' */
  baseUrl?: string;
  /** Bearer token of that server. @default process.env.AGENTKERNEL_API_KEY, else the api-key file `agentkernel serve` saved on this machine */
  apiKey?: string;
  /** The fetch implementation to use (tests, proxies, instrumentation). @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * Talk to a server listening on this unix socket (`agentkernel daemon start` listens on one in the state
   * directory) instead of a TCP URL.
   */
  socketPath?: string;
}

/** Options of anything that runs guest code. */
export interface RunOptions extends CallOptions {
  /** Environment variables for the guest: exactly these, nothing from the host. @default {} */
  env?: Record<string, string>;
  /** Working directory inside the guest. @default the sandbox's (or runtime's) working directory */
  cwd?: string;
  /** Standard input, given whole up front. @default empty */
  stdin?: string;
  /** Wall-clock limit in milliseconds; the run stops with exit code 124. @default the server's (or kernel's) limit */
  timeoutMs?: number;
  /** Memory cap in MiB; exit code 137 when hit. @default the server's (or kernel's) limit */
  memoryMb?: number;
  /** Bytes kept of stdout and of stderr each; the rest is dropped and `stdoutTruncated`/`stderrTruncated` set. @default the server's (or kernel's) limit */
  outputBytes?: number;
  /** Called with each piece of stdout as the guest writes it (over HTTP the run then streams through SSE). @default none */
  onStdout?: (chunk: string) => void;
  /** Called with each piece of stderr as the guest writes it. @default none */
  onStderr?: (chunk: string) => void;
}

/** Options of runs that get a fresh, throw-away sandbox. */
export interface EphemeralRunOptions extends RunOptions {
  /** Backend to run on. @default automatic selection (by the server, or the local kernel) */
  backend?: BackendName;
  /** Security profile. @default the server's (or kernel's) profile */
  profile?: ProfileName;
}

export interface CommandRunOptions extends EphemeralRunOptions {
  /** Container image (container backends). @default detected from the command */
  image?: string;
}

export interface WasmRunOptions extends EphemeralRunOptions {
  /** Call this export instead of running `_start`; its results come back in `results`. @default none (run `_start`) */
  invoke?: string;
  /** argv[1..] for `_start`, or the export's arguments with `invoke` (i64 as decimal strings). @default [] */
  args?: (string | number)[];
}

export interface ComponentRunOptions extends EphemeralRunOptions {
  /** Call this exported function (`name` or `interface#name`) instead of wasi:cli/run; its return value comes back in `value`. @default none (run the command) */
  invoke?: string;
  /** argv[1..] of a command (strings), or with `invoke` the function's arguments as JSON values (docs/components.md). @default [] */
  args?: unknown[];
}

export interface SandboxCreateOptions extends CallOptions {
  /** Name of the sandbox. @default a generated name, `sbx-` and 10 random characters */
  name?: string;
  /** Backend that hosts the sandbox. @default automatic selection */
  backend?: BackendName;
  /** Security profile. @default the server's (or kernel's) profile */
  profile?: ProfileName;
  /** Container image (container backends). @default the configured image */
  image?: string;
  /** Environment variables of every command run in the sandbox. @default {} */
  env?: Record<string, string>;
  /** Memory cap in MiB for the sandbox. @default the server's (or kernel's) limit */
  memoryMb?: number;
  /** CPUs (container and microVM backends). @default the profile's */
  cpus?: number;
  /** Network access (container and microVM backends). @default the profile's */
  network?: boolean;
}

export interface FileReadOptions extends CallOptions {
  /** `text` decodes UTF-8; `bytes` returns the raw Uint8Array. @default 'text' */
  format?: 'text' | 'bytes';
}
