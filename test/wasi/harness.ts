/**
 * Test helpers shared by the WASI and Wasm toolkit tests: a capturing output sink, temp dirs, WAT programs built
 * from a small shared prelude, and a driver that calls WASI functions the way a guest would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mount } from '../../src/core/types.js';
import type { OutputSink, RuntimeRequest } from '../../src/runtimes/types.js';
import { WasiPreview1, type WasiOptions } from '../../src/runtimes/wasi/wasi.js';
import { compileModule, compileWat } from '../../src/runtimes/wasm/module.js';
import { runWasiCommand } from '../../src/runtimes/wasm/run.js';

export class CaptureSink implements OutputSink {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  stdout(data: Uint8Array | string): void {
    this.out.push(Buffer.from(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)));
  }
  stderr(data: Uint8Array | string): void {
    this.err.push(Buffer.from(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)));
  }
  get stdoutText(): string {
    return Buffer.concat(this.out).toString('utf8');
  }
  get stderrText(): string {
    return Buffer.concat(this.err).toString('utf8');
  }
}

export function tempDir(t: { after(fn: () => void): void }, prefix = 'ak-wasi-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function request(over: Partial<RuntimeRequest> = {}): RuntimeRequest {
  return { env: {}, stdin: new Uint8Array(0), mounts: [], memoryMb: 64, ...over };
}

/** Imports, a memory and helpers every test program shares: strlen, check (exit with errno on failure), argv. */
export const PRELUDE = `
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $n))
  (func $check (param $e i32) (if (local.get $e) (then (call $proc_exit (local.get $e)))))
  ;; argv pointers land at 1024, strings at 2048
  (func $arg (param $i i32) (result i32)
    (call $check (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (call $check (call $args_get (i32.const 1024) (i32.const 2048)))
    (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))
  ;; write len bytes at ptr to fd (iovec at 32)
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 32) (local.get $ptr)) (i32.store (i32.const 36) (local.get $len))
    (call $check (call $fd_write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40))))
  ;; copy fd to stdout until EOF (buffer at 8192)
  (func $copy (param $fd i32)
    (i32.store (i32.const 16) (i32.const 8192)) (i32.store (i32.const 20) (i32.const 4096))
    (block $eof (loop $l
      (call $check (call $fd_read (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24)))
      (br_if $eof (i32.eqz (i32.load (i32.const 24))))
      (call $write (i32.const 1) (i32.const 8192) (i32.load (i32.const 24)))
      (br $l))))
`;

export const program = (body: string): string => `(module ${PRELUDE} ${body})`;

/** cat: stdin to stdout. */
export const CAT = program(`(func (export "_start") (call $copy (i32.const 0)))`);

/** readfile PATH: opens PATH in the first preopen (following symlinks) and prints it; exit code = errno. */
export const READFILE = program(`
  (func (export "_start") (local $p i32)
    (local.set $p (call $arg (i32.const 1)))
    (call $check (call $path_open (i32.const 3) (i32.const 1) (local.get $p) (call $strlen (local.get $p))
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 8)))
    (call $copy (i32.load (i32.const 8))))`);

/** writefile PATH TEXT: creates/truncates PATH in the first preopen and writes TEXT; exit code = errno. */
export const WRITEFILE = program(`
  (func (export "_start") (local $p i32) (local $t i32)
    (local.set $p (call $arg (i32.const 1)))
    (local.set $t (call $arg (i32.const 2)))
    (call $check (call $path_open (i32.const 3) (i32.const 0) (local.get $p) (call $strlen (local.get $p))
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 8)))
    (call $write (i32.load (i32.const 8)) (local.get $t) (call $strlen (local.get $t))))`);

/** Compile WAT and run it as a WASI command. */
export async function runWat(
  wat: string,
  opts: { args?: string[]; stdin?: string; mounts?: Mount[]; env?: Record<string, string>; memoryMb?: number } = {},
) {
  const module = await compileModule(await compileWat(wat), { memoryMb: opts.memoryMb ?? 64 });
  const out = new CaptureSink();
  const outcome = await runWasiCommand(
    module,
    {
      ...request({ env: opts.env ?? {}, mounts: opts.mounts ?? [], memoryMb: opts.memoryMb ?? 64 }),
      stdin: new TextEncoder().encode(opts.stdin ?? ''),
      args: opts.args ?? [],
      programName: 'test.wasm',
    },
    out,
  );
  return { ...outcome, stdout: out.stdoutText, stderr: out.stderrText };
}

