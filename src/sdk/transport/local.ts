/**
 * The SDK in-process: each Transport call is the matching AgentKernel method, with the same options and the same
 * typed errors as over HTTP, minus the network.
 */
import type { AgentKernel } from '../../service/kernel.js';
import type { ExecOptions, ExecResult, FileEntry, Language, SandboxInfo } from '../../core/types.js';
import type { BackendStatus } from '../../backends/detect.js';
import { throwIfAborted } from '../../core/errors.js';
import type { CallOptions, CommandRunOptions, ComponentRunOptions, EphemeralRunOptions, RunOptions, WasmRunOptions } from '../options.js';
import type { CreateSpec, Transport } from './types.js';

function execOptions(o: RunOptions): ExecOptions {
  return {
    env: o.env, cwd: o.cwd, stdin: o.stdin, timeoutMs: o.timeoutMs, memoryMb: o.memoryMb, outputBytes: o.outputBytes,
    onStdout: o.onStdout, onStderr: o.onStderr, signal: o.signal,
  };
}

const choice = (o: EphemeralRunOptions) => ({ backend: o.backend, profile: o.profile });

/** Kernel calls that take no signal still honour one that fired before they start. */
async function guarded<T>(call: CallOptions, f: () => Promise<T>): Promise<T> {
  throwIfAborted(call.signal);
  return f();
}

export class LocalTransport implements Transport {
  constructor(readonly kernel: AgentKernel) {}

  run(argv: string[], o: CommandRunOptions): Promise<ExecResult> {
    return this.kernel.run(argv, { ...execOptions(o), ...choice(o), image: o.image });
  }

  runCode(language: Language, code: string, o: EphemeralRunOptions): Promise<ExecResult> {
    return this.kernel.runCode(language, code, { ...execOptions(o), ...choice(o) });
  }

  runWasm(module: Uint8Array | string, o: WasmRunOptions): Promise<ExecResult> {
    const opts = { ...execOptions(o), ...choice(o), module };
    if (o.invoke !== undefined) return this.kernel.invoke({ ...opts, export: o.invoke, args: o.args });
    return this.kernel.runWasm({ ...opts, args: (o.args ?? []).map(String) });
  }

  runComponent(component: Uint8Array | string, o: ComponentRunOptions): Promise<ExecResult> {
    const opts = { ...execOptions(o), ...choice(o), component };
    if (o.invoke !== undefined) return this.kernel.runComponent({ ...opts, invoke: o.invoke, invokeArgs: o.args ?? [] });
    return this.kernel.runComponent({ ...opts, args: (o.args ?? []).map(String) });
  }

  backends(call: CallOptions): Promise<BackendStatus[]> {
    return guarded(call, () => this.kernel.status());
  }

  create(s: CreateSpec, call: CallOptions): Promise<SandboxInfo> {
    return guarded(call, () => this.kernel.create(s));
  }

  get(name: string, call: CallOptions): Promise<SandboxInfo> { return guarded(call, () => this.kernel.get(name)); }
  list(call: CallOptions): Promise<SandboxInfo[]> { return guarded(call, () => this.kernel.list()); }
  start(name: string, call: CallOptions): Promise<SandboxInfo> { return guarded(call, () => this.kernel.start(name)); }
  stop(name: string, call: CallOptions): Promise<SandboxInfo> { return guarded(call, () => this.kernel.stop(name)); }
  remove(name: string, call: CallOptions): Promise<void> { return guarded(call, () => this.kernel.remove(name)); }

  exec(name: string, argv: string[], o: RunOptions): Promise<ExecResult> {
    return this.kernel.exec(name, argv, execOptions(o));
  }

  readFile(name: string, path: string, call: CallOptions): Promise<Uint8Array> {
    return guarded(call, () => this.kernel.readFile(name, path));
  }

  writeFile(name: string, path: string, data: Uint8Array, call: CallOptions): Promise<void> {
    return guarded(call, () => this.kernel.writeFile(name, path, data));
  }

  listFiles(name: string, path: string, call: CallOptions): Promise<FileEntry[]> {
    return guarded(call, () => this.kernel.listFiles(name, path));
  }

  removeFile(name: string, path: string, call: CallOptions): Promise<void> {
    return guarded(call, () => this.kernel.removeFile(name, path));
  }
}
