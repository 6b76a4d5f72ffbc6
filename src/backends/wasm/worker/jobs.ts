/**
 * What a worker does with each kind of job. Compiled modules are cached per worker by content hash (and memory
 * cap, which is compiled into the module); every run instantiates afresh, so no state crosses runs.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { AgentKernelError, NotFoundError, ValidationError } from '../../../core/errors.js';
import { guestCwd, loadRoutedCode, resolveGuestPath, routeCommand } from '../../../runtimes/command.js';
import { getRuntime } from '../../../runtimes/index.js';
import type { OutputSink, RuntimeOutcome, RuntimeRequest } from '../../../runtimes/types.js';
import { compileModule, type WasmModule } from '../../../runtimes/wasm/module.js';
import { invokeExport, runWasiCommand } from '../../../runtimes/wasm/run.js';
import { invokeComponent, runComponentCommand } from '../../../runtimes/component/run.js';
import { moduleKey, type Job, type ModuleRef, type WireRequest } from './protocol.js';
import { readPythonSnapshot, writePythonSnapshot } from './python.js';
import { SessionHost, toolChannel } from './session.js';

/** The host must send the bytes of this module (the worker does not have it compiled). */
export class NeedModule extends Error {
  constructor(readonly hash: string) {
    super(`module ${hash} is not cached in this worker`);
  }
}

const MODULE_CACHE_SIZE = 32;

export class JobRunner {
  private readonly modules = new Map<string, WasmModule>();

  private readonly session: SessionHost;

  constructor(private readonly role: 'runner' | 'snapshot', opts: { pythonSnapshot?: string; toolFd?: number } = {}) {
    this.session = new SessionHost(
      () => (opts.pythonSnapshot ? readPythonSnapshot(opts.pythonSnapshot) : undefined),
      opts.toolFd !== undefined ? toolChannel(opts.toolFd) : undefined,
    );
  }

  async run(job: Job, out: OutputSink): Promise<RuntimeOutcome> {
    if (this.role === 'snapshot' && job.kind !== 'snapshot' && job.kind !== 'ping') {
      throw new AgentKernelError('INTERNAL', 'the snapshot worker runs no guest code');
    }
    switch (job.kind) {
      case 'ping':
        return { exitCode: 0 };
      case 'wasm-start': {
        const module = await this.module(job.module, job.req.memoryMb);
        return runWasiCommand(module, { ...request(job.req), args: job.args, programName: job.programName }, out);
      }
      case 'wasm-invoke': {
        const module = await this.module(job.module, job.req.memoryMb);
        return invokeExport(module, job.export, job.args, request(job.req), out);
      }
      case 'component': {
        const creq = { ...request(job.req), programName: job.programName, args: job.args };
        return job.invoke ? invokeComponent(job.component, job.invoke, creq, out) : runComponentCommand(job.component, creq, out);
      }
      case 'code':
        return getRuntime(job.language).run(
          { ...request(job.req), code: job.code, args: job.args, ...(job.scriptPath !== undefined ? { scriptPath: job.scriptPath } : {}) },
          out,
        );
      case 'command':
        return this.command(job.argv, request(job.req), out);
      case 'session-open':
      case 'session-run':
      case 'session-snapshot':
      case 'session-restore':
        return this.session.run(job, request, out);
      case 'snapshot':
        if (this.role !== 'snapshot') throw new AgentKernelError('INTERNAL', 'only the snapshot worker writes snapshots');
        await writePythonSnapshot(job.path);
        return { exitCode: 0 };
    }
  }

  private async command(argv: string[], req: RuntimeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    const cmd = routeCommand(argv);
    if (cmd.kind !== 'wasm') return getRuntime(cmd.language).run(await loadRoutedCode(cmd, req), out);
    const bytes = readMountedFile(req, cmd.path);
    const key = moduleKey(bytes, req.memoryMb);
    const module = await this.module({ hash: key, bytes }, req.memoryMb);
    return runWasiCommand(module, { ...req, args: cmd.args, programName: cmd.path }, out);
  }

  private async module(ref: ModuleRef, memoryMb: number): Promise<WasmModule> {
    const cached = this.modules.get(ref.hash);
    if (cached) {
      // most recently used last
      this.modules.delete(ref.hash);
      this.modules.set(ref.hash, cached);
      return cached;
    }
    if (!ref.bytes) throw new NeedModule(ref.hash);
    const module = await compileModule(ref.bytes, { memoryMb });
    this.modules.set(ref.hash, module);
    if (this.modules.size > MODULE_CACHE_SIZE) this.modules.delete(this.modules.keys().next().value as string);
    return module;
  }
}

function request(w: WireRequest): RuntimeRequest {
  return {
    env: w.env,
    stdin: w.stdin,
    mounts: w.mounts,
    memoryMb: w.memoryMb,
    ...(w.cwd !== undefined ? { cwd: w.cwd } : {}),
    ...(w.deadline !== undefined ? { deadline: w.deadline } : {}),
  };
}

/** A guest path's file, read through the mounts; a symlink may not lead out of its mount. */
function readMountedFile(req: RuntimeRequest, guestPath: string): Uint8Array {
  const found = resolveGuestPath(req.mounts, guestCwd(req), guestPath);
  if (!found) throw new NotFoundError(`${guestPath}: not inside any mounted directory`, { path: guestPath });
  try {
    const real = realpathSync(found.hostPath);
    const rel = relative(realpathSync(found.mount.hostPath), real);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new ValidationError(`${guestPath}: leads outside its mounted directory`, { path: guestPath });
    }
    return readFileSync(real);
  } catch (e) {
    if (e instanceof AgentKernelError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`${guestPath}: No such file or directory`, { path: guestPath });
    if (code === 'EISDIR') throw new ValidationError(`${guestPath}: Is a directory`, { path: guestPath });
    throw e;
  }
}
