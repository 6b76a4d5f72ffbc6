/**
 * MicroVmBackend: Linux microVMs with full shells behind a VM boundary, on top of a VmmDriver (QEMU, Firecracker).
 * Persistent sandboxes are VMs on their own copy-on-write disk under the state directory: `stop` powers the VM off
 * and keeps the disk, `start` boots it again on the same disk, `remove` deletes both. Their VMM runs detached and
 * its handle is in the sandbox record, so any later process execs into it. Ephemeral runs take a booted VM from
 * the warm pool and destroy it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, ConflictError, UnavailableError, UnsupportedError, throwIfAborted } from '../../core/errors.js';
import { dir } from '../../core/paths.js';
import { getProfile, type SecurityProfile } from '../../core/profiles.js';
import type {
  Availability, BackendName, Capabilities, ExecOptions, ExecResult, FileEntry, IsolationReport, Mount, SandboxInfo, SandboxSpec, SandboxStatus,
} from '../../core/types.js';
import { SandboxStore, toInfo, validateSandboxName, type SandboxRecord } from '../../service/store.js';
import { BaseBackend, NO_CAPABILITIES } from '../base.js';
import { validateArgv, validateEnv, validateGuestPath } from '../container/validate.js';
import type { AgentClient, ExecOutcome } from './agent-client.js';
import { attachAgent, bootVm } from './boot.js';
import { createDisk } from './disk.js';
import { findGuestImage, type GuestImage } from './guest-image.js';
import { VmPool, reapOrphanDirs, type PoolSpec, type PooledVm } from './pool.js';
import { isVmmAlive, killVmm, waitForExit } from './process.js';
import type { VmHandle, VmmDriver } from './vmm.js';

export interface MicroVmBackendOptions {
  store?: SandboxStore;
  /** Booted VMs kept per kind of ephemeral run; 0 turns the pool off. @default AGENTKERNEL_MICROVM_POOL, else 1 */
  poolSize?: number;
}

interface VmData {
  dir: string;
  disk: string;
  memoryMb: number;
  cpus: number;
  network: boolean;
  vm?: VmHandle;
}

const CAPABILITIES: Capabilities = { ...NO_CAPABILITIES, lifecycle: true, exec: true, files: true, languages: [] };
const DEFAULT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
const NOBODY = 65534;
/**
 * How long a persistent VM's agent gets to answer a new connection. Generous: under software emulation a VM started
 * moments ago may still be booting, several at once on two cores take tens of seconds, and a VM that died is
 * noticed within 250 ms anyway (attachAgent watches its process).
 */
const ATTACH_TIMEOUT_MS = 120_000;
/** How long a VM gets to power off after the agent synced its disk, before the VMM is ended. */
const POWEROFF_TIMEOUT_MS = 10_000;
const AVAILABILITY_TTL_MS = 5_000;

function poolSizeFrom(opt: number | undefined): number {
  const raw = opt ?? (process.env.AGENTKERNEL_MICROVM_POOL ? Number(process.env.AGENTKERNEL_MICROVM_POOL) : 1);
  if (!Number.isInteger(raw) || raw < 0 || raw > 16) throw new ConfigError(`microVM pool size must be an integer from 0 to 16, got ${raw}`);
  return raw;
}

function refuseMountsAndImages(what: string, mounts?: Mount[], image?: string): void {
  if (mounts?.length) throw new UnsupportedError(`${what}: host directory mounts are not supported by microVM backends (copy files in with writeFile)`);
  if (image) throw new UnsupportedError(`${what}: microVMs boot the root filesystem built by \`agentkernel setup\`; container images are not supported`);
}

export class MicroVmBackend extends BaseBackend {
  readonly name: BackendName;
  readonly store: SandboxStore;
  readonly pool: VmPool;
  private availabilityCache?: { at: number; value: Promise<Availability> };
  private reaped = false;
  private readonly connections = new Map<string, { agent: Promise<AgentClient>; users: number }>();

  constructor(readonly driver: VmmDriver, opts: MicroVmBackendOptions = {}) {
    super();
    this.name = driver.name;
    this.store = opts.store ?? new SandboxStore();
    this.pool = new VmPool({ start: (s, signal) => this.startPooled(s, signal), destroy: (v) => this.destroyVm(v.vm, v.agent) }, poolSizeFrom(opts.poolSize));
  }