/**
 * Calls WASI functions directly, as a guest would, against a plain byte array used as linear memory. Strings and
 * buffers are placed with a bump allocator.
 */
export class Driver {
  readonly mem = new Uint8Array(1 << 16);
  readonly view = new DataView(this.mem.buffer);
  readonly out = new CaptureSink();
  readonly wasi: WasiPreview1;
  private top = 1024;

  constructor(opts: Partial<WasiOptions> = {}) {
    this.wasi = new WasiPreview1({ args: ['prog'], env: {}, stdin: new Uint8Array(0), out: this.out, mounts: [], ...opts });
    this.wasi.bindMemory(() => this.mem);
  }

  alloc(n: number): number {
    const p = this.top;
    this.top += (n + 7) & ~7;
    if (this.top > this.mem.byteLength) this.top = 1024; // tests are short: wrap around
    return p;
  }

  /** Places a UTF-8 string; returns [ptr, len]. */
  str(s: string): [number, number] {
    const b = new TextEncoder().encode(s);
    const p = this.alloc(b.byteLength);
    this.mem.set(b, p);
    return [p, b.byteLength];
  }

  call(name: string, ...args: (number | bigint)[]): number {
    const fn = this.wasi.imports[name];
    if (!fn) throw new Error(`no WASI function ${name}`);
    return fn(...args);
  }

  u32(p: number): number {
    return this.view.getUint32(p, true);
  }
  u64(p: number): bigint {
    return this.view.getBigUint64(p, true);
  }

  /** path_open; returns [errno, fd]. */
  open(dirfd: number, path: string, o: { oflags?: number; rights?: bigint; inheriting?: bigint; follow?: boolean; fdflags?: number } = {}): [number, number] {
    const [p, n] = this.str(path);
    const out = this.alloc(4);
    const e = this.call('path_open', dirfd, o.follow === false ? 0 : 1, p, n, o.oflags ?? 0, o.rights ?? 0x1fffffffn, o.inheriting ?? 0x1fffffffn, o.fdflags ?? 0, out);
    return [e, e === 0 ? this.u32(out) : -1];
  }

  /** A path-only call (fd, path) like path_create_directory / path_unlink_file / path_remove_directory. */
  pathCall(name: string, dirfd: number, path: string): number {
    const [p, n] = this.str(path);
    return this.call(name, dirfd, p, n);
  }

  write(fd: number, data: string): [number, number] {
    const [p, n] = this.str(data);
    const iov = this.alloc(8);
    this.view.setUint32(iov, p, true);
    this.view.setUint32(iov + 4, n, true);
    const nw = this.alloc(4);
    const e = this.call('fd_write', fd, iov, 1, nw);
    return [e, e === 0 ? this.u32(nw) : 0];
  }

  read(fd: number, max = 4096): [number, string] {
    const buf = this.alloc(max);
    const iov = this.alloc(8);
    this.view.setUint32(iov, buf, true);
    this.view.setUint32(iov + 4, max, true);
    const nr = this.alloc(4);
    const e = this.call('fd_read', fd, iov, 1, nr);
    return [e, e === 0 ? Buffer.from(this.mem.subarray(buf, buf + this.u32(nr))).toString('utf8') : ''];
  }

  /** Directory entry names via fd_readdir (cookie 0, one big buffer). */
  readdir(fd: number): [number, string[]] {
    const buf = this.alloc(8192);
    const used = this.alloc(4);
    const e = this.call('fd_readdir', fd, buf, 8192, 0n, used);
    if (e !== 0) return [e, []];
    const names: string[] = [];
    let at = buf;
    const end = buf + this.u32(used);
    while (at + 24 <= end) {
      const len = this.u32(at + 16);
      names.push(Buffer.from(this.mem.subarray(at + 24, at + 24 + len)).toString('utf8'));
      at += 24 + len;
    }
    return [0, names];
  }
}
