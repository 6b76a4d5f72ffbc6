/**
 * What the soak asks guests to do, and what each request must get back. Every request that can answer carries a
 * nonce the guest echoes, so an answer that belongs to another request is recognised as mixed up, not as a pass.
 * Fault requests (spin, trap, memory bomb, abort) have one fixed outcome each; nothing else counts as theirs.
 */
import type { Language } from '../core/types.js';

/**
 * One module for both Wasm backends: `_start` prints argv[1..], one per line; `echo` returns its i64 argument;
 * `spin` never returns; `trap` hits unreachable; `grow` grows memory until refused, then traps.
 */
export const SOAK_WAT = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $argc i32) (local $i i32) (local $p i32) (local $n i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (local.set $argc (i32.load (i32.const 0)))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (local.set $i (i32.const 1))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $argc)))
      (local.set $p (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $n (i32.const 0))
      (block $end (loop $len
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $len)))
      ;; the terminating NUL becomes the newline
      (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 10))
      (i32.store (i32.const 16) (local.get $p))
      (i32.store (i32.const 20) (i32.add (local.get $n) (i32.const 1)))
      (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  (func (export "echo") (param i64) (result i64) (local.get 0))
  (func (export "spin") (loop $l (br $l)))
  (func (export "trap") unreachable)
  (func (export "grow")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))`;

export type BackendUse = 'wasm' | 'hyperlight';

export type WorkKind =
  /** a WASI module prints the nonce */
  | 'echo-wasm'
  /** an export returns the nonce (a number) */
  | 'echo-invoke'
  /** JavaScript (QuickJS) prints the nonce */
  | 'echo-js'
  /** the shell interpreter prints the nonce */
  | 'echo-shell'
  /** JavaScript that works for a while, then prints the nonce: the run a killed worker interrupts */
  | 'slow-js'
  /** an infinite loop under a short timeout */
  | 'spin'
  /** a Wasm trap */
  | 'trap'
  /** memory grown until the cap stops it */
  | 'bomb'
  /** an infinite loop that the caller abandons (abort / client disconnect) */
  | 'abort';

/** How a request reaches a guest, in the terms every interface shares. */
export type Operation =
  | { type: 'wasm'; args?: string[]; invoke?: string; invokeArgs?: (string | number)[] }
  | { type: 'code'; language: Language; code: string };

export interface SoakRequest {
  id: number;
  nonce: string;
  kind: WorkKind;
  backend: BackendUse;
  op: Operation;
  timeoutMs: number;
  memoryMb: number;
  /** The caller gives up after this long (the `abort` kind only). */
  abortAfterMs?: number;
}

/** What came back, the same shape whichever interface carried it. */
export type Answer =
  | { kind: 'result'; exitCode: number; stdout: string; stderr: string; timedOut?: boolean; trap?: string; results?: (number | string)[] }
  /** `code`: the typed error's code, or CONNECTION when the server could not be reached or went away. */
  | { kind: 'error'; code: string; message: string };

/** Which kinds each backend serves (hyperlight runs Wasm modules only). */
export const KINDS: Record<BackendUse, WorkKind[]> = {
  wasm: ['echo-wasm', 'echo-invoke', 'echo-js', 'echo-shell', 'slow-js', 'spin', 'trap', 'bomb', 'abort'],
  hyperlight: ['echo-wasm', 'echo-invoke', 'spin', 'trap', 'bomb', 'abort'],
};

/** Fault kinds are a minority of the traffic: most requests must come back with their own nonce. */
const FAULT_KINDS = new Set<WorkKind>(['spin', 'trap', 'bomb', 'abort']);
export const isFault = (k: WorkKind): boolean => FAULT_KINDS.has(k);

/** A nonce no other request of the run has: digits only, so it also fits an i64 argument of `echo`. */
export function makeNonce(id: number, salt: number): string {
  return `${salt}${String(id).padStart(9, '0')}`;
}

/** The request of a kind, with its limits. Timeouts stay short so that fault requests do not hog the pool. */
export function buildRequest(id: number, nonce: string, kind: WorkKind, backend: BackendUse): SoakRequest {
  const base = { id, nonce, kind, backend, timeoutMs: 10_000, memoryMb: 64 };
  switch (kind) {
    case 'echo-wasm': return { ...base, op: { type: 'wasm', args: [nonce] } };
    case 'echo-invoke': return { ...base, op: { type: 'wasm', invoke: 'echo', invokeArgs: [nonce] } };
    case 'echo-js': return { ...base, op: { type: 'code', language: 'javascript', code: `console.log(${JSON.stringify(nonce)})` } };
    case 'echo-shell': return { ...base, op: { type: 'code', language: 'shell', code: `echo ${nonce}` } };
    case 'slow-js': return {
      ...base,
      op: { type: 'code', language: 'javascript', code: `let x = 0; for (let i = 0; i < 3e6; i++) x = (x + i) % 7; console.log(${JSON.stringify(nonce)})` },
    };
    case 'spin': return { ...base, timeoutMs: 300, op: { type: 'wasm', invoke: 'spin' } };
    case 'trap': return { ...base, op: { type: 'wasm', invoke: 'trap' } };
    case 'bomb': return { ...base, memoryMb: 32, op: { type: 'wasm', invoke: 'grow' } };
    case 'abort': return { ...base, abortAfterMs: 150, op: { type: 'wasm', invoke: 'spin' } };
  }
}
