/**
 * Validation of the host directories a caller makes visible to a run. Each is resolved to its real path (the
 * jail binds real paths; a symlinked mount must not change meaning between the check and the bind), must be an
 * existing directory, and may not cover the jail's own pseudo filesystems or the whole host.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { Mount } from '../../core/types.js';
import { isReservedPath } from './jail/bwrap.js';

export function normalizeMounts(mounts: Mount[] | undefined): Mount[] {
  if (mounts === undefined) return [];
  if (!Array.isArray(mounts)) throw new ValidationError('mounts must be an array');
  return mounts.map((m) => {
    if (!m || typeof m.hostPath !== 'string' || !isAbsolute(m.hostPath)) {
      throw new ValidationError(`mount host path must be absolute: ${JSON.stringify(m?.hostPath)}`);
    }
    let real: string;
    try {
      real = realpathSync(m.hostPath);
    } catch {
      throw new ValidationError(`mount host path does not exist: ${m.hostPath}`, { hostPath: m.hostPath });
    }
    if (!statSync(real).isDirectory()) throw new ValidationError(`mount host path is not a directory: ${m.hostPath}`, { hostPath: m.hostPath });
    if (isReservedPath(real)) {
      throw new ValidationError(`cannot mount ${real}: mount a directory below it (/, /proc, /dev and /sys are the jail's own)`, { hostPath: real });
    }
    const guest = m.guestPath === undefined || m.guestPath === '' ? m.hostPath : m.guestPath;
    if (typeof guest !== 'string' || !guest.startsWith('/') || guest.includes('\0')) {
      throw new ValidationError(`mount guest path must be absolute: ${JSON.stringify(m.guestPath)}`);
    }
    return { hostPath: real, guestPath: posix.normalize(guest), readOnly: m.readOnly !== false };
  });
}
