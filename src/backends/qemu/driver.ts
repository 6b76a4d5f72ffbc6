/**
 * The QEMU VMM driver: `qemu-system-x86_64 -M microvm`. Hardware acceleration is used when KVM can really boot
 * the guest: that is probed once (a real boot with -accel kvm) and the answer cached per QEMU and kernel, since
 * a /dev/kvm that exists may still be unable to run a stock kernel (nested kvm_pvm). Otherwise it falls back to
 * software emulation (TCG), and says so everywhere the acceleration is reported.
 */
import { execFile } from 'node:child_process';
import { constants, accessSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Duplex } from 'node:stream';
import { ConfigError } from '../../core/errors.js';
import { dir } from '../../core/paths.js';
import type { Availability } from '../../core/types.js';
import { bootVm, connectUnix } from '../microvm/boot.js';
import { createDisk } from '../microvm/disk.js';
import type { GuestImage } from '../microvm/guest-image.js';
import { killVmm, socketPath, startVmm, waitForExit } from '../microvm/process.js';
import type { Acceleration, VmHandle, VmmDriver, VmSpec } from '../microvm/vmm.js';
import { qemuArgv } from './argv.js';
import { qmpCommand } from './qmp.js';

const pexec = promisify(execFile);
export const QEMU_BINARY = 'qemu-system-x86_64';
/** A KVM boot that has not answered by then is not going to (the nested kvm_pvm case hangs or triple-faults). */
const KVM_PROBE_TIMEOUT_MS = 20_000;

export const TCG_ONLY_REASON =
  'software emulation (TCG) only: KVM cannot boot this guest kernel here, so a microVM is slower than a container; use -B qemu to choose it';

interface AccelDecision {
  acceleration: Acceleration;
  why: string;
}

export class QemuDriver implements VmmDriver {
  readonly name = 'qemu' as const;
  readonly diskFormat = 'qcow2' as const;
  private version?: Promise<string>;
  private accel?: Promise<AccelDecision>;

  qemuVersion(): Promise<string> {
    this.version ??= pexec(QEMU_BINARY, ['--version'], { timeout: 10_000 }).then(
      (r) => r.stdout.split('\n')[0].trim(),
      (e: NodeJS.ErrnoException) => {
        this.version = undefined;
        throw e;
      },
    );
    return this.version;
  }

  async availability(guest: GuestImage | { missing: string }): Promise<Availability> {
    let version: string;
    try {
      version = await this.qemuVersion();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { available: false, reason: code === 'ENOENT' ? `${QEMU_BINARY} not found (apt-get install qemu-system-x86)` : `${QEMU_BINARY} --version failed: ${(e as Error).message}` };
    }
    if ('missing' in guest) return { available: false, reason: guest.missing, details: { qemu: version } };
    const a = await this.acceleration(guest);
    const details = { qemu: version, machine: 'microvm', acceleration: a.acceleration, accelerationReason: a.why, kernel: guest.kernelVersion, agent: guest.agentVersion };
    if (a.acceleration === 'tcg') return { available: true, autoSelect: false, reason: TCG_ONLY_REASON, details };
    return { available: true, details };
  }

  /** kvm or tcg for this guest: AGENTKERNEL_QEMU_ACCEL, else the cached probe, else a probe now. */
  acceleration(guest: GuestImage): Promise<AccelDecision> {
    const forced = process.env.AGENTKERNEL_QEMU_ACCEL;
    if (forced) {
      if (forced !== 'kvm' && forced !== 'tcg') return Promise.reject(new ConfigError(`AGENTKERNEL_QEMU_ACCEL must be kvm or tcg, got '${forced}'`));
      return Promise.resolve({ acceleration: forced, why: 'set by AGENTKERNEL_QEMU_ACCEL' });
    }
    this.accel ??= this.decide(guest).catch((e) => {
      this.accel = undefined;
      throw e;
    });
    return this.accel;
  }

