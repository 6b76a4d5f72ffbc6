/**
 * The WebAssembly programs the benchmark runs, written as WAT and compiled once per run with the wabt npm package,
 * so that every backend (and the raw WebAssembly.instantiate reference) runs exactly the same bytes.
 */
import { compileWat } from '../runtimes/wasm/wabt.js';

/** WASI preview1 command: writes "hello\n" to stdout. */
export const HELLO_WAT = `
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
`;

/** Exports for invoke: add(a, b) and a naive recursive fib(n) as the CPU-bound kernel. */
export const MATH_WAT = `
(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add
        (call $fib (i32.sub (local.get $n) (i32.const 1)))
        (call $fib (i32.sub (local.get $n) (i32.const 2))))))))
`;

/**
 * WASI preview1 command: writes "hello\n" to bench.txt in the first preopened directory (fd 3), reads it back and
 * prints what it read. A failing call exits with its errno, so a wrong setup shows as a wrong exit code.
 */
export const FILES_WAT = `
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0: iovec, 16: opened fd, 20: byte count, 64: path, 96: text, 128: read buffer
  (data (i32.const 64) "bench.txt")
  (data (i32.const 96) "hello\\n")
  (func $ok (param $errno i32)
    (if (local.get $errno) (then (call $proc_exit (local.get $errno)))))
  ;; rights: fd_read (1<<1) | fd_write (1<<6)
  (func $open (param $oflags i32) (result i32)
    (call $ok (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 9)
      (local.get $oflags) (i64.const 66) (i64.const 0) (i32.const 0) (i32.const 16)))
    (i32.load (i32.const 16)))
  (func (export "_start")
    (local $fd i32)
    ;; O_CREAT | O_TRUNC
    (local.set $fd (call $open (i32.const 9)))
    (i32.store (i32.const 0) (i32.const 96))
    (i32.store (i32.const 4) (i32.const 6))
    (call $ok (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 20)))
    (call $ok (call $fd_close (local.get $fd)))
    (local.set $fd (call $open (i32.const 0)))
    (i32.store (i32.const 0) (i32.const 128))
    (i32.store (i32.const 4) (i32.const 64))
    (call $ok (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 20)))
    (call $ok (call $fd_close (local.get $fd)))
    (i32.store (i32.const 4) (i32.load (i32.const 20)))
    (call $ok (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))))
`;

export interface BenchModules {
  hello: Uint8Array;
  math: Uint8Array;
  files: Uint8Array;
}

let compiled: Promise<BenchModules> | undefined;

export function benchModules(): Promise<BenchModules> {
  compiled ??= (async () => ({
    hello: await compileWat(HELLO_WAT, 'hello.wat'),
    math: await compileWat(MATH_WAT, 'math.wat'),
    files: await compileWat(FILES_WAT, 'files.wat'),
  }))();
  return compiled;
}
