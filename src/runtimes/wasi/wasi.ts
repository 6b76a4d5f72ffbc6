/**
 * WASI preview1 (wasi_snapshot_preview1) implemented in TypeScript. Node's built-in `node:wasi` is documented as
 * not being a security boundary; this one is: the guest reaches the host only through these functions, its files
 * only through its preopened directories, and every pointer it passes is bounds-checked.
 *
 * Shared by the V8 executor (imports of a WebAssembly.Instance) and the micro-VM (host calls decoded with
 * WASI_SIGNATURES). The implementation is synchronous, as preview1 is.
 */
import { randomFillSync } from 'node:crypto';
import { constants as C, openSync, closeSync, realpathSync, statSync } from 'node:fs';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { Mount } from '../../core/types.js';
import type { OutputSink } from '../types.js';
import { clockPollFunctions } from './clock-poll.js';
import { ALL_RIGHTS, ERRNO, STDIN_RIGHTS, STDOUT_RIGHTS, errnoFromHostCode } from './constants.js';
import type { WasiContext, WasiFn } from './context.js';
import { WasiExit } from './exit.js';
import { FdTable } from './fd-table.js';
import { fdFunctions } from './fd-ops.js';
import { Errno, GuestView, utf8 } from './memory.js';
import { pathFunctions } from './path-ops.js';

export { WasiExit };
export { WASI_SIGNATURES } from './signatures.js';

export interface WasiOptions {
  /** argv; argv[0] is the program name. */
  args: string[];
  /** Exactly the environment the guest sees. */
  env: Record<string, string>;
  /** The whole of stdin. */
  stdin: Uint8Array;
  /** Receives fd 1 (stdout) and fd 2 (stderr). */
  out: OutputSink;
  /** Preopened directories, given fds 3, 4, ... in this order. */
  mounts: Mount[];
  /** Files and directories the guest may hold open through path_open at once; past it, EMFILE. @default 256 */
  maxOpenFiles?: number;
  /** Date.now()-based deadline of the run: a poll_oneoff sleep never outlasts it (the guest exits with 124). */
  deadline?: number;
}

const EMPTY_MEMORY = new Uint8Array(0);

function checkStrings(what: string, values: string[]): void {
  for (const s of values) if (s.includes('\0')) throw new ValidationError(`${what} must not contain NUL bytes: ${JSON.stringify(s)}`);
}

/** NUL-terminated UTF-8 strings packed one after another, as args_get/environ_get lay them out. */
function packStrings(values: string[]): { offsets: number[]; buf: Uint8Array } {
  const parts = values.map((s) => utf8(s + '\0'));
  const buf = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  const offsets: number[] = [];
  let at = 0;
  for (const p of parts) {
    offsets.push(at);
    buf.set(p, at);
    at += p.byteLength;
  }
  return { offsets, buf };
}

/**
 * The errno a failed call returns. WasiExit must unwind through the guest; so must a stack overflow that struck
 * inside the host function, which is the guest's stack running out (a trap), not a failed call.
 */
function errnoOf(e: unknown): number {
  if (e instanceof WasiExit) throw e;
  if (e instanceof RangeError && /maximum call stack size exceeded/i.test(e.message)) throw e;
  if (e instanceof Errno) return e.errno;
  const code = (e as { code?: unknown } | null)?.code;
  return errnoFromHostCode(typeof code === 'string' ? code : undefined);
}

export class WasiPreview1 {
  readonly imports: Record<string, (...args: any[]) => number>;
  private readonly table: FdTable;
  private getMemory?: () => Uint8Array;
  private closed = false;

