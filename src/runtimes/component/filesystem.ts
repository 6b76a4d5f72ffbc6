/**
 * wasi:filesystem for components over the caller's mounts only: each mount is a preopen, and every path is
 * resolved by the same capability-checked resolver as WASI preview1 (no absolute paths, no `..` above the
 * preopen, no symlink out of it). It plugs into preview2-shim's `createFilesystem` as a filesystem adapter.
 */
import {
  closeSync, fstatSync, mkdirSync, openSync, readSync, readdirSync, rmdirSync, statSync, lstatSync, unlinkSync, writeSync, constants,
  type Stats,
} from 'node:fs';
import type { Mount } from '../../core/types.js';
import { ERRNO } from '../wasi/constants.js';
import { resolvePath } from '../wasi/resolve.js';

/** preview1 errno names (as the resolver fails) → wasi:filesystem error-code. */
const ERROR_CODES: Record<string, string> = {
  NOTCAPABLE: 'not-permitted', NOENT: 'no-entry', NOTDIR: 'not-directory', ISDIR: 'is-directory', LOOP: 'loop',
  EXIST: 'exist', ACCES: 'access', PERM: 'not-permitted', NOTEMPTY: 'not-empty', ROFS: 'read-only', INVAL: 'invalid',
  NAMETOOLONG: 'name-too-long', NOSPC: 'insufficient-space', FBIG: 'file-too-large', BADF: 'bad-descriptor', IO: 'io',
};

/** Anything thrown below becomes a wasi:filesystem error-code (thrown as a string, which jco lowers as `err`). */
const ERRNO_NAME = new Map(Object.entries(ERRNO).map(([name, n]) => [n, name]));

function errorCode(e: unknown): string {
  if (typeof e === 'string') return e;
  const errno = (e as { errno?: unknown })?.errno;
  const code = (e as NodeJS.ErrnoException)?.code;
  const name = typeof errno === 'number' && !code ? ERRNO_NAME.get(errno) : code?.replace(/^E/, '');
  return (name && ERROR_CODES[name.toUpperCase()]) || 'io';
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw errorCode(e);
  }
}

function descriptorType(st: Stats): string {
  if (st.isFile()) return 'regular-file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symbolic-link';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'unknown';
}

function timestamp(ms: number): { seconds: bigint; nanoseconds: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: Math.floor((ms % 1000) * 1e6) };
}

function descriptorStat(st: Stats): Record<string, unknown> {
  return {
    type: descriptorType(st), linkCount: BigInt(st.nlink), size: BigInt(st.size),
    dataAccessTimestamp: timestamp(st.atimeMs), dataModificationTimestamp: timestamp(st.mtimeMs), statusChangeTimestamp: timestamp(st.ctimeMs),
  };
}

export interface StreamFactory {
  input(handler: { blockingRead(len: bigint): Uint8Array; read?(len: bigint): Uint8Array }): unknown;
  output(handler: { write(buf: Uint8Array): void; blockingFlush(): void; drop?(): void }): unknown;
}

interface Flags { read?: boolean; write?: boolean; mutateDirectory?: boolean }

/** One open file or directory inside a mount: `rel` are the components below the mount root. */
class HostDescriptor {
  private fd?: number;

  constructor(
    private readonly mount: Mount,
    private readonly rel: string[],
    private readonly flags: Flags,
    private readonly streams: StreamFactory,
    private readonly isDir: boolean,
    /** every descriptor of the run, closed when it ends */
    private readonly all: HostDescriptor[],
  ) {
    all.push(this);
  }

  private get host(): string {
    return this.rel.length === 0 ? this.mount.hostPath : `${this.mount.hostPath}/${this.rel.join('/')}`;
  }

  private file(): number {
    if (this.isDir) throw 'is-directory';
    this.fd ??= guard(() => openSync(this.host, (this.flags.write ? (this.flags.read ? constants.O_RDWR : constants.O_WRONLY) : constants.O_RDONLY) | constants.O_NOFOLLOW));
    return this.fd;
  }

  private writable(): void {
    if (this.mount.readOnly) throw 'read-only';
    if (!this.flags.write && !this.flags.mutateDirectory) throw 'bad-descriptor';
  }

  private resolve(path: string, follow: boolean): string[] {
    if (!this.isDir) throw 'not-directory';
    return guard(() => resolvePath(this.mount.hostPath, this.rel, path, follow).rel);
  }

  private hostOf(rel: string[]): string {
    return rel.length === 0 ? this.mount.hostPath : `${this.mount.hostPath}/${rel.join('/')}`;
  }

  readViaStream(offset: bigint): unknown {
    const fd = this.file();
    let pos = Number(offset);
    const read = (len: bigint): Uint8Array => {
      const buf = Buffer.alloc(Math.min(Number(len), 1 << 20));
      const n = guard(() => readSync(fd, buf, 0, buf.byteLength, pos));
      if (n === 0 && buf.byteLength > 0) throw { tag: 'closed' };
      pos += n;
      return new Uint8Array(buf.buffer, buf.byteOffset, n);
    };
    return this.streams.input({ blockingRead: read, read });
  }

  writeViaStream(offset: bigint): unknown {
    this.writable();
    const fd = this.file();
    let pos = Number(offset);
    return this.streams.output({
      write: (buf) => { pos += guard(() => writeSync(fd, buf, 0, buf.byteLength, pos)); },
      blockingFlush: () => {},
    });
  }

  appendViaStream(): unknown {
    this.writable();
    const fd = this.file();
    return this.streams.output({
      write: (buf) => { guard(() => writeSync(fd, buf, 0, buf.byteLength, fstatSync(fd).size)); },
      blockingFlush: () => {},
    });
  }

