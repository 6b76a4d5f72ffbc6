/**
 * The one WASI module every Wasm attempt of the escape corpus runs. One module rather than one per attempt: the
 * micro-VM backend compiles each distinct module with wasm2c + gcc (about a second), so the corpus pays that once.
 *
 * `_start` dispatches on the first character of argv[1]; argv[2] is the operand (a path) where one is needed.
 * Results are printed as text, errno values as `errno N` (WASI numbering: 8 EBADF, 21 EFAULT, 44 ENOENT,
 * 63 EPERM, 76 ENOTCAPABLE...). `plant`/`peek` are for invoke: a value left in memory and a global by one call
 * that the next call must not find.
 */

/** Operations of the probe (argv[1]). */
export const PROBE_OPS = {
  /** open argv[2] relative to the first preopen (fd 3) and print its first 4 KiB, or `errno N` and exit 1 */
  read: 'o',
  /** create argv[2] relative to fd 3 and write `x` into it; prints `created` or `errno N` */
  create: 'c',
  /** print every environment string, one per line */
  env: 'e',
  /** fd_write and fd_read on fds 3..63: prints `open N` for each fd that did not answer EBADF */
  fds: 'f',
  /** open "." of fd 3 again and again (up to 100000 times) until refused; prints `opened N errno E` */
  fdFlood: 'F',
  /** WASI calls with pointers outside linear memory; prints each call's errno */
  pointers: 'p',
  /** grow memory 16 pages at a time until refused; prints `capped N` (pages) */
  growLoop: 'g',
  /** one memory.grow of 65535 pages (4 GiB); prints `refused` or `granted` */
  growHuge: 'G',
  /** 1 GiB to stdout in 64 KiB writes */
  flood: 'l',
  /** an endless loop without calls */
  spin: 's',
  /** unbounded recursion */
  recurse: 'r',
  /** i32.load straddling the end of linear memory */
  loadPastEnd: 'b',
  /** i64.store far past the end */
  storePastEnd: 'B',
  /** an address plus a static offset that wraps around 32 bits */
  offsetWrap: 'w',
  /** memory.fill running past the end */
  fillPastEnd: 'm',
  /** call_indirect through a table slot of another signature */
  indirectMismatch: 't',
  /** call_indirect with an index past the table */
  indirectPastTable: 'T',
  /** call_indirect through an empty (null) table slot */
  indirectNull: 'n',
} as const;

export type ProbeOp = keyof typeof PROBE_OPS;

const IMPORTS = [
  ['args_sizes_get', '(param i32 i32) (result i32)'],
  ['args_get', '(param i32 i32) (result i32)'],
  ['environ_sizes_get', '(param i32 i32) (result i32)'],
  ['environ_get', '(param i32 i32) (result i32)'],
  ['path_open', '(param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)'],
  ['fd_read', '(param i32 i32 i32 i32) (result i32)'],
  ['fd_write', '(param i32 i32 i32 i32) (result i32)'],
  ['fd_close', '(param i32) (result i32)'],
  ['proc_exit', '(param i32)'],
].map(([n, sig]) => `(import "wasi_snapshot_preview1" "${n}" (func $${n} ${sig}))`).join('\n  ');

const op = (name: ProbeOp) => PROBE_OPS[name].charCodeAt(0);

