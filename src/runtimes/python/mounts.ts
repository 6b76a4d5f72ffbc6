/**
 * Host directories inside Pyodide's filesystem: each mount becomes an Emscripten NODEFS mount at its guest path,
 * so `open('/data/x')` reaches the host file. NODEFS has no read-only mode, so a guard on Emscripten's permission
 * checks refuses every write below a read-only mount with EROFS ("Read-only file system"), whatever the host
 * file's mode bits say. (The worker's jail enforces the same with a read-only bind mount; this is the second
 * layer, and the only one when the runtime runs unjailed, as in tests.)
 */
import { posix } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { Mount } from '../../core/types.js';
import type { EmFS, EmNode } from './emscripten.js';

function isReadOnly(node: EmNode | undefined | null): boolean {
  return node?.mount?.opts?.readOnly === true;
}

/** Install once per interpreter: writes, creations, deletions, truncation, chmod and utime below read-only mounts fail. */
export function installReadOnlyGuard(FS: EmFS, erofs: number): void {
  const nodePermissions = FS.nodePermissions.bind(FS);
  FS.nodePermissions = (node, perms) => (perms.includes('w') && isReadOnly(node) ? erofs : nodePermissions(node, perms));
  const doSetAttr = FS.doSetAttr.bind(FS);
  FS.doSetAttr = (stream, node, attr) => {
    if (isReadOnly(node)) throw new FS.ErrnoError(erofs);
    doSetAttr(stream, node, attr);
  };
  const utime = FS.utime.bind(FS);
  FS.utime = (path, atime, mtime) => {
    if (isReadOnly(FS.lookupPath(path, { follow: true }).node)) throw new FS.ErrnoError(erofs);
    utime(path, atime, mtime);
  };
}

/**
 * Mount `mounts` (outermost first). Returns the guest paths mounted, for unmountAll(). Directories that do not
 * exist are created in the in-memory filesystem (the reset removes them); a mount point that would have to be
 * created inside another host mount is refused rather than created on the host.
 */
export function mountAll(FS: EmFS, NODEFS: unknown, mounts: Mount[]): string[] {
  const ordered = [...mounts]
    .map((m) => ({ ...m, guestPath: posix.resolve('/', m.guestPath) }))
    .sort((a, b) => a.guestPath.split('/').length - b.guestPath.split('/').length);
  const done: string[] = [];
  try {
    for (const m of ordered) {
      const path = m.guestPath;
      if (path === '/' || path === '/dev' || path.startsWith('/dev/') || path === '/proc' || path.startsWith('/proc/')) {
        throw new ValidationError(`cannot mount a directory at '${path}' in the Python runtime`, { guestPath: path });
      }
      const found = FS.analyzePath(path);
      if (found.exists) {
        if (!found.object || !FS.isDir(found.object.mode)) {
          throw new ValidationError(`cannot mount a directory at '${path}': it is a file in the guest`, { guestPath: path });
        }
      } else {
        if (done.some((p) => path.startsWith(`${p}/`))) {
          throw new ValidationError(`cannot mount at '${path}': the directory does not exist in the enclosing mount`, { guestPath: path });
        }
        FS.mkdirTree(path);
      }
      FS.mount(NODEFS, { root: m.hostPath, readOnly: m.readOnly }, path);
      done.push(path);
    }
  } catch (e) {
    unmountAll(FS, done);
    throw e;
  }
  return done;
}

/** Unmount in reverse order. Returns false if one could not be unmounted (the interpreter should then be retired). */
export function unmountAll(FS: EmFS, paths: string[]): boolean {
  let ok = true;
  for (const p of [...paths].reverse()) {
    try {
      FS.unmount(p);
    } catch {
      ok = false;
    }
  }
  return ok;
}
