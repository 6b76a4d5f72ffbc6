/**
 * Host file metadata in WASI's shapes: filetype codes and the 64-byte filestat struct.
 */
import type { BigIntStats } from 'node:fs';
import { ERRNO, FILETYPE, FSTFLAGS } from './constants.js';
import { fail, type GuestView } from './memory.js';

export function filetypeOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): number {
  if (st.isFile()) return FILETYPE.REGULAR_FILE;
  if (st.isDirectory()) return FILETYPE.DIRECTORY;
  if (st.isSymbolicLink()) return FILETYPE.SYMBOLIC_LINK;
  if (st.isCharacterDevice()) return FILETYPE.CHARACTER_DEVICE;
  if (st.isBlockDevice()) return FILETYPE.BLOCK_DEVICE;
  if (st.isSocket()) return FILETYPE.SOCKET_STREAM;
  return FILETYPE.UNKNOWN;
}

/** filestat: dev, ino, filetype(u8 @16), nlink, size, atim, mtim, ctim. */
export function writeFilestat(v: GuestView, ptr: number, st: BigIntStats): void {
  v.check(ptr, 64);
  v.setU64(ptr, st.dev);
  v.setU64(ptr + 8, st.ino);
  v.setU8(ptr + 16, filetypeOf(st));
  v.setU64(ptr + 24, st.nlink);
  v.setU64(ptr + 32, st.size);
  v.setU64(ptr + 40, st.atimeNs);
  v.setU64(ptr + 48, st.mtimeNs);
  v.setU64(ptr + 56, st.ctimeNs);
}

/** A filestat for something with no host file behind it (the standard streams). */
export function writeStreamFilestat(v: GuestView, ptr: number, filetype: number): void {
  v.check(ptr, 64);
  v.u8.fill(0, ptr >>> 0, (ptr >>> 0) + 64);
  v.setU8(ptr + 16, filetype);
}

/**
 * The (atime, mtime) pair, in seconds, that a *_set_times call asks for. A time not named in `flags` keeps its
 * current value; `current` is only consulted then.
 */
export function requestedTimes(flags: number, atim: bigint, mtim: bigint, current: () => BigIntStats): [number, number] {
  if (flags & ~0xf) fail(ERRNO.INVAL);
  if ((flags & FSTFLAGS.ATIM) && (flags & FSTFLAGS.ATIM_NOW)) fail(ERRNO.INVAL);
  if ((flags & FSTFLAGS.MTIM) && (flags & FSTFLAGS.MTIM_NOW)) fail(ERRNO.INVAL);
  const now = Date.now() / 1000;
  let st: BigIntStats | undefined;
  const pick = (set: number, setNow: number, value: bigint, currentNs: (s: BigIntStats) => bigint): number => {
    if (flags & setNow) return now;
    if (flags & set) return Number(value) / 1e9;
    st ??= current();
    return Number(currentNs(st)) / 1e9;
  };
  return [
    pick(FSTFLAGS.ATIM, FSTFLAGS.ATIM_NOW, atim, (s) => s.atimeNs),
    pick(FSTFLAGS.MTIM, FSTFLAGS.MTIM_NOW, mtim, (s) => s.mtimeNs),
  ];
}