  capabilities(): Capabilities {
    return { ...CAPABILITIES, languages: [] };
  }

  availability(): Promise<Availability> {
    const now = Date.now();
    if (!this.availabilityCache || now - this.availabilityCache.at > AVAILABILITY_TTL_MS) {
      this.availabilityCache = { at: now, value: this.driver.availability(findGuestImage()) };
    }
    return this.availabilityCache.value;
  }

  /** The built guest, or UnavailableError saying what to do. */
  private async guest(): Promise<GuestImage> {
    const a = await this.availability();
    if (!a.available) throw new UnavailableError(`backend '${this.name}' is unavailable: ${a.reason}`, { backend: this.name });
    const g = findGuestImage();
    if ('missing' in g) throw new UnavailableError(g.missing, { backend: this.name });
    return g;
  }

  private settings(profile: SecurityProfile, spec: { memoryMb?: number; cpus?: number; network?: boolean }): PoolSpec {
    const memoryMb = spec.memoryMb ?? profile.memoryMb;
    const cpus = spec.cpus ?? profile.cpus;
    if (!Number.isInteger(memoryMb) || memoryMb < 128 || memoryMb > 65536) throw new ConfigError(`microVM memory must be 128-65536 MiB, got ${memoryMb}`);
    if (!Number.isInteger(cpus) || cpus < 1) throw new ConfigError(`microVM vCPUs must be a positive integer, got ${cpus}`);
    return { memoryMb, cpus: Math.min(cpus, availableParallelism()), network: Boolean(spec.network ?? profile.network) && this.driver.name === 'qemu' };
  }

  // ---- persistent sandboxes --------------------------------------------------------------------------------------

  async create(spec: SandboxSpec): Promise<SandboxInfo> {
    const name = validateSandboxName(spec.name);
    refuseMountsAndImages(`sandbox '${name}'`, spec.mounts, spec.image);
    const profile = getProfile(spec.profile);
    const settings = this.settings(profile, spec);
    const guest = await this.guest();
    const rec = this.store.reserve(spec, this.name, profile.name);
    const vmDir = join(dir('state', 'microvm'), name);
    const data: VmData = { dir: vmDir, disk: join(vmDir, `disk.${this.driver.diskFormat}`), ...settings };
    try {
      rmSync(vmDir, { recursive: true, force: true }); // left over by a crash between reserve and record
      mkdirSync(vmDir, { recursive: true, mode: 0o700 });
      await createDisk(this.driver.diskFormat, guest.rootfs, data.disk);
      const vm = await this.boot(data, guest);
      const done: SandboxRecord = { ...rec, status: 'running', applied: this.applied(vm, profile), backendData: { ...data, vm } };
      this.store.put(done);
      return toInfo(done);
    } catch (e) {
      rmSync(vmDir, { recursive: true, force: true });
      this.store.delete(name);
      throw e;
    }
  }

  async start(name: string): Promise<SandboxInfo> {
    const { rec, data } = this.own(name);
    if (data.vm && isVmmAlive(data.vm.pid, data.vm.dir)) return toInfo(this.store.update(rec.name, { status: 'running' }));
    const vm = await this.boot(data, await this.guest());
    return toInfo(this.store.update(rec.name, { status: 'running', applied: this.applied(vm, getProfile(rec.profile)), backendData: { ...data, vm } }));
  }

  async stop(name: string): Promise<SandboxInfo> {
    const { rec, data } = this.own(name);
    if (data.vm && isVmmAlive(data.vm.pid, data.vm.dir)) await this.powerOff(data.vm);
    return toInfo(this.store.update(rec.name, { status: 'stopped' }));
  }

  async remove(name: string): Promise<void> {
    const { rec, data } = this.own(name);
    if (data.vm) {
      killVmm(data.vm.pid, data.vm.dir); // the disk goes too: nothing to sync
      await waitForExit(data.vm.pid, data.vm.dir, 5_000);
      removeSocketDir(data.vm, data.dir);
    }
    rmSync(data.dir, { recursive: true, force: true });
    this.store.delete(rec.name);
  }

  async list(): Promise<SandboxInfo[]> {
    return this.store.list(this.name).map((r) => {
      const vm = (r.backendData as VmData | undefined)?.vm;
      const status: SandboxStatus = vm && isVmmAlive(vm.pid, vm.dir) ? 'running' : r.status === 'created' ? 'created' : 'stopped';
      return this.store.withStatus(r, status);
    });
  }

