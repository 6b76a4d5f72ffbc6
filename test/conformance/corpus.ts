/**
 * One corpus of Wasm programs, each with the call to make and what to compare, run against every Wasm-capable
 * backend: both must give identical exit codes, output, results and trap kinds.
 */
import type { ExecResult, RunWasmOptions } from '../../src/core/types.js';

/** Imports and helpers every program may use: memory at 0, scratch at 0..1024, $print, $printnum. */
const PRELUDE = `
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $print (param $ptr i32) (param $len i32) (call $write (i32.const 1) (local.get $ptr) (local.get $len)))
  ;; decimal of a non-negative i32, then a newline (digits built backwards at 64..80)
  (func $printnum (param $n i32) (local $p i32)
    (local.set $p (i32.const 79))
    (i32.store8 (i32.const 79) (i32.const 10))
    (loop $d
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $d (local.get $n)))
    (call $print (local.get $p) (i32.sub (i32.const 80) (local.get $p))))
`;

// each body closes the module itself
const mod = (body: string) => `(module ${PRELUDE} ${body}`;

export interface CorpusCase {
  name: string;
  kind: 'run' | 'invoke';
  module: string;
  /** Options besides the module (mounts get the fixture directory when `mount` is set). */
  opts?: Omit<Partial<RunWasmOptions>, 'args'> & { export?: string; args?: (string | number)[] };
  /** Preopen a fixture directory (with f.txt) at /data. */
  mount?: boolean;
  /** Extra checks beyond "both backends agree". */
  expect?: (r: ExecResult) => void;
}

const HELLO = mod(`(data (i32.const 200) "hello, world\\n")
  (func (export "_start") (call $print (i32.const 200) (i32.const 13))))`);

/** Writes the packed argv (or environ) strings, NULs turned into newlines. */
const dumpStrings = (sizes: string, get: string) => mod(`
  (func (export "_start") (local $i i32) (local $n i32)
    (drop (call ${sizes} (i32.const 100) (i32.const 104)))
    (drop (call ${get} (i32.const 1024) (i32.const 4096)))
    (local.set $n (i32.load (i32.const 104)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.eqz (i32.load8_u (i32.add (i32.const 4096) (local.get $i))))
        (then (i32.store8 (i32.add (i32.const 4096) (local.get $i)) (i32.const 10))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (call $printnum (i32.load (i32.const 100)))
    (call $print (i32.const 4096) (local.get $n))))`);

const CAT = mod(`
  (func (export "_start") (local $n i32)
    (loop $l
      (i32.store (i32.const 16) (i32.const 4096))
      (i32.store (i32.const 20) (i32.const 8192))
      (drop (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
      (local.set $n (i32.load (i32.const 24)))
      (if (local.get $n) (then (call $print (i32.const 4096) (local.get $n)) (br $l))))))`);

const EXIT = (code: number) => mod(`(func (export "_start") (call $proc_exit (i32.const ${code}))))`);

const NUMBERS = mod(`
  (func (export "add32") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "mulf32") (param f32 f32) (result f32) (f32.mul (local.get 0) (local.get 1)))
  (func (export "divf64") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
  (func (export "pair") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "nothing")))`);

const TRAPS = mod(`
  (func (export "unreachable") unreachable)
  (func (export "oob") (result i32) (i32.load (i32.const 70000)))
  (func (export "div0") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const -2147483648) (i32.const -1)))
  (func (export "convert") (result i32) (i32.trunc_f32_s (f32.const nan)))
  (func $deep (export "deep") (param i32) (result i32) (i32.add (call $deep (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "_start") (call $print (i32.const 300) (i32.const 6)) unreachable)
  (data (i32.const 300) "before"))`);

const GROW = mod(`
  (data (i32.const 200) "capped\\n")
  (func (export "_start")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (call $print (i32.const 200) (i32.const 7))))`);

/** Opens a path relative to preopen fd 3 and prints its first bytes, or the errno. */
const OPEN = (path: string) => mod(`
  (data (i32.const 200) "${path}")
  (func (export "_start") (local $e i32)
    (local.set $e (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const ${Buffer.byteLength(path)})
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100)))
    (if (local.get $e) (then (call $printnum (local.get $e)) (call $proc_exit (i32.const 1))))
    (i32.store (i32.const 16) (i32.const 4096))
    (i32.store (i32.const 20) (i32.const 100))
    (drop (call $fd_read (i32.load (i32.const 100)) (i32.const 16) (i32.const 1) (i32.const 24)))
    (call $print (i32.const 4096) (i32.load (i32.const 24)))))`);

