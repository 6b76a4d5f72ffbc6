/**
 * path_* functions. Every path is resolved by resolvePath() relative to its directory descriptor, so nothing the
 * guest names can lie outside its preopens; files are then opened with O_NOFOLLOW and, where /proc allows,
 * re-checked by what the opened descriptor really points at.
 */
import {
  constants as C, fstatSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, closeSync, readlinkSync,
  renameSync, rmdirSync, symlinkSync, unlinkSync,
} from 'node:fs';
import { ERRNO, LOOKUP_SYMLINK_FOLLOW, OFLAGS, READ_RIGHTS, RIGHTS, WRITE_RIGHTS } from './constants.js';
import { u64, type WasiContext, type WasiFn } from './context.js';
import type { NodeEntry } from './fd-table.js';
import { fail, type GuestView } from './memory.js';
import { resolvePath, symlinkTargetInside, type Resolved } from './resolve.js';
import { requestedTimes, writeFilestat } from './stat.js';

/**
 * Is the opened host fd really inside `root`? Closes the race where a directory on the way was swapped for a
 * symlink between resolution and open. Without /proc (some jails) resolution alone stands.
 */
function openedInside(root: string, hostFd: number): boolean {
  let real: string;
  try {
    real = readlinkSync(`/proc/self/fd/${hostFd}`);
  } catch {
    return true;
  }
  return real === root || real.startsWith(root.endsWith('/') ? root : root + '/');
}

function writable(dir: NodeEntry): void {
  if (dir.readOnly) fail(ERRNO.ROFS);
}

/** The preopen root itself cannot be removed or renamed: for the guest it is a mount point. */
function notRoot(r: Resolved): void {
  if (r.rel.length === 0) fail(ERRNO.BUSY);
}

function hostOpenFlags(oflags: number, rights: bigint, mustBeDir: boolean): number {
  const write = (rights & WRITE_RIGHTS) !== 0n;
  const read = (rights & READ_RIGHTS) !== 0n || !write;
  let flags = C.O_NOFOLLOW | (read && write ? C.O_RDWR : write ? C.O_WRONLY : C.O_RDONLY);
  if (oflags & OFLAGS.CREAT) flags |= C.O_CREAT;
  if (oflags & OFLAGS.EXCL) flags |= C.O_EXCL;
  if (oflags & OFLAGS.TRUNC) flags |= C.O_TRUNC;
  if (oflags & OFLAGS.DIRECTORY || mustBeDir) flags |= C.O_DIRECTORY;
  return flags;
}

