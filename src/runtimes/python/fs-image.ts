/**
 * Puts Pyodide's in-memory filesystem back the way it was after loading. Emscripten keeps files in JavaScript
 * objects, not in linear memory, so the memory reset does not cover them. The tree after loading is tiny (a
 * dozen nodes: /tmp, /home/pyodide, /dev, the standard library zip), so the whole of it is recorded and every
 * field is put back after each run; nodes a run created are dropped from Emscripten's name table. A file that
 * existed at load time is copied before its first in-place write, so the recorded bytes stay intact.
 * Open file descriptors and the working directory are JavaScript state too and are restored here.
 */
import type { EmFS, EmMEMFS, EmNode, EmStream } from './emscripten.js';

interface NodeRecord {
  node: EmNode;
  parent: EmNode;
  name: string;
  mode: number;
  atime?: number;
  mtime?: number;
  ctime?: number;
  /** a directory's children (a copy of the map) or a file's bytes (the array itself, never written in place) */
  contents: EmNode['contents'];
  usedBytes?: number;
  link?: string;
}

interface StreamRecord {
  stream: EmStream;
  fd: number;
  position: number;
}

export class FsImage {
  private readonly records: NodeRecord[] = [];
  private readonly base = new Set<EmNode>();
  /** base files whose bytes were replaced by a private copy during the current run */
  private readonly copied = new Set<EmNode>();
  private readonly streams: (StreamRecord | null)[];
  private readonly cwd: string;

  constructor(private readonly FS: EmFS, MEMFS: EmMEMFS) {
    this.record(FS.root);
    this.streams = FS.streams.map((s, fd) => (s ? { stream: s, fd, position: s.position } : null));
    this.cwd = FS.currentPath;
    this.guardInPlaceWrites(MEMFS);
  }

  private record(node: EmNode): void {
    const isDir = this.FS.isDir(node.mode);
    this.base.add(node);
    this.records.push({
      node,
      parent: node.parent,
      name: node.name,
      mode: node.mode,
      atime: node.atime,
      mtime: node.mtime,
      ctime: node.ctime,
      contents: isDir && node.contents ? { ...(node.contents as Record<string, EmNode>) } : node.contents,
      usedBytes: node.usedBytes,
      link: node.link,
    });
    // only MEMFS directories (a plain object of children); never descend into another filesystem's mount
    if (isDir && !node.mounted && node.contents && !(node.contents instanceof Uint8Array)) {
      for (const child of Object.values(node.contents)) this.record(child);
    }
  }

  /** MEMFS writes into a file's array in place when it has room: give a base file its own copy first. */
  private guardInPlaceWrites(MEMFS: EmMEMFS): void {
    const ops = MEMFS.ops_table?.file.stream;
    if (!ops) throw new Error('pyodide: MEMFS is not initialised');
    const write = ops.write;
    const msync = ops.msync;
    const own = (node: EmNode): void => {
      if (this.base.has(node) && !this.copied.has(node) && node.contents instanceof Uint8Array) {
        node.contents = node.contents.slice();
        this.copied.add(node);
      }
    };
    ops.write = (stream, buffer, offset, length, position, canOwn) => {
      own(stream.node);
      return write(stream, buffer, offset, length, position, canOwn);
    };
    if (msync) {
      ops.msync = (stream, buffer, offset, length, flags) => {
        own(stream.node);
        return msync(stream, buffer, offset, length, flags);
      };
    }
  }

  /** Close what the run left open (host files too) and put the load-time descriptors back. */
  restoreStreams(): void {
    const FS = this.FS;
    const n = Math.max(FS.streams.length, this.streams.length);
    for (let fd = 0; fd < n; fd++) {
      const s = FS.streams[fd];
      const rec = this.streams[fd] ?? null;
      if (s && s !== rec?.stream) {
        try {
          FS.close(s);
        } catch {
          // already closed or a device that refuses: the slot is reset below either way
        }
      }
      if (rec) {
        rec.stream.fd = rec.fd;
        rec.stream.position = rec.position;
      }
      FS.streams[fd] = rec ? rec.stream : null;
    }
    FS.streams.length = this.streams.length;
    FS.currentPath = this.cwd;
  }

  /** Put the node tree back (call after the run's mounts are unmounted). */
  restoreTree(): void {
    const FS = this.FS;
    // forget every node that a run added under a base directory (with everything below it)
    for (const r of this.records) {
      const now = r.node.contents;
      if (!FS.isDir(r.mode) || !now || now instanceof Uint8Array) continue;
      const was = r.contents as Record<string, EmNode>;
      for (const [name, child] of Object.entries(now)) {
        if (was[name] !== child && !this.base.has(child)) this.forget(child);
      }
    }
    for (const r of this.records) {
      const node = r.node;
      const isRoot = node === FS.root;
      if (!isRoot) FS.hashRemoveNode(node);
      node.parent = r.parent;
      node.name = r.name;
      node.mode = r.mode;
      node.atime = r.atime;
      node.mtime = r.mtime;
      node.ctime = r.ctime;
      node.contents = FS.isDir(r.mode) && r.contents ? { ...(r.contents as Record<string, EmNode>) } : r.contents;
      if (r.usedBytes !== undefined) node.usedBytes = r.usedBytes;
      if (r.link !== undefined) node.link = r.link;
      if (!isRoot) FS.hashAddNode(node);
    }
    this.copied.clear();
  }

  private forget(node: EmNode): void {
    this.FS.hashRemoveNode(node);
    const c = node.contents;
    if (this.FS.isDir(node.mode) && !node.mounted && c && !(c instanceof Uint8Array)) {
      for (const child of Object.values(c)) if (!this.base.has(child)) this.forget(child);
    }
  }
}