  async exec(name: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    const { rec } = this.own(name);
    const profile = getProfile(rec.profile);
    const req = this.execRequest(argv, opts, profile);
    return this.withAgent(name, async (agent, vm) => this.result(await agent.exec(req, this.streams(opts, profile)), vm, profile));
  }

  readFile(name: string, path: string): Promise<Uint8Array> {
    const p = validateGuestPath(path);
    return this.withAgent(name, (a) => a.readFile(p));
  }

  writeFile(name: string, path: string, data: Uint8Array | string): Promise<void> {
    const p = validateGuestPath(path);
    if (p === '/') throw new ConfigError('cannot write to /');
    return this.withAgent(name, (a) => a.writeFile(p, data));
  }

  listFiles(name: string, path: string): Promise<FileEntry[]> {
    const p = validateGuestPath(path);
    return this.withAgent(name, (a) => a.listFiles(p));
  }

  removeFile(name: string, path: string): Promise<void> {
    const p = validateGuestPath(path);
    if (p === '/') throw new ConfigError('refusing to remove /');
    return this.withAgent(name, (a) => a.removeFile(p));
  }

  // ---- ephemeral runs ----------------------------------------------------------------------------------------------

  async run(argv: string[], opts: ExecOptions & { image?: string; mounts?: Mount[] } = {}): Promise<ExecResult> {
    throwIfAborted(opts.signal);
    refuseMountsAndImages('run', opts.mounts, opts.image);
    const profile = getProfile(opts.profile);
    const req = this.execRequest(argv, opts, profile);
    const spec = this.settings(profile, { memoryMb: opts.memoryMb });
    await this.guest();
    for (let attempt = 1; ; attempt++) {
      const lease = await this.pool.acquire(spec);
      try {
        return this.result(await lease.agent.exec(req, this.streams(opts, profile)), lease.vm, profile);
      } catch (e) {
        // a warm VM that died while idle is replaced once; anything else is the caller's to see
        if (!(lease.warm && lease.agent.closed && attempt === 1)) throw e;
      } finally {
        this.pool.release(lease);
      }
    }
  }