  read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    const fd = this.file();
    const buf = Buffer.alloc(Math.min(Number(length), 1 << 20));
    const n = guard(() => readSync(fd, buf, 0, buf.byteLength, Number(offset)));
    return [new Uint8Array(buf.buffer, buf.byteOffset, n), n === 0 && buf.byteLength > 0];
  }

  write(buffer: Uint8Array, offset: bigint): bigint {
    this.writable();
    const fd = this.file();
    return BigInt(guard(() => writeSync(fd, buffer, 0, buffer.byteLength, Number(offset))));
  }

  getFlags(): Flags { return { ...this.flags }; }
  getType(): string { return guard(() => descriptorType(lstatSync(this.host))); }
  stat(): Record<string, unknown> { return guard(() => descriptorStat(statSync(this.host))); }
  statAt(pathFlags: { symlinkFollow?: boolean }, path: string): Record<string, unknown> {
    const rel = this.resolve(path, pathFlags?.symlinkFollow ?? false);
    return guard(() => descriptorStat(lstatSync(this.hostOf(rel))));
  }
  metadataHash(): { lower: bigint; upper: bigint } {
    const st = guard(() => statSync(this.host, { bigint: true }));
    return { lower: st.ino, upper: st.dev };
  }
  metadataHashAt(pathFlags: { symlinkFollow?: boolean }, path: string): { lower: bigint; upper: bigint } {
    const rel = this.resolve(path, pathFlags?.symlinkFollow ?? false);
    const st = guard(() => lstatSync(this.hostOf(rel), { bigint: true }));
    return { lower: st.ino, upper: st.dev };
  }
  syncData(): void {}
  sync(): void {}
  advise(): void {}

  openAt(pathFlags: { symlinkFollow?: boolean }, path: string, openFlags: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean }, flags: Flags): HostDescriptor {
    const rel = this.resolve(path, pathFlags?.symlinkFollow ?? true);
    const host = this.hostOf(rel);
    const wantsWrite = Boolean(flags.write || flags.mutateDirectory || openFlags.create || openFlags.truncate);
    if (wantsWrite && this.mount.readOnly) throw 'read-only';
    const st = guard(() => lstatSync(host, { throwIfNoEntry: false }));
    if (st?.isSymbolicLink()) throw 'loop';
    if (!st) {
      if (!openFlags.create) throw 'no-entry';
      if (!this.flags.mutateDirectory) throw 'not-permitted';
      guard(() => closeSync(openSync(host, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o644)));
    } else if (openFlags.exclusive && openFlags.create) {
      throw 'exist';
    }
    const isDir = st?.isDirectory() ?? false;
    if (openFlags.directory && !isDir) throw 'not-directory';
    if (isDir && flags.write) throw 'is-directory';
    if (openFlags.truncate && !isDir) guard(() => closeSync(openSync(host, constants.O_TRUNC | constants.O_WRONLY | constants.O_NOFOLLOW)));
    // a child never gets more than its parent: the mount's read-only flag stays with it
    return new HostDescriptor(this.mount, rel, { read: flags.read, write: flags.write, mutateDirectory: flags.mutateDirectory && this.flags.mutateDirectory }, this.streams, isDir, this.all);
  }

  readDirectory(): { readDirectoryEntry(): { type: string; name: string } | undefined } {
    if (!this.isDir) throw 'not-directory';
    const entries = guard(() => readdirSync(this.host, { withFileTypes: true }));
    let i = 0;
    return {
      readDirectoryEntry: () => {
        const e = entries[i++];
        if (!e) return undefined;
        const type = e.isFile() ? 'regular-file' : e.isDirectory() ? 'directory' : e.isSymbolicLink() ? 'symbolic-link' : 'unknown';
        return { type, name: e.name };
      },
    };
  }

  createDirectoryAt(path: string): void {
    this.writable();
    const rel = this.resolve(path, false);
    guard(() => mkdirSync(this.hostOf(rel)));
  }

  unlinkFileAt(path: string): void {
    this.writable();
    const rel = this.resolve(path, false);
    guard(() => unlinkSync(this.hostOf(rel)));
  }

  removeDirectoryAt(path: string): void {
    this.writable();
    const rel = this.resolve(path, false);
    guard(() => rmdirSync(this.hostOf(rel)));
  }

  isSameObject(other: HostDescriptor): boolean {
    return other instanceof HostDescriptor && other.host === this.host;
  }

  // the rest of the interface is refused plainly rather than half-done
  setSize(): never { throw 'unsupported'; }
  setTimes(): never { throw 'unsupported'; }
  setTimesAt(): never { throw 'unsupported'; }
  linkAt(): never { throw 'unsupported'; }
  readlinkAt(): never { throw 'unsupported'; }
  renameAt(): never { throw 'unsupported'; }
  symlinkAt(): never { throw 'unsupported'; }

  /** Called when the guest drops the descriptor (and at the end of the run). */
  close(): void {
    if (this.fd !== undefined) {
      try { closeSync(this.fd); } catch { /* already closed */ }
      this.fd = undefined;
    }
  }
}

/** The adapter preview2-shim's createFilesystem() asks for each preopen's root descriptor. */
export class MountAdapter {
  private readonly open: HostDescriptor[] = [];

  constructor(private readonly streams: StreamFactory) {}

  getRoot(mount: Mount): HostDescriptor {
    return new HostDescriptor(mount, [], { read: true, mutateDirectory: !mount.readOnly }, this.streams, true, this.open);
  }

  dispose(): void {
    for (const d of this.open) d.close();
  }
}