// Memory layout: 0..64 iovecs and result slots, 64..80 digits, 100..400 texts, 1024 argv pointers, 2048 argv and
// environ strings (up to 6 KiB), 8192 read buffer, 16000 plant/peek,
// 65536.. the flood buffer (second page).
export const PROBE_WAT = `(module
  ${IMPORTS}
  (type $v2i (func (result i32)))
  (type $i2i (func (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $planted (mut i64) (i64.const 0))
  (table 4 funcref)
  (elem (i32.const 0) $seven $twice)
  (data (i32.const 100) "errno ")
  (data (i32.const 110) "created\\n")
  (data (i32.const 120) "open ")
  (data (i32.const 130) "opened ")
  (data (i32.const 140) "capped ")
  (data (i32.const 150) "refused\\n")
  (data (i32.const 160) "granted\\n")
  (data (i32.const 170) "\\n")
  (data (i32.const 180) "x")
  (data (i32.const 190) "unknown op\\n")
  (data (i32.const 210) "survived\\n")
  (data (i32.const 220) ".")
  (func $seven (result i32) (i32.const 7))
  (func $twice (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $out (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr)) (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func $print (param $ptr i32) (param $len i32) (drop (call $out (i32.const 1) (local.get $ptr) (local.get $len))))
  ;; unsigned decimal, then a newline
  (func $num (param $n i32) (local $p i32)
    (local.set $p (i32.const 79))
    (i32.store8 (i32.const 79) (i32.const 10))
    (loop $d
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $d (local.get $n)))
    (call $print (local.get $p) (i32.sub (i32.const 80) (local.get $p))))
  (func $errno (param $e i32) (call $print (i32.const 100) (i32.const 6)) (call $num (local.get $e)))
  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $n))
  ;; argv[i], or 0 past the end
  (func $arg (param $i i32) (result i32)
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $args_get (i32.const 1024) (i32.const 2048)))
    (if (result i32) (i32.lt_u (local.get $i) (i32.load (i32.const 16)))
      (then (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
      (else (i32.const 0))))
  ;; path_open relative to fd 3; the new fd lands at 24; returns errno
  (func $open (param $path i32) (param $oflags i32) (param $rights i64) (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (local.get $path) (call $strlen (local.get $path))
      (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 24)))
  (func $read (param $path i32) (local $e i32)
    (local.set $e (call $open (local.get $path) (i32.const 0) (i64.const 2)))
    (if (local.get $e) (then (call $errno (local.get $e)) (call $proc_exit (i32.const 1))))
    (i32.store (i32.const 32) (i32.const 8192)) (i32.store (i32.const 36) (i32.const 4096))
    (local.set $e (call $fd_read (i32.load (i32.const 24)) (i32.const 32) (i32.const 1) (i32.const 40)))
    (if (local.get $e) (then (call $errno (local.get $e)) (call $proc_exit (i32.const 1))))
    (call $print (i32.const 8192) (i32.load (i32.const 40))))
  (func $create (param $path i32) (local $e i32)
    ;; O_CREAT|O_TRUNC, rights fd_write (64)
    (local.set $e (call $open (local.get $path) (i32.const 9) (i64.const 64)))
    (if (local.get $e) (then (call $errno (local.get $e)) (call $proc_exit (i32.const 1))))
    (drop (call $out (i32.load (i32.const 24)) (i32.const 180) (i32.const 1)))
    (call $print (i32.const 110) (i32.const 8)))
  (func $env (local $i i32) (local $p i32)
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (drop (call $environ_get (i32.const 1024) (i32.const 2048)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 16))))
      (local.set $p (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
      (call $print (local.get $p) (call $strlen (local.get $p)))
      (call $print (i32.const 170) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
  (func $fds (local $fd i32) (local $e i32)
    (local.set $fd (i32.const 3))
    (loop $l
      (local.set $e (call $out (local.get $fd) (i32.const 180) (i32.const 1)))
      (if (i32.ne (local.get $e) (i32.const 8)) (then (call $print (i32.const 120) (i32.const 5)) (call $num (local.get $fd))))
      (i32.store (i32.const 32) (i32.const 8192)) (i32.store (i32.const 36) (i32.const 16))
      (local.set $e (call $fd_read (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 40)))
      (if (i32.ne (local.get $e) (i32.const 8)) (then (call $print (i32.const 120) (i32.const 5)) (call $num (local.get $fd))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $fd) (i32.const 64)))))
  (func $fdFlood (local $n i32) (local $e i32)
    (i32.store16 (i32.const 222) (i32.const 0))
    (block $done (loop $l
      ;; O_DIRECTORY, no rights needed to keep it open
      (local.set $e (call $open (i32.const 220) (i32.const 2) (i64.const 0)))
      (br_if $done (local.get $e))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 100000)))))
    (call $print (i32.const 130) (i32.const 7)) (call $num (local.get $n))
    (call $errno (local.get $e)))
  (func $pointers
    ;; the iovec array itself outside memory
    (call $errno (call $fd_write (i32.const 1) (i32.const 0xfffffff0) (i32.const 1) (i32.const 8)))
    ;; an iovec whose buffer runs past the end
    (i32.store (i32.const 32) (i32.const 131000)) (i32.store (i32.const 36) (i32.const 0x10000))
    (call $errno (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 8)))
    ;; a huge iovec count
    (call $errno (call $fd_write (i32.const 1) (i32.const 32) (i32.const 0x7fffffff) (i32.const 8)))
    ;; a path outside memory
    (call $errno (call $path_open (i32.const 3) (i32.const 0) (i32.const 0xffffff00) (i32.const 200)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 24)))
    ;; argv written to the last bytes of memory and beyond
    (call $errno (call $args_get (i32.const 131068) (i32.const 131070)))
    (call $print (i32.const 210) (i32.const 9)))
  (func $growLoop
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (call $print (i32.const 140) (i32.const 7)) (call $num (memory.size)))
  (func $growHuge
    (if (i32.eq (memory.grow (i32.const 65535)) (i32.const -1))
      (then (call $print (i32.const 150) (i32.const 8)))
      (else (call $print (i32.const 160) (i32.const 8)))))
  (func $flood (local $i i32)
    (memory.fill (i32.const 65536) (i32.const 120) (i32.const 65536))
    (loop $l
      (drop (call $out (i32.const 1) (i32.const 65536) (i32.const 65536)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 16384)))))
  (func $recurse (param i32) (result i32) (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $last (result i32) (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 2)))
  (func (export "_start") (local $a i32) (local $c i32)
    (local.set $a (call $arg (i32.const 1)))
    (if (i32.eqz (local.get $a)) (then (call $print (i32.const 190) (i32.const 11)) (call $proc_exit (i32.const 2))))
    (local.set $c (i32.load8_u (local.get $a)))
    (local.set $a (call $arg (i32.const 2)))
    (block $end
      (if (i32.eq (local.get $c) (i32.const ${op('read')})) (then (call $read (local.get $a)) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('create')})) (then (call $create (local.get $a)) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('env')})) (then (call $env) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('fds')})) (then (call $fds) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('fdFlood')})) (then (call $fdFlood) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('pointers')})) (then (call $pointers) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('growLoop')})) (then (call $growLoop) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('growHuge')})) (then (call $growHuge) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('flood')})) (then (call $flood) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('spin')})) (then (loop $l (br $l))))
      (if (i32.eq (local.get $c) (i32.const ${op('recurse')})) (then (drop (call $recurse (i32.const 0))) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('loadPastEnd')})) (then (drop (i32.load (call $last))) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('storePastEnd')})) (then (i64.store (i32.const 0x7ffffff0) (i64.const 1)) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('offsetWrap')})) (then (drop (i32.load offset=0xffffffff (i32.const 2))) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('fillPastEnd')})) (then (memory.fill (i32.const 65536) (i32.const 0) (i32.const 0x20000)) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('indirectMismatch')})) (then (drop (call_indirect (type $v2i) (i32.const 1))) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('indirectPastTable')})) (then (drop (call_indirect (type $v2i) (i32.const 100))) (br $end)))
      (if (i32.eq (local.get $c) (i32.const ${op('indirectNull')})) (then (drop (call_indirect (type $v2i) (i32.const 3))) (br $end)))
      (call $print (i32.const 190) (i32.const 11))
      (call $proc_exit (i32.const 2))))
  ;; residue between calls: plant leaves a value in memory and a global, peek reports both
  (func (export "plant") (param i64) (i64.store (i32.const 16000) (local.get 0)) (global.set $planted (local.get 0)))
  (func (export "peek") (result i64 i64) (i64.load (i32.const 16000)) (global.get $planted)))
`;
