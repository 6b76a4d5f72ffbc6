/**
 * ContainerBackend: full shells in docker, podman or Apple containers, with the persistent sandbox lifecycle. One
 * class for every engine; the engine's differences arrive as an EngineProfile and its EngineDialect. Sandbox
 * records live in SandboxStore, so a sandbox created by one process is used, stopped and removed by the next; the
 * engine's view (running or not, gone) is reconciled into the record when listing.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { ConfigError, ConflictError, NotFoundError, isAgentKernelError, throwIfAborted } from '../../core/errors.js';
import { getProfile } from '../../core/profiles.js';
import type {
  Availability, BackendName, Capabilities, ExecOptions, ExecResult, FileEntry, Mount, SandboxInfo, SandboxSpec, SandboxStatus,
} from '../../core/types.js';
import { SandboxStore, toInfo, validateSandboxName, type SandboxRecord } from '../../service/store.js';
import { BaseBackend, NO_CAPABILITIES } from '../base.js';
import { appliedFromEngine, appliedFromPlan, GUEST_FACTS_ARGV, isolationReport, parseGuestFacts, withGaps, type Applied } from './applied.js';
import { ContainerEngine, type EngineProfile } from './engine.js';
import { execInContainer } from './exec.js';
import * as files from './files.js';
import { detectImage, ensureImage } from './images.js';
import { planContainer, type ContainerPlan } from './plan.js';
import { ContainerPool, POOL_LABEL, type PooledContainer } from './pool.js';
import type { StreamOutcome } from './stream.js';
import { validateArgv, validateEnv, validateGuestPath } from './validate.js';
import { dir } from '../../core/paths.js';
import { streamCommand } from './stream.js';

export interface ContainerBackendOptions {
  /** Where sandbox records live (default: the state directory, shared with every backend). */
  store?: SandboxStore;
  /**
   * Warm containers kept ready per kind of ephemeral run; 0 turns the pool off.
   * @default the AGENTKERNEL_CONTAINER_POOL environment variable, else 1
   */
  poolSize?: number;
  /** OCI runtime for every container of this backend: 'runsc' runs them under gVisor. */
  runtime?: 'runsc';
  /** Directory whose project files guide image detection (default: the process's working directory). */
  cwd?: string;
}

/** A sandbox spec with the container-only choice of OCI runtime. */
export interface ContainerSandboxSpec extends SandboxSpec {
  runtime?: 'runsc';
}

export type ContainerRunOptions = ExecOptions & { image?: string; mounts?: Mount[] };

/** Label carried by sandbox containers; its value is the sandbox name. */
export const SANDBOX_LABEL = 'agentkernel.sandbox';

const CAPABILITIES: Capabilities = { ...NO_CAPABILITIES, lifecycle: true, exec: true, files: true, languages: [] };
const AVAILABILITY_TTL_MS = 5_000;
/** `stop` gives PID 1 this long before the engine kills it (the idle init exits on SIGTERM at once). */
const STOP_TIMEOUT_S = 2;
/** The interactive shell of `attach`: bash where the image has it. */
const DEFAULT_SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

interface ContainerData {
  container: string;
  runtime?: string;
}

export function containerNameFor(sandbox: string): string {
  return `agentkernel-${sandbox}`;
}

function poolSizeFrom(opt: number | undefined): number {
  const raw = opt ?? (process.env.AGENTKERNEL_CONTAINER_POOL ? Number(process.env.AGENTKERNEL_CONTAINER_POOL) : 1);
  if (!Number.isInteger(raw) || raw < 0 || raw > 64) throw new ConfigError(`container pool size must be an integer from 0 to 64, got ${raw}`);
  return raw;
}

export class ContainerBackend extends BaseBackend {
  readonly name: BackendName;
  readonly engine: ContainerEngine;
  readonly store: SandboxStore;
  readonly pool: ContainerPool;
  readonly runtime?: 'runsc';
  private readonly cwd?: string;
  private readonly knownImages = new Set<string>();
  private availabilityCache?: { at: number; value: Promise<Availability> };

  constructor(profile: EngineProfile, opts: ContainerBackendOptions = {}) {
    super();
    this.name = profile.name;
    this.engine = new ContainerEngine(profile);
    this.store = opts.store ?? new SandboxStore();
    this.runtime = opts.runtime;
    this.cwd = opts.cwd;
    this.pool = new ContainerPool(
      {
        start: (plan, labels) => this.startContainer(plan, `agentkernel-run-${randomBytes(6).toString('hex')}`, labels, true),
        destroy: (c) => this.destroy(c),
        listOwned: () => this.engine.dialect.listLabelled(this.engine, POOL_LABEL),
      },
      poolSizeFrom(opts.poolSize),
    );
  }

