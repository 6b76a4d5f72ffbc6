/**
 * What the SDK's objects need from wherever sandboxes live: a running server over HTTP, or an AgentKernel in this
 * process. Sandbox, Commands, Filesystem and Client are written once against this interface.
 */
import type { ExecResult, FileEntry, Language, SandboxInfo } from '../../core/types.js';
import type { BackendStatus } from '../../backends/detect.js';
import type {
  CallOptions, CommandRunOptions, ComponentRunOptions, EphemeralRunOptions, RunOptions, SandboxCreateOptions, WasmRunOptions,
} from '../options.js';

export type CreateSpec = Omit<SandboxCreateOptions, 'signal'> & { name: string };

export interface Transport {
  run(argv: string[], opts: CommandRunOptions): Promise<ExecResult>;
  runCode(language: Language, code: string, opts: EphemeralRunOptions): Promise<ExecResult>;
  /** `module`: the bytes of a .wasm binary or .wat text, or a path to one on the machine that runs it. */
  runWasm(module: Uint8Array | string, opts: WasmRunOptions): Promise<ExecResult>;
  /** `component`: the bytes of a component (binary or text), or a path to one on the machine that runs it. */
  runComponent(component: Uint8Array | string, opts: ComponentRunOptions): Promise<ExecResult>;
  backends(call: CallOptions): Promise<BackendStatus[]>;

  create(spec: CreateSpec, call: CallOptions): Promise<SandboxInfo>;
  get(name: string, call: CallOptions): Promise<SandboxInfo>;
  list(call: CallOptions): Promise<SandboxInfo[]>;
  start(name: string, call: CallOptions): Promise<SandboxInfo>;
  stop(name: string, call: CallOptions): Promise<SandboxInfo>;
  remove(name: string, call: CallOptions): Promise<void>;
  exec(name: string, argv: string[], opts: RunOptions): Promise<ExecResult>;

  readFile(name: string, path: string, call: CallOptions): Promise<Uint8Array>;
  writeFile(name: string, path: string, data: Uint8Array, call: CallOptions): Promise<void>;
  listFiles(name: string, path: string, call: CallOptions): Promise<FileEntry[]>;
  removeFile(name: string, path: string, call: CallOptions): Promise<void>;
}
