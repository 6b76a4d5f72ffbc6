/**
 * fd_* functions: reads and writes on the standard streams and on host files, descriptor metadata, directory
 * listings. Every function returns a WASI errno; failures are thrown as Errno and turned into that number by the
 * wrapper in wasi.ts.
 */
import {
  fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, futimesSync, lstatSync, readdirSync, readSync, writeSync,
  type BigIntStats,
} from 'node:fs';
import { ADVICE_MAX, ERRNO, FDFLAGS, FILETYPE, RIGHTS, WHENCE } from './constants.js';
import { s64, u64, type WasiContext, type WasiFn } from './context.js';
import type { Entry, NodeEntry } from './fd-table.js';
import { fail, utf8 } from './memory.js';
import { hostPath } from './resolve.js';
import { filetypeOf, requestedTimes, writeFilestat, writeStreamFilestat } from './stat.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A file offset Node's positional I/O accepts. */
function offset(pos: bigint): number {
  if (pos < 0n || pos > MAX_SAFE) fail(ERRNO.INVAL);
  return Number(pos);
}

/** The entry as a regular file: positional ops on a stream are ESPIPE, on a directory EISDIR. */
function asFile(e: Entry): NodeEntry {
  if (e.kind === 'file') return e;
  fail(e.kind === 'dir' ? ERRNO.ISDIR : ERRNO.SPIPE);
}

function notReadOnly(e: NodeEntry): void {
  if (e.readOnly) fail(ERRNO.ROFS);
}

function readInto(e: NodeEntry, iovs: Uint8Array[], start: bigint): number {
  let pos = start;
  let total = 0;
  for (const iov of iovs) {
    if (iov.byteLength === 0) continue;
    const n = readSync(e.hostFd, iov, 0, iov.byteLength, offset(pos));
    total += n;
    pos += BigInt(n);
    if (n < iov.byteLength) break;
  }
  return total;
}

function writeFrom(e: NodeEntry, iovs: Uint8Array[], start: bigint): number {
  let pos = start;
  let total = 0;
  for (const iov of iovs) {
    let done = 0;
    while (done < iov.byteLength) {
      const n = writeSync(e.hostFd, iov, done, iov.byteLength - done, offset(pos));
      done += n;
      pos += BigInt(n);
    }
    total += done;
  }
  return total;
}

function size(e: NodeEntry): bigint {
  return fstatSync(e.hostFd, { bigint: true }).size;
}

function fdstatFiletype(e: Entry): number {
  if (e.kind === 'dir') return FILETYPE.DIRECTORY;
  if (e.kind === 'file') return filetypeOf(fstatSync(e.hostFd));
  // the standard streams are pipes here; WASI has no FIFO type, and CHARACTER_DEVICE would make libc call them ttys
  return FILETYPE.UNKNOWN;
}

/** d_ino and d_type of one directory entry; an entry removed meanwhile reads as unknown. */
function direntStat(dirHost: string, name: Buffer, atRoot: boolean): { ino: bigint; type: number } {
  const s = name.toString('latin1');
  const path = s === '.' || (s === '..' && atRoot) ? dirHost : s === '..' ? dirHost + '/..' : Buffer.concat([Buffer.from(dirHost + '/'), name]);
  let st: BigIntStats | undefined;
  try {
    st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    st = undefined;
  }
  return st ? { ino: st.ino, type: filetypeOf(st) } : { ino: 0n, type: FILETYPE.UNKNOWN };
}