export function pathFunctions(ctx: WasiContext): Record<string, WasiFn> {
  const { table } = ctx;

  /** The directory fd, the guest path and its resolution. */
  const lookup = (v: GuestView, fd: number, rights: bigint, ptr: number, len: number, follow: boolean) => {
    const dir = table.dir(fd, rights);
    const path = v.string(ptr, len);
    return { dir, r: resolvePath(dir.root, dir.rel, path, follow) };
  };

  return {
    path_open(
      fd: number, dirflags: number, pathPtr: number, pathLen: number, oflags: number,
      rightsBase: bigint, rightsInheriting: bigint, fdflags: number, fdPtr: number,
    ) {
      const v = ctx.mem();
      v.check(fdPtr, 4);
      const of = oflags & 0xffff;
      let needed = RIGHTS.PATH_OPEN;
      if (of & OFLAGS.CREAT) needed |= RIGHTS.PATH_CREATE_FILE;
      if (of & OFLAGS.TRUNC) needed |= RIGHTS.PATH_FILESTAT_SET_SIZE;
      const dir = table.dir(fd, needed);
      const path = v.string(pathPtr, pathLen);
      // granted rights never exceed what the directory may hand down
      let base = u64(rightsBase) & dir.rightsInheriting;
      // a directory is never open for writing: callers that ask for every right (as many do) get the rest
      if (of & OFLAGS.DIRECTORY) base &= ~WRITE_RIGHTS;
      const inheriting = u64(rightsInheriting) & dir.rightsInheriting;
      const r = resolvePath(dir.root, dir.rel, path, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (dir.readOnly) {
        const exists = lstatSync(r.host, { throwIfNoEntry: false }) !== undefined;
        const creates = (of & OFLAGS.CREAT) !== 0 && (!exists || (of & OFLAGS.EXCL) !== 0);
        if (creates || (of & OFLAGS.TRUNC) || (base & WRITE_RIGHTS) !== 0n) fail(ERRNO.ROFS);
      }
      table.reserve();
      const hostFd = openSync(r.host, hostOpenFlags(of, base, r.mustBeDir), 0o666);
      let entry: NodeEntry;
      try {
        if (!openedInside(dir.root, hostFd)) fail(ERRNO.NOTCAPABLE);
        const isDir = fstatSync(hostFd).isDirectory();
        entry = {
          kind: isDir ? 'dir' : 'file',
          hostFd,
          root: dir.root,
          rel: r.rel,
          readOnly: dir.readOnly,
          position: 0n,
          rightsBase: base,
          rightsInheriting: inheriting,
          fdflags: fdflags & 0xffff,
          opened: true,
        };
      } catch (e) {
        closeSync(hostFd);
        throw e;
      }
      v.setU32(fdPtr, table.add(entry));
      return ERRNO.SUCCESS;
    },

    path_create_directory(fd: number, ptr: number, len: number) {
      const v = ctx.mem();
      const { dir, r } = lookup(v, fd, RIGHTS.PATH_CREATE_DIRECTORY, ptr, len, false);
      writable(dir);
      mkdirSync(r.host, 0o777);
      return ERRNO.SUCCESS;
    },

    path_filestat_get(fd: number, flags: number, ptr: number, len: number, buf: number) {
      const v = ctx.mem();
      v.check(buf, 64);
      const { r } = lookup(v, fd, RIGHTS.PATH_FILESTAT_GET, ptr, len, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      // lstat: resolution already replaced every symlink it was asked to follow
      writeFilestat(v, buf, lstatSync(r.host, { bigint: true }));
      return ERRNO.SUCCESS;
    },

    path_filestat_set_times(fd: number, flags: number, ptr: number, len: number, atim: bigint, mtim: bigint, fstFlags: number) {
      const v = ctx.mem();
      const { dir, r } = lookup(v, fd, RIGHTS.PATH_FILESTAT_SET_TIMES, ptr, len, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      writable(dir);
      const [a, m] = requestedTimes(fstFlags, u64(atim), u64(mtim), () => lstatSync(r.host, { bigint: true }));
      lutimesSync(r.host, a, m);
      return ERRNO.SUCCESS;
    },

    path_link(oldFd: number, oldFlags: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) {
      const v = ctx.mem();
      const src = lookup(v, oldFd, RIGHTS.PATH_LINK_SOURCE, oldPtr, oldLen, (oldFlags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      const dst = lookup(v, newFd, RIGHTS.PATH_LINK_TARGET, newPtr, newLen, false);
      // a hard link to a read-only file in a writable place would make the read-only file writable
      writable(src.dir);
      writable(dst.dir);
      notRoot(src.r);
      linkSync(src.r.host, dst.r.host);
      return ERRNO.SUCCESS;
    },

    path_readlink(fd: number, ptr: number, len: number, buf: number, bufLen: number, bufusedPtr: number) {
      const v = ctx.mem();
      v.check(bufusedPtr, 4);
      const out = v.bytes(buf, bufLen);
      const { r } = lookup(v, fd, RIGHTS.PATH_READLINK, ptr, len, false);
      const target = readlinkSync(r.host, { encoding: 'buffer' });
      const n = Math.min(target.byteLength, out.byteLength);
      out.set(target.subarray(0, n));
      v.setU32(bufusedPtr, n);
      return ERRNO.SUCCESS;
    },

    path_remove_directory(fd: number, ptr: number, len: number) {
      const v = ctx.mem();
      const { dir, r } = lookup(v, fd, RIGHTS.PATH_REMOVE_DIRECTORY, ptr, len, false);
      writable(dir);
      notRoot(r);
      rmdirSync(r.host);
      return ERRNO.SUCCESS;
    },

    path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number) {
      const v = ctx.mem();
      const src = lookup(v, fd, RIGHTS.PATH_RENAME_SOURCE, oldPtr, oldLen, false);
      const dst = lookup(v, newFd, RIGHTS.PATH_RENAME_TARGET, newPtr, newLen, false);
      writable(src.dir);
      writable(dst.dir);
      notRoot(src.r);
      notRoot(dst.r);
      renameSync(src.r.host, dst.r.host);
      return ERRNO.SUCCESS;
    },

    path_symlink(oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number) {
      const v = ctx.mem();
      const target = v.string(oldPtr, oldLen);
      const { dir, r } = lookup(v, fd, RIGHTS.PATH_SYMLINK, newPtr, newLen, false);
      writable(dir);
      notRoot(r);
      if (!symlinkTargetInside(r.rel.slice(0, -1), target)) fail(ERRNO.NOTCAPABLE);
      symlinkSync(target, r.host);
      return ERRNO.SUCCESS;
    },

    path_unlink_file(fd: number, ptr: number, len: number) {
      const v = ctx.mem();
      const { dir, r } = lookup(v, fd, RIGHTS.PATH_UNLINK_FILE, ptr, len, false);
      writable(dir);
      notRoot(r);
      unlinkSync(r.host);
      return ERRNO.SUCCESS;
    },
  };
}
