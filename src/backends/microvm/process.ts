/**
 * VMM processes: start one (attached to this process or detached to outlive it), tell whether a recorded one is
 * still the same VMM (a PID may be reused), wait for it to end, and the short socket paths Unix sockets need.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '../../core/errors.js';

/** sun_path holds 108 bytes; longer paths go to a short directory named by a hash of the VM's directory. */
export function socketPath(vmDir: string, name: string): string {
  const direct = join(vmDir, name);
  if (Buffer.byteLength(direct) < 100) return direct;
  const short = join(tmpdir(), `ak-vm-${createHash('sha256').update(vmDir).digest('hex').slice(0, 16)}`);
  mkdirSync(short, { recursive: true, mode: 0o700 });
  return join(short, name);
}

/** True when `pid` is alive and its command line mentions `marker` (the VM's directory). */
export function isVmmAlive(pid: number, marker: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmd.includes(marker)) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie is an exited VMM whose parent has not reaped it yet
  } catch {
    return false;
  }
}

export async function waitForExit(pid: number, marker: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!isVmmAlive(pid, marker)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !isVmmAlive(pid, marker);
}

export function killVmm(pid: number, marker: string): void {
  if (!isVmmAlive(pid, marker)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Start the VMM with its output going to `log`. Detached VMMs get their own session and are not waited for by
 * this process; attached ones are reaped by it. Resolves once the process exists (not once the guest booted).
 */
export function startVmm(binary: string, args: string[], log: string, detached: boolean): Promise<number> {
  const fd = openSync(log, 'a', 0o600);
  try {
    const child = spawn(binary, args, { stdio: ['ignore', fd, fd], detached });
    return new Promise((resolve, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) => {
        reject(e.code === 'ENOENT' ? new UnavailableError(`${binary} not found`) : e);
      });
      child.once('spawn', () => {
        if (detached) child.unref();
        resolve(child.pid!);
      });
    });
  } finally {
    closeSync(fd);
  }
}