export function fdFunctions(ctx: WasiContext): Record<string, WasiFn> {
  const { table } = ctx;

  const readStream = (iovs: Uint8Array[]): number => {
    let total = 0;
    for (const iov of iovs) {
      const n = Math.min(iov.byteLength, ctx.stdin.byteLength - ctx.stdinPos);
      iov.set(ctx.stdin.subarray(ctx.stdinPos, ctx.stdinPos + n));
      ctx.stdinPos += n;
      total += n;
      if (n < iov.byteLength) break;
    }
    return total;
  };

  const writeStream = (kind: 'stdout' | 'stderr', iovs: Uint8Array[]): number => {
    let total = 0;
    for (const iov of iovs) {
      if (iov.byteLength === 0) continue;
      // the sink copies what it keeps (see OutputSink); past the output cap it drops, and the guest sees success
      ctx.out[kind](iov);
      total += iov.byteLength;
    }
    return total;
  };

  return {
    fd_advise(fd: number, off: bigint, len: bigint, advice: number) {
      asFile(table.withRights(fd, RIGHTS.FD_ADVISE));
      if (advice >>> 0 > ADVICE_MAX) fail(ERRNO.INVAL);
      if (s64(off) < 0n || s64(len) < 0n) fail(ERRNO.INVAL);
      // advice is a hint; Node exposes no posix_fadvise, and ignoring a hint is always correct
      return ERRNO.SUCCESS;
    },

    fd_allocate(fd: number, off: bigint, len: bigint) {
      const e = asFile(table.withRights(fd, RIGHTS.FD_ALLOCATE));
      notReadOnly(e);
      const o = s64(off);
      const l = s64(len);
      if (o < 0n || l <= 0n) fail(ERRNO.INVAL);
      // no fallocate() in Node: growing the file is the observable part of the guarantee
      if (o + l > size(e)) ftruncateSync(e.hostFd, offset(o + l));
      return ERRNO.SUCCESS;
    },

    fd_close(fd: number) {
      table.close(fd);
      return ERRNO.SUCCESS;
    },

    fd_datasync(fd: number) {
      const e = table.withRights(fd, RIGHTS.FD_DATASYNC);
      if (e.kind === 'file' || e.kind === 'dir') fdatasyncSync(e.hostFd);
      return ERRNO.SUCCESS;
    },

    fd_sync(fd: number) {
      const e = table.withRights(fd, RIGHTS.FD_SYNC);
      if (e.kind === 'file' || e.kind === 'dir') fsyncSync(e.hostFd);
      return ERRNO.SUCCESS;
    },

    fd_fdstat_get(fd: number, ptr: number) {
      const v = ctx.mem();
      v.check(ptr, 24);
      const e = table.get(fd);
      v.setU8(ptr, fdstatFiletype(e));
      v.setU8(ptr + 1, 0);
      v.setU16(ptr + 2, e.fdflags);
      v.setU32(ptr + 4, 0);
      v.setU64(ptr + 8, e.rightsBase);
      v.setU64(ptr + 16, e.rightsInheriting);
      return ERRNO.SUCCESS;
    },

    fd_fdstat_set_flags(fd: number, flags: number) {
      const e = table.withRights(fd, RIGHTS.FD_FDSTAT_SET_FLAGS);
      if (flags >>> 0 > 0x1f) fail(ERRNO.INVAL);
      // APPEND is honoured by our own write path; the sync flags are satisfied by the host's page cache semantics
      e.fdflags = flags & 0xffff;
      return ERRNO.SUCCESS;
    },

    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint) {
      const e = table.get(fd);
      const b = u64(base);
      const i = u64(inheriting);
      // rights can only be dropped, never gained
      if ((b & ~e.rightsBase) !== 0n || (i & ~e.rightsInheriting) !== 0n) fail(ERRNO.NOTCAPABLE);
      e.rightsBase = b;
      e.rightsInheriting = i;
      return ERRNO.SUCCESS;
    },

    fd_filestat_get(fd: number, ptr: number) {
      const v = ctx.mem();
      v.check(ptr, 64);
      const e = table.withRights(fd, RIGHTS.FD_FILESTAT_GET);
      if (e.kind === 'file' || e.kind === 'dir') writeFilestat(v, ptr, fstatSync(e.hostFd, { bigint: true }));
      else writeStreamFilestat(v, ptr, FILETYPE.UNKNOWN);
      return ERRNO.SUCCESS;
    },

    fd_filestat_set_size(fd: number, newSize: bigint) {
      const e = asFile(table.withRights(fd, RIGHTS.FD_FILESTAT_SET_SIZE));
      notReadOnly(e);
      ftruncateSync(e.hostFd, offset(u64(newSize)));
      return ERRNO.SUCCESS;
    },

    fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, flags: number) {
      const e = table.withRights(fd, RIGHTS.FD_FILESTAT_SET_TIMES);
      if (e.kind !== 'file' && e.kind !== 'dir') fail(ERRNO.BADF);
      notReadOnly(e);
      const [a, m] = requestedTimes(flags, u64(atim), u64(mtim), () => fstatSync(e.hostFd, { bigint: true }));
      futimesSync(e.hostFd, a, m);
      return ERRNO.SUCCESS;
    },

    fd_pread(fd: number, iovsPtr: number, iovsLen: number, off: bigint, nreadPtr: number) {
      const v = ctx.mem();
      v.check(nreadPtr, 4);
      const iovs = v.iovecs(iovsPtr, iovsLen);
      const e = asFile(table.withRights(fd, RIGHTS.FD_READ | RIGHTS.FD_SEEK));
      v.setU32(nreadPtr, readInto(e, iovs, u64(off)));
      return ERRNO.SUCCESS;
    },

    fd_pwrite(fd: number, iovsPtr: number, iovsLen: number, off: bigint, nwrittenPtr: number) {
      const v = ctx.mem();
      v.check(nwrittenPtr, 4);
      const iovs = v.iovecs(iovsPtr, iovsLen);
      const e = asFile(table.withRights(fd, RIGHTS.FD_WRITE | RIGHTS.FD_SEEK));
      notReadOnly(e);
      v.setU32(nwrittenPtr, writeFrom(e, iovs, u64(off)));
      return ERRNO.SUCCESS;
    },

    fd_read(fd: number, iovsPtr: number, iovsLen: number, nreadPtr: number) {
      const v = ctx.mem();
      v.check(nreadPtr, 4);
      const iovs = v.iovecs(iovsPtr, iovsLen);
      const e = table.withRights(fd, RIGHTS.FD_READ);
      let n: number;
      if (e.kind === 'stdin') n = readStream(iovs);
      else if (e.kind === 'stdout' || e.kind === 'stderr') fail(ERRNO.BADF);
      else {
        const f = asFile(e);
        n = readInto(f, iovs, f.position);
        f.position += BigInt(n);
      }
      v.setU32(nreadPtr, n);
      return ERRNO.SUCCESS;
    },

    fd_write(fd: number, iovsPtr: number, iovsLen: number, nwrittenPtr: number) {
      const v = ctx.mem();
      v.check(nwrittenPtr, 4);
      const iovs = v.iovecs(iovsPtr, iovsLen);
      const e = table.withRights(fd, RIGHTS.FD_WRITE);
      let n: number;
      if (e.kind === 'stdout' || e.kind === 'stderr') n = writeStream(e.kind, iovs);
      else if (e.kind === 'stdin') fail(ERRNO.BADF);
      else {
        const f = asFile(e);
        notReadOnly(f);
        const at = f.fdflags & FDFLAGS.APPEND ? size(f) : f.position;
        n = writeFrom(f, iovs, at);
        f.position = at + BigInt(n);
      }
      v.setU32(nwrittenPtr, n);
      return ERRNO.SUCCESS;
    },

    fd_readdir(fd: number, buf: number, bufLen: number, cookie: bigint, bufusedPtr: number) {
      const v = ctx.mem();
      v.check(bufusedPtr, 4);
      const out = v.bytes(buf, bufLen);
      const e = table.get(fd);
      if (e.kind !== 'dir') fail(e.kind === 'file' ? ERRNO.NOTDIR : ERRNO.BADF);
      if ((e.rightsBase & RIGHTS.FD_READDIR) === 0n) fail(ERRNO.NOTCAPABLE);
      const dirHost = hostPath(e.root, e.rel);
      const c = u64(cookie);
      if (c === 0n || !e.listing) {
        e.listing = [Buffer.from('.'), Buffer.from('..'), ...readdirSync(dirHost, { encoding: 'buffer' })];
      }
      let used = 0;
      for (let i = c; i < BigInt(e.listing.length) && used < out.byteLength; i++) {
        const name = e.listing[Number(i)]!;
        const { ino, type } = direntStat(dirHost, name, e.rel.length === 0);
        const rec = new Uint8Array(24 + name.byteLength);
        const dv = new DataView(rec.buffer);
        dv.setBigUint64(0, i + 1n, true);
        dv.setBigUint64(8, ino, true);
        dv.setUint32(16, name.byteLength, true);
        dv.setUint8(20, type);
        rec.set(name, 24);
        // a record that does not fit is cut: bufused == buf_len tells the guest to call again with a bigger buffer
        const n = Math.min(rec.byteLength, out.byteLength - used);
        out.set(rec.subarray(0, n), used);
        used += n;
      }
      v.setU32(bufusedPtr, used);
      return ERRNO.SUCCESS;
    },

    fd_renumber(from: number, to: number) {
      table.renumber(from, to);
      return ERRNO.SUCCESS;
    },

    fd_seek(fd: number, delta: bigint, whence: number, newOffsetPtr: number) {
      const v = ctx.mem();
      v.check(newOffsetPtr, 8);
      const d = s64(delta);
      const w = whence >>> 0;
      const needed = w === WHENCE.CUR && d === 0n ? RIGHTS.FD_TELL : RIGHTS.FD_SEEK;
      const e = table.get(fd);
      if (e.kind === 'stdin' || e.kind === 'stdout' || e.kind === 'stderr') fail(ERRNO.SPIPE);
      if ((e.rightsBase & needed) === 0n) fail(ERRNO.NOTCAPABLE);
      const f = asFile(e);
      let base: bigint;
      if (w === WHENCE.SET) base = 0n;
      else if (w === WHENCE.CUR) base = f.position;
      else if (w === WHENCE.END) base = size(f);
      else fail(ERRNO.INVAL);
      const next = base + d;
      if (next < 0n || next > MAX_SAFE) fail(ERRNO.INVAL);
      f.position = next;
      v.setU64(newOffsetPtr, next);
      return ERRNO.SUCCESS;
    },

    fd_tell(fd: number, ptr: number) {
      const v = ctx.mem();
      v.check(ptr, 8);
      const e = table.get(fd);
      if (e.kind === 'stdin' || e.kind === 'stdout' || e.kind === 'stderr') fail(ERRNO.SPIPE);
      if ((e.rightsBase & RIGHTS.FD_TELL) === 0n) fail(ERRNO.NOTCAPABLE);
      v.setU64(ptr, asFile(e).position);
      return ERRNO.SUCCESS;
    },

    fd_prestat_get(fd: number, ptr: number) {
      const v = ctx.mem();
      v.check(ptr, 8);
      const e = table.get(fd);
      if (e.kind !== 'dir' || e.preopenName === undefined) fail(ERRNO.BADF);
      v.setU32(ptr, 0); // tag = dir, padding
      v.setU32(ptr + 4, utf8(e.preopenName).byteLength);
      return ERRNO.SUCCESS;
    },

    fd_prestat_dir_name(fd: number, ptr: number, len: number) {
      const v = ctx.mem();
      const dst = v.bytes(ptr, len);
      const e = table.get(fd);
      if (e.kind !== 'dir' || e.preopenName === undefined) fail(ERRNO.BADF);
      const name = utf8(e.preopenName);
      if (dst.byteLength < name.byteLength) fail(ERRNO.NAMETOOLONG);
      dst.set(name);
      return ERRNO.SUCCESS;
    },
  };
}

