/**
 * Per-VM copy-on-write disks over the read-only base root filesystem. Each VM gets its own: a qcow2 overlay
 * whose backing file is the base (QEMU), or a reflink/sparse copy of it (raw, for Firecracker). No disk is ever
 * shared read-write between VMs, and the base is never opened for writing.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UnavailableError } from '../../core/errors.js';

const pexec = promisify(execFile);

/** qemu-img's argv for an overlay of `base` (raw) at `disk`. */
export function overlayArgs(base: string, disk: string): string[] {
  return ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base, disk];
}

export async function createDisk(format: 'qcow2' | 'raw', base: string, disk: string): Promise<void> {
  try {
    if (format === 'qcow2') await pexec('qemu-img', overlayArgs(base, disk), { timeout: 60_000 });
    else await pexec('cp', ['--reflink=auto', '--sparse=always', base, disk], { timeout: 300_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UnavailableError(`${format === 'qcow2' ? 'qemu-img' : 'cp'} not found (apt-get install qemu-utils)`);
    throw new UnavailableError(`creating the VM's disk failed: ${(err.stderr ?? err.message).trim()}`);
  }
}
