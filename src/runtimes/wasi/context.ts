/**
 * State shared by the groups of WASI functions (fd_*, path_*, clocks/poll): one object per WasiPreview1.
 */
import type { OutputSink } from '../types.js';
import type { FdTable } from './fd-table.js';
import type { GuestView } from './memory.js';

export interface WasiContext {
  readonly table: FdTable;
  /** The guest memory as it is now (re-read on every call: it may have grown or moved). */
  mem(): GuestView;
  readonly stdin: Uint8Array;
  /** Bytes of stdin already consumed by fd_read. */
  stdinPos: number;
  readonly out: OutputSink;
  /** Date.now()-based deadline: a sleep never runs past it. */
  readonly deadline?: number;
}

export type WasiFn = (...args: any[]) => number;

/** Unsigned 64-bit value of an i64 argument (V8 passes BigInt; a host-call bridge may pass a number). */
export function u64(x: bigint | number): bigint {
  return BigInt.asUintN(64, typeof x === 'bigint' ? x : BigInt(Math.trunc(Number(x))));
}

/** Signed 64-bit value of an i64 argument. */
export function s64(x: bigint | number): bigint {
  return BigInt.asIntN(64, typeof x === 'bigint' ? x : BigInt(Math.trunc(Number(x))));
}
