/**
 * The shell's filesystem: a fresh in-memory tree per run (so nothing a script writes outside the mounts survives
 * it) with each mount mapped onto its host directory. Read-write mounts write through to the host; read-only
 * ones are just-bash overlays with writes refused (EROFS). just-bash refuses symlinks that lead out of a mount.
 */
import { posix } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { Mount } from '../../core/types.js';

type JustBash = typeof import('just-bash');

export function buildFilesystem(jb: JustBash, mounts: Mount[]): InstanceType<JustBash['MountableFs']> {
  const fs = new jb.MountableFs({ base: new jb.InMemoryFs() });
  const ordered = [...mounts].sort((a, b) => a.guestPath.length - b.guestPath.length);
  for (const m of ordered) {
    const at = posix.resolve('/', m.guestPath);
    if (at === '/') throw new ValidationError("the shell runtime cannot mount a directory at '/'", { guestPath: m.guestPath });
    const filesystem = m.readOnly
      ? new jb.OverlayFs({ root: m.hostPath, mountPoint: '/', readOnly: true })
      : new jb.ReadWriteFs({ root: m.hostPath });
    try {
      fs.mount(at, filesystem);
    } catch (e) {
      throw new ValidationError(`cannot mount '${m.hostPath}' at '${at}' in the shell: ${(e as Error).message}`, { guestPath: at });
    }
  }
  return fs;
}