  capabilities(): Capabilities {
    return { ...CAPABILITIES, languages: [] };
  }

  availability(): Promise<Availability> {
    const now = Date.now();
    if (!this.availabilityCache || now - this.availabilityCache.at > AVAILABILITY_TTL_MS) {
      this.availabilityCache = { at: now, value: this.engine.dialect.probe(this.engine) };
    }
    return this.availabilityCache.value;
  }

  // ---- persistent sandboxes --------------------------------------------------------------------------------------

  async create(spec: ContainerSandboxSpec): Promise<SandboxInfo> {
    const name = validateSandboxName(spec.name);
    const runtime = spec.runtime ?? this.runtime;
    const { image } = detectImage([], { image: spec.image, cwd: this.cwd });
    const plan = planContainer({
      image, profile: spec.profile, network: spec.network, memoryMb: spec.memoryMb, cpus: spec.cpus,
      env: spec.env, mounts: spec.mounts, runtime,
    });
    if (runtime) await this.engine.profile.checkRuntime(this.engine, runtime);
    await ensureImage(this.engine, image, this.knownImages);
    const rec = this.store.reserve({ ...spec, image }, this.name, plan.profile.name);
    const container = containerNameFor(name);
    try {
      await this.startContainer(plan, container, { [SANDBOX_LABEL]: name }, false);
      const applied = await this.verify(container, plan);
      const done: SandboxRecord = {
        ...rec, status: 'running', image, applied: { ...applied },
        backendData: { container, ...(runtime ? { runtime } : {}) } satisfies ContainerData,
      };
      this.store.put(done);
      return toInfo(done);
    } catch (e) {
      if (!(e instanceof ConflictError)) await this.destroy({ name: container, runtime });
      this.store.delete(name);
      throw e;
    }
  }

  async start(name: string): Promise<SandboxInfo> {
    const { rec, data } = this.own(name);
    const r = await this.engine.call(['start', '--', data.container], { runtime: data.runtime });
    if (r.exitCode !== 0) throw this.lifecycleError(name, 'start', r.stderr, r.exitCode);
    return toInfo(this.store.update(rec.name, { status: 'running' }));
  }

  async stop(name: string): Promise<SandboxInfo> {
    const { rec, data } = this.own(name);
    const r = await this.engine.call(['stop', '--time', String(STOP_TIMEOUT_S), '--', data.container], { runtime: data.runtime });
    if (r.exitCode !== 0) throw this.lifecycleError(name, 'stop', r.stderr, r.exitCode);
    return toInfo(this.store.update(rec.name, { status: 'stopped' }));
  }

  async remove(name: string): Promise<void> {
    const { rec, data } = this.own(name);
    await this.destroy({ name: data.container, runtime: data.runtime }, true);
    this.store.delete(rec.name);
  }

  /** This backend's sandboxes, with the status the engine reports now (written back to the records). */
  async list(): Promise<SandboxInfo[]> {
    const records = this.store.list(this.name);
    if (records.length === 0) return [];
    let states: Map<string, SandboxStatus>;
    try {
      states = await this.engine.dialect.containerStates(this.engine, SANDBOX_LABEL);
    } catch {
      return records.map(toInfo); // engine unreachable: the last recorded status is the best answer
    }
    return records.map((r) => {
      const container = (r.backendData as ContainerData | undefined)?.container ?? containerNameFor(r.name);
      // a container that is gone reads as stopped: start then reports that it no longer exists
      const status: SandboxStatus = states.get(container) ?? 'stopped';
      return this.store.withStatus(r, status);
    });
  }

  async exec(name: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const { rec, data } = this.own(name);
    const profile = getProfile(rec.profile);
    const out = await this.guard(name, execInContainer(this.engine, {
      container: data.container,
      runtime: data.runtime,
      argv: validateArgv(argv),
      env: validateEnv(opts.env),
      cwd: opts.cwd === undefined ? undefined : validateGuestPath(opts.cwd, 'working directory'),
      stdin: opts.stdin,
      timeoutMs: opts.timeoutMs ?? profile.timeoutMs,
      outputBytes: opts.outputBytes ?? profile.outputBytes,
      onStdout: opts.onStdout, onStderr: opts.onStderr, signal: opts.signal,
    }));
    return this.result(out, rec.applied as Applied | undefined);
  }