  private async decide(guest: GuestImage): Promise<AccelDecision> {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return { acceleration: 'tcg', why: 'no read-write access to /dev/kvm' };
    }
    const key = `${(await this.qemuVersion()).replace(/[^\w.-]+/g, '_')}-${guest.kernelVersion}-${guest.agentVersion.replace(/[^\w.-]+/g, '_')}`;
    const cache = join(dir('cache', 'microvm'), `accel-${key}.json`);
    if (existsSync(cache)) {
      try {
        return JSON.parse(readFileSync(cache, 'utf8')) as AccelDecision;
      } catch {
        // rewritten below
      }
    }
    const decision = await this.probeKvm(guest);
    writeFileSync(cache, JSON.stringify(decision));
    return decision;
  }

  /** Boot the guest once under KVM; any failure to answer means software emulation. */
  private async probeKvm(guest: GuestImage): Promise<AccelDecision> {
    const vmDir = mkdtempSync(join(dir('cache', 'microvm'), 'probe-'));
    try {
      const disk = join(vmDir, 'disk.qcow2');
      await createDisk('qcow2', guest.rootfs, disk);
      const spec: VmSpec = { dir: vmDir, disk, guest, memoryMb: 256, cpus: 1, network: false, ephemeral: true, detached: false };
      // this driver, except that it launches under KVM whatever was decided
      const underKvm: VmmDriver = Object.assign(Object.create(this) as QemuDriver, { launch: (s: VmSpec) => this.launchWith(s, 'kvm') });
      const { vm, agent } = await bootVm(underKvm, spec, KVM_PROBE_TIMEOUT_MS);
      agent.close();
      await this.terminate(vm);
      return { acceleration: 'kvm', why: 'a probe boot under KVM answered' };
    } catch (e) {
      return { acceleration: 'tcg', why: `KVM could not boot the guest: ${(e as Error).message.split('\n')[0].slice(0, 300)}` };
    } finally {
      rmSync(vmDir, { recursive: true, force: true });
    }
  }

  async launch(spec: VmSpec): Promise<VmHandle> {
    return this.launchWith(spec, (await this.acceleration(spec.guest)).acceleration);
  }

  private async launchWith(spec: VmSpec, acceleration: Acceleration): Promise<VmHandle> {
    const agentSocket = socketPath(spec.dir, 'agent.sock');
    const qmpSocket = socketPath(spec.dir, 'qmp.sock');
    for (const s of [agentSocket, qmpSocket]) rmSync(s, { force: true });
    const args = qemuArgv({
      kernel: spec.guest.kernel, initrd: spec.guest.initrd, disk: spec.disk, memoryMb: spec.memoryMb, cpus: spec.cpus,
      network: spec.network, ephemeral: spec.ephemeral, acceleration, agentSocket, qmpSocket, consoleLog: join(spec.dir, 'console.log'),
    });
    const pid = await startVmm(QEMU_BINARY, args, join(spec.dir, 'vmm.log'), spec.detached);
    return {
      pid, dir: spec.dir, agentSocket, controlSocket: qmpSocket, acceleration,
      facts: { vmm: await this.qemuVersion(), machine: 'microvm', acceleration, memoryMb: spec.memoryMb, cpus: spec.cpus, network: spec.network },
    };
  }

  connectAgent(vm: VmHandle): Promise<Duplex> {
    return connectUnix(vm.agentSocket, vm, 10_000);
  }

  async terminate(vm: VmHandle): Promise<void> {
    if (vm.controlSocket) {
      try {
        await qmpCommand(vm.controlSocket, 'quit', 3_000);
      } catch {
        // no QMP answer: killed below
      }
    }
    if (!(await waitForExit(vm.pid, vm.dir, 3_000))) killVmm(vm.pid, vm.dir);
    await waitForExit(vm.pid, vm.dir, 2_000);
  }
}