  /** Boot the pool's VMs for runs with these options ahead of time. */
  async prewarm(opts: { profile?: string; memoryMb?: number } = {}): Promise<void> {
    await this.guest();
    await this.pool.prewarm(this.settings(getProfile(opts.profile), { memoryMb: opts.memoryMb }));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  // ---- internals ---------------------------------------------------------------------------------------------------

  private own(name: string): { rec: SandboxRecord; data: VmData } {
    const rec = this.store.requireOwned(name, this.name);
    return { rec, data: rec.backendData as unknown as VmData };
  }

  private async boot(data: VmData, guest: GuestImage): Promise<VmHandle> {
    const { vm, agent } = await bootVm(this.driver, {
      dir: data.dir, disk: data.disk, guest, memoryMb: data.memoryMb, cpus: data.cpus, network: data.network, ephemeral: false, detached: true,
    });
    agent.close();
    return vm;
  }

  /** Ask the guest to sync and power off; end the VMM if it does not. */
  private async powerOff(vm: VmHandle): Promise<void> {
    try {
      const agent = await attachAgent(this.driver, vm, ATTACH_TIMEOUT_MS);
      await agent.shutdown();
      agent.close();
    } catch {
      // unreachable agent: the VMM is ended below
    }
    if (!(await waitForExit(vm.pid, vm.dir, POWEROFF_TIMEOUT_MS))) await this.driver.terminate(vm);
  }

  /**
   * A connection to a running sandbox's agent for the length of `fn`. The VMM serves one connection at a time, so
   * concurrent operations of this process share one (requests are multiplexed); it closes when the last is done.
   */
  private async withAgent<T>(name: string, fn: (a: AgentClient, vm: VmHandle) => Promise<T>): Promise<T> {
    const { data } = this.own(name);
    const vm = data.vm;
    if (!vm || !isVmmAlive(vm.pid, vm.dir)) {
      throw new ConflictError(`sandbox '${name}' is not running; start it with \`agentkernel start ${name}\``, { name });
    }
    const key = `${name}:${vm.pid}`;
    let conn = this.connections.get(key);
    if (!conn) {
      conn = { agent: attachAgent(this.driver, vm, ATTACH_TIMEOUT_MS), users: 0 };
      this.connections.set(key, conn);
      conn.agent.catch(() => this.connections.delete(key));
    }
    conn.users++;
    try {
      return await fn(await conn.agent, vm);
    } finally {
      if (--conn.users === 0) {
        this.connections.delete(key);
        conn.agent.then((a) => a.close(), () => {});
      }
    }
  }

  private async startPooled(spec: PoolSpec, signal?: AbortSignal): Promise<PooledVm> {
    const guest = await this.guest();
    const runDir = dir('cache', 'microvm', 'run');
    if (!this.reaped) {
      this.reaped = true;
      reapOrphanDirs(runDir);
    }
    const vmDir = join(runDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
    mkdirSync(vmDir, { mode: 0o700 });
    try {
      const disk = join(vmDir, `disk.${this.driver.diskFormat}`);
      await createDisk(this.driver.diskFormat, guest.rootfs, disk);
      return await bootVm(this.driver, { dir: vmDir, disk, guest, ...spec, ephemeral: true, detached: false }, undefined, signal);
    } catch (e) {
      rmSync(vmDir, { recursive: true, force: true });
      throw e;
    }
  }

  private async destroyVm(vm: VmHandle, agent: AgentClient): Promise<void> {
    agent.close(); // the ephemeral agent powers off when its host leaves; terminate makes sure
    killVmm(vm.pid, vm.dir);
    await waitForExit(vm.pid, vm.dir, 5_000);
    removeSocketDir(vm, vm.dir);
    rmSync(vm.dir, { recursive: true, force: true });
  }

  private execRequest(argv: string[], opts: ExecOptions, profile: SecurityProfile) {
    const cwd = opts.cwd === undefined ? undefined : validateGuestPath(opts.cwd, 'working directory');
    const uid = profile.nonRootUser ? NOBODY : 0;
    return { argv: validateArgv(argv), env: { ...DEFAULT_ENV, ...(uid ? { HOME: '/tmp' } : {}), ...validateEnv(opts.env) }, cwd, uid, gid: uid };
  }

  private streams(opts: ExecOptions, profile: SecurityProfile) {
    return {
      stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? profile.timeoutMs, outputBytes: opts.outputBytes ?? profile.outputBytes,
      onStdout: opts.onStdout, onStderr: opts.onStderr, signal: opts.signal,
    };
  }

  private applied(vm: VmHandle, profile: SecurityProfile): Record<string, unknown> {
    return { ...vm.facts, user: profile.nonRootUser ? 'nobody' : 'root', disk: `${this.driver.diskFormat} copy-on-write over the base root filesystem` };
  }

  isolation(vm: VmHandle, profile: SecurityProfile): IsolationReport {
    const missing: { layer: string; reason: string }[] = [];
    if (vm.acceleration === 'tcg') {
      missing.push({ layer: 'kvm', reason: 'software emulation (TCG): the VM boundary is QEMU\'s emulator, not hardware virtualization' });
    }
    if (profile.readOnlyRoot) missing.push({ layer: 'read-only-root', reason: 'the root is the VM\'s own copy-on-write disk, writable inside the VM' });
    if (profile.network && !vm.facts.network) missing.push({ layer: 'network', reason: `${this.name} VMs get no network device here` });
    return { layers: ['microvm', vm.acceleration, ...(profile.nonRootUser ? ['non-root-user'] : [])], ...(missing.length ? { missing } : {}) };
  }

  private result(out: ExecOutcome, vm: VmHandle, profile: SecurityProfile): ExecResult {
    return {
      exitCode: out.exitCode,
      stdout: out.stdout.text(),
      stderr: out.stderr.text(),
      stdoutTruncated: out.stdout.truncated,
      stderrTruncated: out.stderr.truncated,
      durationMs: out.durationMs,
      ...(out.timedOut ? { timedOut: true } : {}),
      backend: this.name,
      isolation: this.isolation(vm, profile),
    };
  }
}

/** Sockets moved to a short directory (see socketPath) are removed with their VM. */
function removeSocketDir(vm: VmHandle, vmDir: string): void {
  const d = dirname(vm.agentSocket);
  if (d !== vmDir) rmSync(d, { recursive: true, force: true });
}