  /** Interactive TTY session (stdio inherited); resolves with its exit code. */
  async attach(name: string, opts: { command?: string[] } = {}): Promise<number> {
    const { data } = this.own(name);
    const argv = opts.command ? validateArgv(opts.command) : DEFAULT_SHELL;
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    const args = ['exec', '--interactive', ...(tty ? ['--tty'] : []), '--', data.container, ...argv];
    return new Promise((resolve, reject) => {
      const child = spawn(this.engine.profile.binary, this.engine.argv(args, data.runtime), { stdio: 'inherit', cwd: dir('state', 'engine') });
      child.on('error', (e: NodeJS.ErrnoException) => reject(this.engine.spawnError(e)));
      child.on('close', (code, signal) => resolve(code ?? (signal ? 130 : 1)));
    });
  }

  // ---- files -------------------------------------------------------------------------------------------------------

  readFile(name: string, path: string): Promise<Uint8Array> { return this.guard(name, files.readFile(this.fileTarget(name), path)); }
  writeFile(name: string, path: string, data: Uint8Array | string): Promise<void> {
    return this.guard(name, files.writeFile(this.fileTarget(name), path, data));
  }
  listFiles(name: string, path: string): Promise<FileEntry[]> { return this.guard(name, files.listFiles(this.fileTarget(name), path)); }
  removeFile(name: string, path: string): Promise<void> { return this.guard(name, files.removeFile(this.fileTarget(name), path)); }

  // ---- ephemeral runs ----------------------------------------------------------------------------------------------

  /** The plan an ephemeral run of `argv` would use (image detected when not given). */
  planRun(argv: string[], opts: ContainerRunOptions = {}): ContainerPlan {
    const { image } = detectImage(argv, { image: opts.image, cwd: this.cwd });
    return planContainer({ image, profile: opts.profile, memoryMb: opts.memoryMb, mounts: opts.mounts, runtime: this.runtime });
  }

  async run(argv: string[], opts: ContainerRunOptions = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    validateArgv(argv);
    const plan = this.planRun(argv, opts);
    const env = validateEnv(opts.env);
    const cwd = opts.cwd === undefined ? undefined : validateGuestPath(opts.cwd, 'working directory');
    if (plan.runtime) await this.engine.profile.checkRuntime(this.engine, plan.runtime);
    await ensureImage(this.engine, plan.image, this.knownImages);
    for (let attempt = 1; ; attempt++) {
      // no warm container: where the engine can, the command runs in a new container in one call
      const taken = this.engine.dialect.oneShotArgs ? this.pool.tryWarm(plan) : undefined;
      if (taken && !taken.lease) {
        try {
          return await this.runOneShot(plan, argv, env, cwd, opts);
        } finally {
          this.pool.owe(taken.refill);
        }
      }
      const lease = taken?.lease ?? (await this.pool.acquire(plan));
      try {
        const out = await execInContainer(this.engine, {
          container: lease.name, runtime: lease.runtime, argv, env, cwd, stdin: opts.stdin,
          timeoutMs: opts.timeoutMs ?? plan.profile.timeoutMs,
          outputBytes: opts.outputBytes ?? plan.profile.outputBytes,
          onStdout: opts.onStdout, onStderr: opts.onStderr, signal: opts.signal,
          // the container is thrown away after this run anyway: removing it stops everything in it at once
          stopGuest: () => this.destroy(lease),
        });
        return this.result(out, withGaps(appliedFromPlan(plan, this.name, this.runtimeName(plan.runtime)), this.engine.dialect.gaps(plan)));
      } catch (e) {
        // a warm container that died while idle is replaced once; anything else is the caller's to see
        const gone = isAgentKernelError(e) && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND') && /^container /.test(e.message);
        if (!(lease.warm && gone && attempt === 1)) throw e;
      } finally {
        this.pool.release(lease);
      }
    }
  }

  /** A cold ephemeral run: `run --rm` of the command itself; a timeout or abort removes the container. */
  private async runOneShot(plan: ContainerPlan, argv: string[], env: Record<string, string> | undefined, cwd: string | undefined, opts: ContainerRunOptions): Promise<ExecResult> {
    const name = `agentkernel-run-${randomBytes(6).toString('hex')}`;
    const args = this.engine.dialect.oneShotArgs!(plan, {
      name, labels: this.pool.ownerLabels(), removeOnStop: true, engineArgs: this.engine.profile.createArgs(plan.runtime),
      argv, env, cwd, interactive: opts.stdin !== undefined, drainStdin: this.engine.profile.drainStdin,
    });
    const out = await streamCommand(this.engine, {
      args, runtime: plan.runtime, stdin: opts.stdin,
      timeoutMs: opts.timeoutMs ?? plan.profile.timeoutMs,
      outputBytes: opts.outputBytes ?? plan.profile.outputBytes,
      onStdout: opts.onStdout, onStderr: opts.onStderr, signal: opts.signal,
      stopGuest: () => this.destroy({ name, runtime: plan.runtime }),
    });
    return this.result(out, withGaps(appliedFromPlan(plan, this.name, this.runtimeName(plan.runtime)), this.engine.dialect.gaps(plan)));
  }

