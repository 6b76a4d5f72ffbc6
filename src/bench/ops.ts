/**
 * The operations a workload calls, bound to one backend. Warm rows go through the AgentKernel (the process-wide
 * backend with its pools); cold-start rows go to a brand-new backend instance, with the kernel's settings applied
 * the same way the kernel applies them, so that both paths run identical requests.
 */
import type { AgentKernel } from '../service/kernel.js';
import type { Settings } from '../core/config.js';
import type {
  Backend, BackendName, ExecOptions, ExecResult, InvokeOptions, Language, Mount, RunCodeOptions, RunWasmOptions,
  SandboxInfo, SandboxSpec,
} from '../core/types.js';

export interface Ops {
  run(argv: string[], opts?: ExecOptions & { mounts?: Mount[] }): Promise<ExecResult>;
  runWasm(opts: RunWasmOptions): Promise<ExecResult>;
  invoke(opts: InvokeOptions): Promise<ExecResult>;
  runCode(language: Language, code: string, opts?: RunCodeOptions): Promise<ExecResult>;
  create(spec: SandboxSpec): Promise<SandboxInfo>;
  exec(name: string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  remove(name: string): Promise<void>;
  writeFile(name: string, path: string, data: string): Promise<void>;
  readFile(name: string, path: string): Promise<Uint8Array>;
  removeFile(name: string, path: string): Promise<void>;
}

export function kernelOps(k: AgentKernel, backend: BackendName): Ops {
  return {
    run: (argv, o) => k.run(argv, { ...o, backend }),
    runWasm: (o) => k.runWasm({ ...o, backend }),
    invoke: (o) => k.invoke({ ...o, backend }),
    runCode: (l, c, o) => k.runCode(l, c, { ...o, backend }),
    create: (spec) => k.create({ ...spec, backend }),
    exec: (n, argv, o) => k.exec(n, argv, o),
    remove: (n) => k.remove(n),
    writeFile: (n, p, d) => k.writeFile(n, p, d),
    readFile: (n, p) => k.readFile(n, p),
    removeFile: (n, p) => k.removeFile(n, p),
  };
}

/** Operations on a backend instance of our own (not the registry's), with the kernel's settings filled in. */
export function backendOps(b: Backend, s: Settings): Ops {
  const limits = <T extends ExecOptions>(o: T): T => ({
    ...o,
    profile: o.profile ?? s.profile.name,
    timeoutMs: o.timeoutMs ?? s.limits.timeoutMs,
    memoryMb: o.memoryMb ?? s.limits.memoryMb,
    outputBytes: o.outputBytes ?? s.limits.outputBytes,
  });
  const execLimits = (o: ExecOptions = {}): ExecOptions => {
    const { profile: _p, ...rest } = limits(o);
    return rest;
  };
  return {
    run: (argv, o = {}) => b.run(argv, limits({ ...o, image: s.image })),
    runWasm: (o) => b.runWasm(limits(o)),
    invoke: (o) => b.invoke(limits(o)),
    runCode: (l, c, o = {}) => b.runCode(l, c, limits(o)),
    create: (spec) => b.create({
      ...spec,
      profile: spec.profile ?? s.profile.name,
      image: spec.image ?? s.image,
      memoryMb: spec.memoryMb ?? s.limits.memoryMb,
      cpus: spec.cpus ?? s.cpus,
    }),
    exec: (n, argv, o) => b.exec(n, argv, execLimits(o)),
    remove: (n) => b.remove(n),
    writeFile: (n, p, d) => b.writeFile(n, p, d),
    readFile: (n, p) => b.readFile(n, p),
    removeFile: (n, p) => b.removeFile(n, p),
  };
}