export const CORPUS: CorpusCase[] = [
  { name: 'WASI hello', kind: 'run', module: HELLO, expect: (r) => { if (r.stdout !== 'hello, world\n') throw new Error(r.stdout); } },
  { name: 'args', kind: 'run', module: dumpStrings('$args_sizes_get', '$args_get'), opts: { args: ['one', 'two words', ''] } },
  { name: 'env (only what is passed)', kind: 'run', module: dumpStrings('$environ_sizes_get', '$environ_get'), opts: { env: { A: '1', EMPTY: '' } } },
  { name: 'stdin cat', kind: 'run', module: CAT, opts: { stdin: 'line 1\nline 2\n'.repeat(2000) } },
  { name: 'exit code 3', kind: 'run', module: EXIT(3) },
  { name: 'exit code 300 keeps the low 8 bits', kind: 'run', module: EXIT(300) },
  { name: 'i32 wraps', kind: 'invoke', module: NUMBERS, opts: { export: 'add32', args: [2147483647, 1] } },
  { name: 'i32 unsigned spelling', kind: 'invoke', module: NUMBERS, opts: { export: 'add32', args: ['0xffffffff', 0] } },
  { name: 'i64 edges', kind: 'invoke', module: NUMBERS, opts: { export: 'add64', args: ['9223372036854775807', '1'] } },
  { name: 'i64 negative', kind: 'invoke', module: NUMBERS, opts: { export: 'add64', args: ['-9223372036854775808', '-1'] } },
  { name: 'f32 rounding', kind: 'invoke', module: NUMBERS, opts: { export: 'mulf32', args: [0.1, 3] } },
  { name: 'f32 inf', kind: 'invoke', module: NUMBERS, opts: { export: 'mulf32', args: ['3.4e38', 10] } },
  { name: 'f64 nan', kind: 'invoke', module: NUMBERS, opts: { export: 'divf64', args: [0, 0] } },
  { name: 'f64 -inf', kind: 'invoke', module: NUMBERS, opts: { export: 'divf64', args: [-1, 0] } },
  { name: 'f64 precision', kind: 'invoke', module: NUMBERS, opts: { export: 'divf64', args: [1, 3] } },
  { name: 'multi-value', kind: 'invoke', module: NUMBERS, opts: { export: 'pair', args: [-5, '123456789012345'] } },
  { name: 'no results', kind: 'invoke', module: NUMBERS, opts: { export: 'nothing' } },
  { name: 'trap: unreachable', kind: 'invoke', module: TRAPS, opts: { export: 'unreachable' } },
  { name: 'trap: out of bounds', kind: 'invoke', module: TRAPS, opts: { export: 'oob' } },
  { name: 'trap: divide by zero', kind: 'invoke', module: TRAPS, opts: { export: 'div0', args: [0] } },
  { name: 'trap: integer overflow', kind: 'invoke', module: TRAPS, opts: { export: 'overflow' } },
  { name: 'trap: invalid conversion', kind: 'invoke', module: TRAPS, opts: { export: 'convert' } },
  { name: 'trap: stack exhaustion', kind: 'invoke', module: TRAPS, opts: { export: 'deep', args: [0] } },
  { name: 'trap after output', kind: 'run', module: TRAPS },
  { name: 'infinite loop times out', kind: 'invoke', module: TRAPS, opts: { export: 'spin', timeoutMs: 300 } },
  { name: 'memory.grow loop is capped', kind: 'run', module: GROW, opts: { memoryMb: 16 } },
  { name: 'preopen: read a file', kind: 'run', module: OPEN('f.txt'), mount: true },
  { name: 'preopen: .. escape refused', kind: 'run', module: OPEN('../f.txt'), mount: true },
  { name: 'preopen: absolute path refused', kind: 'run', module: OPEN('/etc/passwd'), mount: true },
  { name: 'preopen: sub/../.. escape refused', kind: 'run', module: OPEN('sub/../../f.txt'), mount: true },
];

/** What must be identical across backends. */
export function comparable(r: ExecResult): Record<string, unknown> {
  return {
    exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, results: r.results, trap: r.trap?.kind,
    timedOut: r.timedOut ?? false, stdoutTruncated: r.stdoutTruncated, stderrTruncated: r.stderrTruncated,
  };
}