  /** Start the pool's containers for runs like this one ahead of time. */
  async prewarm(opts: ContainerRunOptions & { argv?: string[] } = {}): Promise<void> {
    const plan = this.planRun(opts.argv ?? [], opts);
    await ensureImage(this.engine, plan.image, this.knownImages);
    await this.pool.prewarm(plan);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // ---- internals ---------------------------------------------------------------------------------------------------

  private own(name: string): { rec: SandboxRecord; data: ContainerData } {
    const rec = this.store.requireOwned(name, this.name);
    const data = (rec.backendData as ContainerData | undefined) ?? { container: containerNameFor(rec.name) };
    return { rec, data };
  }

  private fileTarget(name: string): files.FileTarget {
    const { data } = this.own(name);
    return { engine: this.engine, container: data.container, runtime: data.runtime };
  }

  /** Container-level errors of an operation on a sandbox, reworded in the sandbox's terms. */
  private async guard<T>(name: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (isAgentKernelError(e) && /^container /.test(e.message)) {
        if (e.code === 'CONFLICT') throw new ConflictError(`sandbox '${name}' is not running; start it with \`agentkernel start ${name}\``, { name });
        if (e.code === 'NOT_FOUND') {
          throw new NotFoundError(`the container of sandbox '${name}' no longer exists (removed outside agentkernel); remove the sandbox and create it again`, { name });
        }
      }
      throw e;
    }
  }

  private lifecycleError(name: string, op: string, stderr: string, exitCode: number): Error {
    if (this.engine.dialect.missingContainerRe.test(stderr)) {
      return new NotFoundError(`the container of sandbox '${name}' no longer exists (removed outside agentkernel); remove the sandbox and create it again`, { name });
    }
    return this.engine.failure(op, { exitCode, stdout: '', stderr });
  }

  /** `ENGINE run -d`: the container exists and its init is running when this resolves. */
  private async startContainer(plan: ContainerPlan, name: string, labels: Record<string, string>, removeOnStop: boolean): Promise<PooledContainer> {
    const args = this.engine.dialect.runArgs(plan, { name, labels, removeOnStop, engineArgs: this.engine.profile.createArgs(plan.runtime) });
    const r = await this.engine.call(args, { runtime: plan.runtime });
    if (r.exitCode !== 0) {
      if (/already in use|already exists/i.test(r.stderr)) {
        throw new ConflictError(
          `a ${this.name} container named '${name}' already exists (made by another agentkernel state directory, or left over): remove it with \`${this.name} rm -f ${name}\``,
          { container: name },
        );
      }
      throw this.engine.failure('run', r);
    }
    return { name, runtime: plan.runtime };
  }

  /** Remove a container whatever it runs; a container already gone is fine unless `strict`. */
  private async destroy(c: PooledContainer, strict = false): Promise<void> {
    const r = await this.engine.call([...this.engine.profile.removeNow, '--', c.name], { runtime: c.runtime });
    const gone = this.engine.dialect.missingContainerRe.test(r.stderr);
    if (r.exitCode !== 0 && strict && !gone) throw this.engine.failure('rm', r);
  }

  /** What the new container really got: the engine's inspect data plus the guest's own view of itself. */
  private async verify(container: string, plan: ContainerPlan): Promise<Applied> {
    const data = await this.engine.dialect.inspect(this.engine, container, plan.runtime);
    let facts;
    try {
      const out = await execInContainer(this.engine, {
        container, runtime: plan.runtime, argv: GUEST_FACTS_ARGV, timeoutMs: 15_000, outputBytes: 256 * 1024,
      });
      if (out.exitCode === 0) facts = parseGuestFacts(out.stdout.text());
    } catch {
      // reported as a missing guest check by appliedFromEngine
    }
    return appliedFromEngine(plan, this.name, this.runtimeName(plan.runtime), data, facts);
  }

  private runtimeName(runtime?: string): string {
    return runtime ?? (this.engine.profile.describe().runtime as string | undefined) ?? 'engine default';
  }

  private result(out: StreamOutcome, applied?: Applied): ExecResult {
    return {
      exitCode: out.exitCode,
      stdout: out.stdout.text(),
      stderr: out.stderr.text(),
      stdoutTruncated: out.stdout.truncated,
      stderrTruncated: out.stderr.truncated,
      durationMs: out.durationMs,
      ...(out.timedOut ? { timedOut: true } : {}),
      backend: this.name,
      ...(applied ? { isolation: isolationReport(applied, this.engine.dialect.extraLayers) } : {}),
    };
  }
}
