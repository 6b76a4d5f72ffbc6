/**
 * The small part of Emscripten's runtime (as built into Pyodide) that the Python runtime touches: its virtual
 * filesystem (FS, MEMFS, NODEFS) and the module's linear memory. Pyodide does not type these, so they are
 * described here once.
 */

export interface EmNode {
  id: number;
  name: string;
  parent: EmNode;
  mode: number;
  mount: EmMount;
  mounted: EmMount | null;
  /** MEMFS: a directory's children by name, or a file's bytes */
  contents?: Record<string, EmNode> | Uint8Array | null;
  usedBytes?: number;
  link?: string;
  atime?: number;
  mtime?: number;
  ctime?: number;
  name_next?: EmNode;
}

export interface EmMount {
  type: unknown;
  opts: { root?: string; readOnly?: boolean } | undefined;
  mountpoint: string;
  mounts: EmMount[];
}

export interface EmStream {
  fd: number | null;
  node: EmNode;
  position: number;
  path: string;
}

export interface EmStreamOps {
  write(stream: EmStream, buffer: Uint8Array, offset: number, length: number, position: number, canOwn?: boolean): number;
  msync?(stream: EmStream, buffer: Uint8Array, offset: number, length: number, flags: number): number;
}

export interface EmFS {
  root: EmNode;
  streams: (EmStream | null)[];
  currentPath: string;
  ErrnoError: new (errno: number) => Error & { errno: number };
  isDir(mode: number): boolean;
  isFile(mode: number): boolean;
  hashAddNode(node: EmNode): void;
  hashRemoveNode(node: EmNode): void;
  lookupPath(path: string, opts?: { follow?: boolean; follow_mount?: boolean }): { path: string; node: EmNode };
  analyzePath(path: string): { exists: boolean; object: EmNode | null };
  mkdirTree(path: string, mode?: number): void;
  mount(type: unknown, opts: object, mountpoint: string): EmNode;
  unmount(mountpoint: string): void;
  close(stream: EmStream): void;
  chdir(path: string): void;
  nodePermissions(node: EmNode, perms: string): number;
  doSetAttr(stream: EmStream | null, node: EmNode, attr: object): void;
  utime(path: string, atime: number, mtime: number): void;
}

export interface EmMEMFS {
  ops_table: { file: { stream: EmStreamOps } } | null;
}

/** A WebAssembly.Memory (the project's TypeScript lib settings do not declare the WebAssembly namespace). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

/** The parts of Pyodide's `_module` used here. */
export interface EmModule {
  FS: EmFS;
  MEMFS: EmMEMFS;
  NODEFS: unknown;
  ERRNO_CODES: Record<string, number>;
  memory?: WasmMemory;
  wasmMemory?: WasmMemory;
  HEAPU8: Uint8Array;
  /** the C library's program break: the top of the heap */
  _sbrk(increment: number): number;
}

export function moduleMemory(m: EmModule): WasmMemory {
  const mem = m.wasmMemory ?? m.memory;
  if (!mem || !(mem.buffer instanceof ArrayBuffer) || typeof mem.grow !== 'function') throw new Error('pyodide: cannot find the WebAssembly memory of the interpreter');
  return mem;
}
