/**
 * The guest's descriptor table: which WASI fd is which stream, file or directory, with the rights it was opened
 * with. Owns the host file descriptors behind guest fds and closes them.
 */
import { closeSync } from 'node:fs';
import { ERRNO } from './constants.js';
import { fail } from './memory.js';

interface EntryBase {
  rightsBase: bigint;
  rightsInheriting: bigint;
  /** WASI fdflags (APPEND, NONBLOCK...) as last set by the guest. */
  fdflags: number;
}

export interface StreamEntry extends EntryBase {
  kind: 'stdin' | 'stdout' | 'stderr';
}

/** A file or directory below a preopen. */
export interface NodeEntry extends EntryBase {
  kind: 'file' | 'dir';
  hostFd: number;
  /** Real host path of the preopen this entry lives under. */
  root: string;
  /** Components below root (checked real directories, for kind 'dir'). */
  rel: string[];
  readOnly: boolean;
  /** File offset, kept here because Node has no lseek(): every read/write is positional. */
  position: bigint;
  /** Set on preopened directories: the path the guest knows them by (fd_prestat_dir_name). */
  preopenName?: string;
  /** fd_readdir listing taken at cookie 0, so later cookies index a stable list. */
  listing?: Buffer[];
  /** Counts against maxOpenFiles (opened by path_open, not a preopen). */
  opened: boolean;
}

export type Entry = StreamEntry | NodeEntry;

export class FdTable {
  private readonly entries = new Map<number, Entry>();
  private openedCount = 0;

  constructor(private readonly maxOpenFiles: number) {}

  find(fd: number): Entry | undefined {
    return this.entries.get(fd >>> 0);
  }

  get(fd: number): Entry {
    const e = this.entries.get(fd >>> 0);
    if (!e) fail(ERRNO.BADF);
    return e;
  }

  /** The entry, provided it holds every right in `rights` (ENOTCAPABLE otherwise). */
  withRights(fd: number, rights: bigint): Entry {
    const e = this.get(fd);
    if ((e.rightsBase & rights) !== rights) fail(ERRNO.NOTCAPABLE);
    return e;
  }

  /** A directory entry with `rights`: path_* calls on a non-directory are ENOTDIR. */
  dir(fd: number, rights: bigint): NodeEntry {
    const e = this.get(fd);
    if (e.kind !== 'dir') fail(e.kind === 'file' ? ERRNO.NOTDIR : ERRNO.BADF);
    if ((e.rightsBase & rights) !== rights) fail(ERRNO.NOTCAPABLE);
    return e;
  }

  /** Throws EMFILE when another path_open would pass the limit. */
  reserve(): void {
    if (this.openedCount >= this.maxOpenFiles) fail(ERRNO.MFILE);
  }

  /** Puts the entry at the lowest free fd (as POSIX does) and returns that fd. */
  add(entry: Entry): number {
    let fd = 0;
    while (this.entries.has(fd)) fd++;
    this.entries.set(fd, entry);
    if ((entry.kind === 'file' || entry.kind === 'dir') && entry.opened) this.openedCount++;
    return fd;
  }

  close(fd: number): void {
    const e = this.get(fd);
    this.entries.delete(fd >>> 0);
    this.release(e);
  }

  /** fd_renumber: `to` is closed and replaced by `from`. */
  renumber(from: number, to: number): void {
    const src = this.get(from);
    const dst = this.get(to);
    if (from >>> 0 === to >>> 0) return;
    this.entries.delete(from >>> 0);
    this.entries.set(to >>> 0, src);
    this.release(dst);
  }

  *list(): IterableIterator<[number, Entry]> {
    yield* this.entries;
  }

  closeAll(): void {
    for (const [fd] of [...this.entries]) this.close(fd);
  }

  private release(e: Entry): void {
    if (e.kind === 'file' || e.kind === 'dir') {
      if (e.opened) this.openedCount--;
      try {
        closeSync(e.hostFd);
      } catch {
        // already closed by the host side: nothing left to release
      }
    }
  }
}
