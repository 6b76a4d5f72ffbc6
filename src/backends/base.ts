/**
 * BaseBackend: the shared behaviour of every backend, written once. It answers every operation of the contract
 * with an UnsupportedError that names the backend and the missing capability, so a backend only implements
 * what it can do and `capabilities()` stays the single source of truth.
 */
import { UnsupportedError } from '../core/errors.js';
import type {
  Availability, Backend, BackendName, Capabilities, CapabilityName, ExecOptions, ExecResult, FileEntry,
  InvokeOptions, Language, Mount, RunCodeOptions, RunComponentOptions, RunWasmOptions, SandboxInfo, SandboxSpec,
} from '../core/types.js';

export const NO_CAPABILITIES: Capabilities = Object.freeze({
  lifecycle: false, exec: false, files: false, runWasm: false, invoke: false,
  languages: [] as Language[], snapshot: false, wasmComponent: false,
}) as Capabilities;

export function hasCapability(caps: Capabilities, cap: CapabilityName): boolean {
  if (cap.startsWith('runCode:')) return caps.languages.includes(cap.slice('runCode:'.length) as Language);
  return Boolean(caps[cap as Exclude<keyof Capabilities, 'languages'>]);
}

/** Throw a clear UnsupportedError unless `backend` has `cap`. */
export function requireCapability(backend: Backend, cap: CapabilityName): void {
  if (!hasCapability(backend.capabilities(), cap)) throw unsupported(backend.name, cap, backend.unsupportedReason?.(cap));
}

export function unsupported(backend: BackendName, cap: CapabilityName, hint?: string): UnsupportedError {
  const what = cap.startsWith('runCode:') ? `running ${cap.slice(8)} code` : `'${cap}'`;
  return new UnsupportedError(`backend '${backend}' does not support ${what}${hint ? `; ${hint}` : ''}`, { backend, capability: cap });
}

export abstract class BaseBackend implements Backend {
  abstract readonly name: BackendName;
  abstract availability(): Promise<Availability>;
  abstract capabilities(): Capabilities;

  async create(_spec: SandboxSpec): Promise<SandboxInfo> { throw unsupported(this.name, 'lifecycle'); }
  async start(_name: string): Promise<SandboxInfo> { throw unsupported(this.name, 'lifecycle'); }
  async stop(_name: string): Promise<SandboxInfo> { throw unsupported(this.name, 'lifecycle'); }
  async remove(_name: string): Promise<void> { throw unsupported(this.name, 'lifecycle'); }
  async list(): Promise<SandboxInfo[]> { return []; }
  async exec(_name: string, _argv: string[], _opts?: ExecOptions): Promise<ExecResult> { throw unsupported(this.name, 'exec'); }
  async readFile(_name: string, _path: string): Promise<Uint8Array> { throw unsupported(this.name, 'files'); }
  async writeFile(_name: string, _path: string, _data: Uint8Array | string): Promise<void> { throw unsupported(this.name, 'files'); }
  async listFiles(_name: string, _path: string): Promise<FileEntry[]> { throw unsupported(this.name, 'files'); }
  async removeFile(_name: string, _path: string): Promise<void> { throw unsupported(this.name, 'files'); }
  async run(_argv: string[], _opts?: ExecOptions & { image?: string; mounts?: Mount[] }): Promise<ExecResult> { throw unsupported(this.name, 'exec'); }
  async runWasm(_opts: RunWasmOptions): Promise<ExecResult> { throw unsupported(this.name, 'runWasm'); }
  async invoke(_opts: InvokeOptions): Promise<ExecResult> { throw unsupported(this.name, 'invoke'); }
  async runCode(language: Language, _code: string, _opts?: RunCodeOptions): Promise<ExecResult> {
    throw unsupported(this.name, `runCode:${language}`);
  }
  async runComponent(_opts: RunComponentOptions): Promise<ExecResult> { throw unsupported(this.name, 'wasmComponent'); }
  async close(): Promise<void> {}
}