  constructor(opts: WasiOptions) {
    checkStrings('arguments', opts.args);
    for (const k of Object.keys(opts.env)) {
      if (k.length === 0 || k.includes('=')) throw new ValidationError(`invalid environment variable name ${JSON.stringify(k)}`);
    }
    checkStrings('environment', [...Object.keys(opts.env), ...Object.values(opts.env)]);
    const maxOpen = opts.maxOpenFiles ?? 256;
    if (!Number.isInteger(maxOpen) || maxOpen < 0) throw new ValidationError(`maxOpenFiles must be a non-negative integer, got ${maxOpen}`);

    this.table = new FdTable(maxOpen);
    this.table.add({ kind: 'stdin', rightsBase: STDIN_RIGHTS, rightsInheriting: 0n, fdflags: 0 });
    this.table.add({ kind: 'stdout', rightsBase: STDOUT_RIGHTS, rightsInheriting: 0n, fdflags: 0 });
    this.table.add({ kind: 'stderr', rightsBase: STDOUT_RIGHTS, rightsInheriting: 0n, fdflags: 0 });
    try {
      for (const m of opts.mounts) this.preopen(m);
    } catch (e) {
      this.table.closeAll();
      throw e;
    }

    const args = packStrings(opts.args);
    const env = packStrings(Object.entries(opts.env).map(([k, v]) => `${k}=${v}`));
    const ctx: WasiContext = {
      table: this.table,
      mem: () => new GuestView(this.getMemory ? this.getMemory() : EMPTY_MEMORY),
      stdin: opts.stdin,
      stdinPos: 0,
      out: opts.out,
      deadline: opts.deadline,
    };

    const groups: Record<string, WasiFn>[] = [
      fdFunctions(ctx),
      pathFunctions(ctx),
      clockPollFunctions(ctx),
      {
        args_sizes_get: (countPtr: number, sizePtr: number) => sizes(ctx, args, countPtr, sizePtr),
        args_get: (ptrs: number, buf: number) => strings(ctx, args, ptrs, buf),
        environ_sizes_get: (countPtr: number, sizePtr: number) => sizes(ctx, env, countPtr, sizePtr),
        environ_get: (ptrs: number, buf: number) => strings(ctx, env, ptrs, buf),
        proc_exit: (code: number) => {
          throw new WasiExit(code >>> 0);
        },
        proc_raise: () => ERRNO.NOSYS,
        sched_yield: () => ERRNO.SUCCESS,
        random_get: (buf: number, len: number) => {
          randomFillSync(ctx.mem().bytes(buf, len));
          return ERRNO.SUCCESS;
        },
        sock_accept: () => ERRNO.NOTSUP,
        sock_recv: () => ERRNO.NOTSUP,
        sock_send: () => ERRNO.NOTSUP,
        sock_shutdown: () => ERRNO.NOTSUP,
      },
    ];
    // one object built by assignment (spreading these groups costs more than the rest of a run's setup)
    const imports: Record<string, (...args: any[]) => number> = {};
    for (const group of groups) {
      for (const name of Object.keys(group)) {
        const fn = group[name]!;
        imports[name] = (...a: unknown[]) => {
          try {
            return fn(...a);
          } catch (e) {
            return errnoOf(e);
          }
        };
      }
    }
    this.imports = imports;
  }

  bindMemory(get: () => Uint8Array): void {
    this.getMemory = get;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.table.closeAll();
  }

  private preopen(m: Mount): void {
    let root: string;
    try {
      root = realpathSync(m.hostPath);
    } catch {
      throw new NotFoundError(`mount source does not exist: ${m.hostPath}`, { hostPath: m.hostPath });
    }
    if (!statSync(root).isDirectory()) throw new ValidationError(`mount source is not a directory: ${m.hostPath}`, { hostPath: m.hostPath });
    const hostFd = openSync(root, C.O_RDONLY | C.O_DIRECTORY);
    try {
      this.table.add({
        kind: 'dir',
        hostFd,
        root,
        rel: [],
        readOnly: m.readOnly,
        position: 0n,
        // a read-only preopen still advertises write rights so that opening for writing fails with EROFS at
        // path_open, as on a read-only file system, instead of silently opening read-only
        rightsBase: ALL_RIGHTS,
        rightsInheriting: ALL_RIGHTS,
        fdflags: 0,
        preopenName: m.guestPath || m.hostPath,
        opened: false,
      });
    } catch (e) {
      closeSync(hostFd);
      throw e;
    }
  }
}

function sizes(ctx: WasiContext, s: { offsets: number[]; buf: Uint8Array }, countPtr: number, sizePtr: number): number {
  const v = ctx.mem();
  v.check(countPtr, 4);
  v.check(sizePtr, 4);
  v.setU32(countPtr, s.offsets.length);
  v.setU32(sizePtr, s.buf.byteLength);
  return ERRNO.SUCCESS;
}

function strings(ctx: WasiContext, s: { offsets: number[]; buf: Uint8Array }, ptrs: number, buf: number): number {
  const v = ctx.mem();
  v.check(ptrs, s.offsets.length * 4);
  v.check(buf, s.buf.byteLength);
  v.write(buf, s.buf);
  s.offsets.forEach((off, i) => v.setU32(ptrs + i * 4, ((buf >>> 0) + off) >>> 0));
  return ERRNO.SUCCESS;
}
