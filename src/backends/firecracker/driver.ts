/**
 * The Firecracker VMM driver: one `firecracker` process per VM (under its `jailer` where installed), configured
 * through its API socket; the guest agent is reached over vsock (Firecracker exposes it as a Unix socket that
 * takes a `CONNECT port` line). Firecracker is KVM-only and boots an uncompressed ELF kernel (vmlinux).
 */
import { execFile } from 'node:child_process';
import { constants, accessSync, linkSync, mkdirSync, openSync, readSync, closeSync, copyFileSync, writeFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { UnavailableError } from '../../core/errors.js';
import type { Availability } from '../../core/types.js';
import { connectUnix } from '../microvm/boot.js';
import type { GuestImage } from '../microvm/guest-image.js';
import { killVmm, socketPath, startVmm, waitForExit } from '../microvm/process.js';
import type { VmHandle, VmmDriver, VmSpec } from '../microvm/vmm.js';
import { AGENT_VSOCK_PORT, CTRL_ALT_DEL, configureCalls, jailRoot, jailerArgv, put, vsockConnectLine } from './api.js';

const pexec = promisify(execFile);

function isElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    return b.readUInt32BE(0) === 0x7f454c46;
  } finally {
    closeSync(fd);
  }
}

/** The kernel Firecracker boots: AGENTKERNEL_FIRECRACKER_KERNEL (a vmlinux), else the guest's own if it is ELF. */
export function firecrackerKernel(guest: GuestImage): string | undefined {
  const k = process.env.AGENTKERNEL_FIRECRACKER_KERNEL ?? guest.kernel;
  try {
    return isElf(k) ? k : undefined;
  } catch {
    return undefined;
  }
}

async function which(binary: string): Promise<string | undefined> {
  try {
    return (await pexec('sh', ['-c', 'command -v "$1"', 'sh', binary])).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Put a file into the jail: a hard link where possible (same filesystem), else a copy. */
function intoJail(src: string, root: string): string {
  const dest = join(root, basename(src));
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
  }
  return `/${basename(src)}`;
}

export class FirecrackerDriver implements VmmDriver {
  readonly name = 'firecracker' as const;
  readonly diskFormat = 'raw' as const;

  async availability(guest: GuestImage | { missing: string }): Promise<Availability> {
    const binary = await which('firecracker');
    if (!binary) return { available: false, reason: 'firecracker binary not found (install Firecracker and put it on PATH)' };
    const version = (await pexec(binary, ['--version']).then((r) => r.stdout.split('\n')[0].trim(), () => 'unknown'));
    const jailer = await which('jailer');
    const details = { firecracker: version, binary, jailer: jailer ?? 'not installed (the VMM runs without its chroot and privilege drop)', acceleration: 'kvm' };
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return { available: false, reason: 'Firecracker needs read-write access to /dev/kvm', details };
    }
    if ('missing' in guest) return { available: false, reason: guest.missing, details };
    if (!firecrackerKernel(guest)) {
      return { available: false, reason: 'Firecracker boots an uncompressed ELF kernel (vmlinux); set AGENTKERNEL_FIRECRACKER_KERNEL to one', details };
    }
    return { available: true, ...(jailer ? {} : { reason: 'jailer not installed: Firecracker runs without its chroot and privilege drop' }), details };
  }

  async launch(spec: VmSpec): Promise<VmHandle> {
    const binary = await which('firecracker');
    if (!binary) throw new UnavailableError('firecracker binary not found');
    const kernel = firecrackerKernel(spec.guest);
    if (!kernel) throw new UnavailableError('Firecracker boots an uncompressed ELF kernel (vmlinux); set AGENTKERNEL_FIRECRACKER_KERNEL to one');
    const jailer = await which('jailer');
    let pid: number;
    let api: string;
    let vsock: string;
    const files = { kernel, initrd: spec.guest.initrd, disk: spec.disk };
    if (jailer) {
      const id = basename(spec.dir).replace(/[^A-Za-z0-9-]/g, '-').slice(0, 60);
      const base = join(spec.dir, 'jail');
      const root = jailRoot(base, id);
      mkdirSync(join(root, 'run'), { recursive: true });
      files.kernel = intoJail(kernel, root);
      files.initrd = intoJail(spec.guest.initrd, root);
      files.disk = intoJail(spec.disk, root);
      pid = await startVmm(jailer, jailerArgv({ id, firecracker: binary, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, chrootBase: base }), join(spec.dir, 'vmm.log'), spec.detached);
      api = join(root, 'run', 'firecracker.socket');
      vsock = join(root, 'vsock.sock');
    } else {
      api = socketPath(spec.dir, 'api.sock');
      vsock = socketPath(spec.dir, 'vsock.sock');
      writeFileSync(join(spec.dir, 'firecracker.log'), ''); // --log-path must name an existing file
      // the VM directory in argv is what isVmmAlive recognises this VMM by
      pid = await startVmm(binary, ['--api-sock', api, '--id', 'agentkernel', '--log-path', join(spec.dir, 'firecracker.log')], join(spec.dir, 'vmm.log'), spec.detached);
    }
    const vm: VmHandle = { pid, dir: spec.dir, agentSocket: vsock, controlSocket: api, acceleration: 'kvm', facts: { vmm: 'firecracker', jailer: Boolean(jailer), memoryMb: spec.memoryMb, cpus: spec.cpus, network: false } };
    try {
      (await connectUnix(api, vm, 10_000)).destroy(); // the API socket is up
      const inside = jailer ? '/vsock.sock' : vsock;
      for (const call of configureCalls({ ...files, vsockPath: inside, memoryMb: spec.memoryMb, cpus: spec.cpus, ephemeral: spec.ephemeral })) await put(api, call);
      return vm;
    } catch (e) {
      killVmm(pid, spec.dir);
      throw e;
    }
  }

  async connectAgent(vm: VmHandle): Promise<Duplex> {
    const end = Date.now() + 60_000;
    for (;;) {
      const s = await connectUnix(vm.agentSocket, vm, 10_000);
      // the guest's listener may not be up yet: Firecracker then closes the connection instead of answering OK
      const ok = await new Promise<boolean>((resolve) => {
        let line = '';
        const onData = (c: Buffer) => {
          line += c.toString('latin1');
          const nl = line.indexOf('\n');
          if (nl < 0) return;
          s.removeListener('data', onData);
          s.removeListener('close', onClose);
          const rest = Buffer.from(line.slice(nl + 1), 'latin1');
          if (rest.length) s.unshift(rest);
          resolve(line.startsWith('OK '));
        };
        const onClose = () => resolve(false);
        s.on('data', onData);
        s.once('close', onClose);
        s.write(vsockConnectLine(AGENT_VSOCK_PORT));
      });
      if (ok) return s;
      s.destroy();
      if (Date.now() > end) throw new UnavailableError('the Firecracker guest agent did not accept a vsock connection within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async terminate(vm: VmHandle): Promise<void> {
    if (vm.controlSocket) await put(vm.controlSocket, CTRL_ALT_DEL, 2_000).catch(() => {});
    if (!(await waitForExit(vm.pid, vm.dir, 3_000))) killVmm(vm.pid, vm.dir);
    await waitForExit(vm.pid, vm.dir, 2_000);
  }
}
