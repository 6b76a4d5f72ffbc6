/** WAT sources of the modules the hyperlight tests compile and run. */

const FD_WRITE = '(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))';

export const HELLO = `(module
  ${FD_WRITE}
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, world\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 13))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

export const TYPES = `(module
  (func (export "add_i32") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "mul_i64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
  (func (export "div_f32") (param f32 f32) (result f32) (f32.div (local.get 0) (local.get 1)))
  (func (export "sqrt_f64") (param f64) (result f64) (f64.sqrt (local.get 0)))
  (func (export "swap") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (local.get 3) (local.get 2) (local.get 1) (local.get 0))
  (func (export "takes_ref") (param externref) (result i32) (i32.const 0))
  (func (export "nothing"))
  (func (export "Zé.name") (result i32) (i32.const 7)))`;

/** One export per rounding-style operation, for both widths. */
export const FLOATS = `(module
  (func (export "floor") (param f64) (result f64) (f64.floor (local.get 0)))
  (func (export "ceil") (param f64) (result f64) (f64.ceil (local.get 0)))
  (func (export "trunc") (param f64) (result f64) (f64.trunc (local.get 0)))
  (func (export "nearest") (param f64) (result f64) (f64.nearest (local.get 0)))
  (func (export "sqrt") (param f64) (result f64) (f64.sqrt (local.get 0)))
  (func (export "abs") (param f64) (result f64) (f64.abs (local.get 0)))
  (func (export "copysign") (param f64 f64) (result f64) (f64.copysign (local.get 0) (local.get 1)))
  (func (export "floorf") (param f32) (result f32) (f32.floor (local.get 0)))
  (func (export "ceilf") (param f32) (result f32) (f32.ceil (local.get 0)))
  (func (export "truncf") (param f32) (result f32) (f32.trunc (local.get 0)))
  (func (export "nearestf") (param f32) (result f32) (f32.nearest (local.get 0)))
  (func (export "sqrtf") (param f32) (result f32) (f32.sqrt (local.get 0))))`;

export const TRAPS = `(module
  (type $ret_i32 (func (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 1) $wrong_type)
  (func $wrong_type (param i32))
  (func (export "unreachable") unreachable)
  (func (export "oob") (result i32) (i32.load (i32.const 65534)))
  (func (export "div0") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "overflow") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "nan_to_int") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "null_indirect") (result i32) (call_indirect (type $ret_i32) (i32.const 0)))
  (func (export "mismatched_indirect") (result i32) (call_indirect (type $ret_i32) (i32.const 1))))`;

/** grow_all grows one page at a time until memory.grow fails, then returns memory.size. */
const GROW_ALL = `(func $grow_all (export "grow_all") (result i32)
    (block $done (loop $more
      (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (br $more)))
    (memory.size))
  (func (export "last_byte_after_grow") (result i32)
    (local $end i32)
    (local.set $end (i32.mul (call $grow_all) (i32.const 65536)))
    (i32.store8 (i32.sub (local.get $end) (i32.const 2)) (i32.const 9))
    (i32.add (i32.load8_u (i32.sub (local.get $end) (i32.const 1)))
             (i32.load8_u (i32.sub (local.get $end) (i32.const 2)))))
  (func (export "past_end_after_grow") (result i32)
    (i32.load8_u (i32.mul (call $grow_all) (i32.const 65536))))`;

export const GROW_CAPPED = `(module (memory 1 10) ${GROW_ALL})`;
export const GROW_UNCAPPED = `(module (memory 1) ${GROW_ALL})`;

export const OUTPUT = `(module
  ${FD_WRITE}
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (memory 4)
  (data (i32.const 100) "abE")
  (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
  ;; 1000 x "ab" on stdout, "E" on stderr, then "ab" again, exit 7
  (func (export "_start")
    (local $i i32)
    (block $done (loop $more
      (br_if $done (i32.eq (local.get $i) (i32.const 1000)))
      (drop (call $write (i32.const 1) (i32.const 100) (i32.const 2)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more)))
    (drop (call $write (i32.const 2) (i32.const 102) (i32.const 1)))
    (drop (call $write (i32.const 1) (i32.const 100) (i32.const 2)))
    (call $exit (i32.const 7)))
  ;; 100000 x "x" in one write: more than the message area holds
  (func (export "big") (result i32)
    (memory.fill (i32.const 1000) (i32.const 120) (i32.const 100000))
    (call $write (i32.const 1) (i32.const 1000) (i32.const 100000)))
  ;; after fd_close(1) the guest no longer buffers fd 1: the write goes to the host
  (func (export "after_close") (result i32)
    (drop (call $fd_close (i32.const 1)))
    (call $write (i32.const 1) (i32.const 100) (i32.const 2)))
  ;; an iovec pointing past memory: EFAULT (21) and nothing written
  (func (export "bad_pointer") (result i32)
    (call $write (i32.const 1) (i32.const 262140) (i32.const 100)))
  (func (export "nwritten") (result i32)
    (drop (call $write (i32.const 1) (i32.const 100) (i32.const 3)))
    (i32.load (i32.const 8))))`;

/** Output from the module's start function happens during instantiation, before READY. */
export const START_SECTION = `(module
  ${FD_WRITE}
  (memory 1)
  (data (i32.const 16) "from start\\n")
  (global $ran (mut i32) (i32.const 0))
  (func $init
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 11))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (global.set $ran (i32.const 1)))
  (start $init)
  (func (export "ran") (result i32) (global.get $ran)))`;

export const REACTOR = `(module
  (global $g (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $g (i32.add (global.get $g) (i32.const 41))))
  (func (export "get") (result i32) (i32.add (global.get $g) (i32.const 1))))`;

export const CLOCK_AND_RANDOM = `(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory 1)
  (func (export "now") (result i64)
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 0)))
    (i64.load (i32.const 0)))
  (func (export "random_errno") (result i32) (call $random (i32.const 64) (i32.const 32))))`;

export const SIMD = `(module (func (export "v") (result i32) (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))`;
export const ENV_IMPORT = `(module (import "env" "log" (func (param i32))) (import "env" "mem" (memory 1)))`;
export const BAD_WASI_SIGNATURE = `(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32))))`;
export const UNKNOWN_WASI = `(module (import "wasi_snapshot_preview1" "fd_teleport" (func (param i32) (result i32))))`;
