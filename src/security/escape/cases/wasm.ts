/** Attacks on the Wasm sandbox itself: memory bounds, tables, growth, recursion, WASI pointers and descriptors. */
import { all, either, exits, memoryLimit, never, prints, refused, reports, timesOut, traps } from '../expect.js';
import type { EscapeCase } from '../types.js';

/** A module that asks for 4 GiB of linear memory up front. */
const HUGE_INITIAL = '(module (memory (export "memory") 65536) (func (export "_start")))';

export const WASM_CASES: EscapeCase[] = [
  {
    id: 'wasm-out-of-bounds',
    category: 'wasm guest',
    threat: 'read or write past linear memory (into the host or the VM around it)',
    attempts: [
      { via: 'wasi', tries: 'i32.load straddling the end', payload: { kind: 'probe', op: 'loadPastEnd' }, expect: traps('out_of_bounds') },
      { via: 'wasi', tries: 'i64.store at 2 GiB', payload: { kind: 'probe', op: 'storePastEnd' }, expect: traps('out_of_bounds') },
      { via: 'wasi', tries: 'address + offset wrapping 32 bits', payload: { kind: 'probe', op: 'offsetWrap' }, expect: traps('out_of_bounds') },
      { via: 'wasi', tries: 'memory.fill past the end', payload: { kind: 'probe', op: 'fillPastEnd' }, expect: traps('out_of_bounds') },
    ],
  },
  {
    id: 'wasm-table-confusion',
    category: 'wasm guest',
    threat: 'indirect calls through the wrong signature, past the table, through a null slot',
    attempts: [
      {
        via: 'wasi', tries: 'call_indirect (i32)->i32 as ()->i32',
        payload: { kind: 'probe', op: 'indirectMismatch' },
        expect: traps('indirect_call_type_mismatch'),
      },
      // V8 calls this out_of_bounds, wasm2c a signature mismatch: both refuse the call
      {
        via: 'wasi', tries: 'call_indirect index 100 of a 4-slot table',
        payload: { kind: 'probe', op: 'indirectPastTable' },
        expect: traps('out_of_bounds', 'indirect_call_type_mismatch'),
      },
      {
        via: 'wasi', tries: 'call_indirect through an empty slot',
        payload: { kind: 'probe', op: 'indirectNull' },
        expect: traps('indirect_call_type_mismatch', 'null_reference'),
      },
    ],
  },
  {
    id: 'wasm-huge-grow',
    category: 'wasm guest',
    threat: 'grab 4 GiB of memory at once (64 MiB cap)',
    attempts: [
      {
        via: 'wasi', tries: 'memory.grow(65535)', memoryMb: 64,
        payload: { kind: 'probe', op: 'growHuge' },
        expect: all(exits(0), prints(/^refused$/m, 'memory.grow returns -1')),
      },
      {
        via: 'wasi', tries: 'a module declaring 4 GiB of initial memory', memoryMb: 64, payload: { kind: 'module', wat: HUGE_INITIAL },
        expect: either(refused('LIMIT'), refused('VALIDATION'), memoryLimit()),
      },
    ],
  },
  {
    id: 'wasm-deep-recursion',
    category: 'wasm guest',
    threat: 'unbounded recursion (overflow the host or VM stack)',
    attempts: [
      { via: 'wasi', tries: 'a function calling itself', payload: { kind: 'probe', op: 'recurse' }, expect: traps('stack_exhausted') },
      {
        via: 'javascript', tries: 'f() calling itself',
        payload: { kind: 'code', language: 'javascript', code: 'function f(n) { return f(n + 1) + 1; } f(0);' },
        expect: all(exits(1), reports(/stack|recursion/i)),
      },
      {
        via: 'python', tries: 'f() calling itself, recursion limit raised', timeoutMs: 2000,
        payload: { kind: 'code', language: 'python', code: 'import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1) + 1\nf(0)' },
        expect: either(all(exits(1), reports(/RecursionError|MemoryError|stack/i)), memoryLimit(), traps('stack_exhausted'), timesOut()),
      },
    ],
  },
  {
    id: 'wasi-bad-pointers',
    category: 'wasm guest',
    threat: 'hand WASI calls pointers and lengths outside linear memory (make the host read or write its own memory)',
    attempts: [
      {
        via: 'wasi', tries: 'fd_write/path_open/args_get with out-of-range pointers',
        payload: { kind: 'probe', op: 'pointers', mount: 'data' },
        expect: all(exits(0), prints(/^(errno 21\n){5}survived$/m, 'EFAULT for each, and the guest goes on')),
      },
    ],
  },
  {
    id: 'wasi-guess-fds',
    category: 'wasm guest',
    threat: "use descriptors it was not given (the host's IPC channel, files, sockets)",
    attempts: [
      {
        via: 'wasi', tries: 'fd_write and fd_read on fds 3..63 without preopens',
        payload: { kind: 'probe', op: 'fds' },
        expect: all(exits(0), never(/^open \d+/m, 'EBADF on every fd')),
      },
    ],
  },
];
