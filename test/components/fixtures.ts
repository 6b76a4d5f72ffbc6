/**
 * Test components written in the component text format (built with wasm-tools' parse in the tests): commands
 * exporting wasi:cli/run@0.2.0 against the real WASI 0.2 interfaces, and a library exporting typed functions.
 */

// WASI 0.2 imports shared by the command components
const io = (lowered: string, hostExports: string): string => `
  (import "wasi:io/error@0.2.0" (instance $io-error (export "error" (type (sub resource)))))
  (alias export $io-error "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer $C $error (type $e))
    (export "error" (type $e2 (eq $e)))
    (export "input-stream" (type $is (sub resource)))
    (export "output-stream" (type $os (sub resource)))
    (type $se (variant (case "last-operation-failed" (own $e2)) (case "closed")))
    (export "stream-error" (type $se2 (eq $se)))
    (export "[method]input-stream.blocking-read" (func (param "self" (borrow $is)) (param "len" u64) (result (result (list u8) (error $se2)))))
    (export "[method]output-stream.blocking-write-and-flush" (func (param "self" (borrow $os)) (param "contents" (list u8)) (result (result (error $se2)))))))
  (alias export $streams "input-stream" (type $input-stream))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/environment@0.2.0" (instance $environment
    (export "get-environment" (func (result (list (tuple string string)))))
    (export "get-arguments" (func (result (list string))))))
  (import "wasi:cli/exit@0.2.0" (instance $exit (export "exit" (func (param "status" (result))))))
  (import "wasi:cli/stdin@0.2.0" (instance $stdin
    (alias outer $C $input-stream (type $is)) (export "input-stream" (type $is2 (eq $is)))
    (export "get-stdin" (func (result (own $is2))))))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer $C $output-stream (type $os)) (export "output-stream" (type $os2 (eq $os)))
    (export "get-stdout" (func (result (own $os2))))))
  (import "wasi:cli/stderr@0.2.0" (instance $stderr
    (alias outer $C $output-stream (type $os)) (export "output-stream" (type $os2 (eq $os)))
    (export "get-stderr" (func (result (own $os2))))))
  (core module $libc
    (memory (export "memory") 2)
    (global $heap (mut i32) (i32.const 65536))
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1))) (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))))))
      (local.get $p)))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "memory" (core memory $mem))
  (alias core export $libc "cabi_realloc" (core func $realloc))
  (alias export $stdout "get-stdout" (func $cget-stdout))
  (core func $get-stdout (canon lower (func $cget-stdout)))
  (alias export $stderr "get-stderr" (func $cget-stderr))
  (core func $get-stderr (canon lower (func $cget-stderr)))
  (alias export $stdin "get-stdin" (func $cget-stdin))
  (core func $get-stdin (canon lower (func $cget-stdin)))
  (alias export $streams "[method]output-stream.blocking-write-and-flush" (func $cwrite))
  (core func $write (canon lower (func $cwrite) (memory $mem)))
  (alias export $streams "[method]input-stream.blocking-read" (func $cread))
  (core func $read (canon lower (func $cread) (memory $mem) (realloc $realloc)))
  (alias export $environment "get-arguments" (func $cget-arguments))
  (core func $get-arguments (canon lower (func $cget-arguments) (memory $mem) (realloc $realloc)))
  (alias export $environment "get-environment" (func $cget-environment))
  (core func $get-environment (canon lower (func $cget-environment) (memory $mem) (realloc $realloc)))
  (alias export $exit "exit" (func $cexit))
  (core func $exit (canon lower (func $cexit)))
  ${lowered}
  (core instance $host
    (export "memory" (memory $mem)) ${hostExports}
    (export "get-stdout" (func $get-stdout)) (export "get-stderr" (func $get-stderr)) (export "get-stdin" (func $get-stdin))
    (export "write" (func $write)) (export "read" (func $read)) (export "exit" (func $exit))
    (export "get-arguments" (func $get-arguments)) (export "get-environment" (func $get-environment)))
`;

const CORE_IMPORTS = `
    (import "host" "memory" (memory 1))
    (import "host" "get-stdout" (func $get-stdout (result i32)))
    (import "host" "get-stderr" (func $get-stderr (result i32)))
    (import "host" "get-stdin" (func $get-stdin (result i32)))
    (import "host" "write" (func $write (param i32 i32 i32 i32)))
    (import "host" "read" (func $read (param i32 i64 i32)))
    (import "host" "exit" (func $exit (param i32)))
    (import "host" "get-arguments" (func $get-arguments (param i32)))
    (import "host" "get-environment" (func $get-environment (param i32)))
`;

/** Writes bytes to a stream handle; the result (at 8) is ignored. */
const PUT = `(func $put (param $h i32) (param $p i32) (param $n i32) (call $write (local.get $h) (local.get $p) (local.get $n) (i32.const 8)))`;

/** A command component: `run` is the body of the core function (it returns 0 for ok). */
export function command(body: string, { data = '', imports = '', extra = '', lowered = '', hostExports = '' } = {}): string {
  return `(component $C
  ${imports}
  ${io(lowered, hostExports)}
  (core module $main
    ${CORE_IMPORTS}
    ${extra}
    ${PUT}
    ${data}
    (func (export "run") (result i32) (local $out i32) (local $err i32) (local $in i32) (local $p i32) (local $n i32) (local $i i32)
      (local.set $out (call $get-stdout)) (local.set $err (call $get-stderr))
      ${body}))
  (core instance $main (instantiate $main (with "host" (instance $host))))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run)))`;
}

/** Prints a greeting, its arguments, its environment and its stdin to stdout, a line to stderr; exit 0. */
export const ECHO = command(`
  (call $put (local.get $out) (i32.const 1024) (i32.const 21))
  ;; arguments: list<string> at 16 (ptr, len), elements (ptr, len)
  (call $get-arguments (i32.const 16))
  (local.set $p (i32.load (i32.const 16))) (local.set $n (i32.load (i32.const 20)))
  (block $done (loop $next
    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
    (call $put (local.get $out) (i32.const 1060) (i32.const 4))
    (call $put (local.get $out) (i32.load (local.get $p)) (i32.load offset=4 (local.get $p)))
    (call $put (local.get $out) (i32.const 1050) (i32.const 1))
    (local.set $p (i32.add (local.get $p) (i32.const 8)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $next)))
  ;; environment: list<tuple<string, string>>, elements (kptr, klen, vptr, vlen)
  (call $get-environment (i32.const 16))
  (local.set $p (i32.load (i32.const 16))) (local.set $n (i32.load (i32.const 20))) (local.set $i (i32.const 0))
  (block $done (loop $next
    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
    (call $put (local.get $out) (i32.const 1070) (i32.const 4))
    (call $put (local.get $out) (i32.load (local.get $p)) (i32.load offset=4 (local.get $p)))
    (call $put (local.get $out) (i32.const 1051) (i32.const 1))
    (call $put (local.get $out) (i32.load offset=8 (local.get $p)) (i32.load offset=12 (local.get $p)))
    (call $put (local.get $out) (i32.const 1050) (i32.const 1))
    (local.set $p (i32.add (local.get $p) (i32.const 16)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $next)))
  ;; stdin: one blocking read; result<list<u8>, stream-error> at 16: tag, then (ptr, len)
  (local.set $in (call $get-stdin))
  (call $read (local.get $in) (i64.const 4096) (i32.const 16))
  (if (i32.eqz (i32.load8_u (i32.const 16))) (then
    (call $put (local.get $out) (i32.const 1080) (i32.const 6))
    (call $put (local.get $out) (i32.load (i32.const 20)) (i32.load (i32.const 24)))))
  (call $put (local.get $err) (i32.const 1090) (i32.const 10))
  (i32.const 0)`, {
  data: `(data (i32.const 1024) "hello from component\\n") (data (i32.const 1050) "\\n=") (data (i32.const 1060) "arg:")
    (data (i32.const 1070) "env:") (data (i32.const 1080) "stdin:") (data (i32.const 1090) "to stderr\\n")`,
});

/** Prints "bye" and exits with exit(err): exit code 1. */
export const EXIT_ERR = command(`
  (call $put (local.get $out) (i32.const 1024) (i32.const 4))
  (call $exit (i32.const 1))
  unreachable`, { data: `(data (i32.const 1024) "bye\\n")` });

/** Never ends. */
export const LOOP = command(`(loop $forever (br $forever)) (i32.const 0)`);

/** Writes 4 KiB (the most one blocking write may take) to stdout 16384 times: 64 MiB. */
export const FLOOD = command(`
  (block $done (loop $next
    (br_if $done (i32.ge_u (local.get $i) (i32.const 16384)))
    (call $put (local.get $out) (i32.const 1024) (i32.const 4096))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $next)))
  (i32.const 0)`, { data: `(data (i32.const 1024) "xxxxxxxxxxxxxxxx")` });

/** Traps (unreachable). */
export const TRAP = command(`unreachable`);

const ERROR_CODES = ['access', 'would-block', 'already', 'bad-descriptor', 'busy', 'deadlock', 'quota', 'exist', 'file-too-large',
  'illegal-byte-sequence', 'in-progress', 'interrupted', 'invalid', 'io', 'is-directory', 'loop', 'too-many-links', 'message-size',
  'name-too-long', 'no-device', 'no-entry', 'no-lock', 'insufficient-memory', 'insufficient-space', 'not-directory', 'not-empty',
  'not-recoverable', 'unsupported', 'no-tty', 'no-such-device', 'overflow', 'not-permitted', 'pipe', 'read-only', 'invalid-seek',
  'text-file-busy', 'cross-device'];

/**
 * Opens "inside.txt", then "../outside.txt", in its first preopen: prints "inside:ok" or "inside:E", then
 * "outside:ok" or "outside:E" (E the error-code's index); with no preopen prints "no-preopens". Exit 0.
 */
export const OPEN_FILES = command(`
  (call $get-dirs (i32.const 16))
  (local.set $n (i32.load (i32.const 20)))
  (if (i32.eqz (local.get $n)) (then (call $put (local.get $out) (i32.const 1100) (i32.const 12)) (return (i32.const 0))))
  (local.set $p (i32.load (i32.load (i32.const 16))))
  (call $open (local.get $p) (i32.const 0) (i32.const 1024) (i32.const 10) (i32.const 0) (i32.const 1) (i32.const 32))
  (call $report (local.get $out) (i32.const 1040) (i32.const 7))
  (call $open (local.get $p) (i32.const 0) (i32.const 1060) (i32.const 14) (i32.const 0) (i32.const 1) (i32.const 32))
  (call $report (local.get $out) (i32.const 1080) (i32.const 8))
  (i32.const 0)`, {
  data: `(data (i32.const 1024) "inside.txt") (data (i32.const 1040) "inside:") (data (i32.const 1060) "../outside.txt")
    (data (i32.const 1080) "outside:") (data (i32.const 1100) "no-preopens\\n") (data (i32.const 1120) "ok") (data (i32.const 1124) "\\n")`,
  lowered: `(alias export $preopens "get-directories" (func $cget-dirs))
    (core func $get-dirs (canon lower (func $cget-dirs) (memory $mem) (realloc $realloc)))
    (alias export $types "[method]descriptor.open-at" (func $copen))
    (core func $open (canon lower (func $copen) (memory $mem) (realloc $realloc)))`,
  hostExports: `(export "get-dirs" (func $get-dirs)) (export "open" (func $open))`,
  extra: `
    (import "host" "get-dirs" (func $get-dirs (param i32)))
    (import "host" "open" (func $open (param i32 i32 i32 i32 i32 i32 i32)))
    ;; prints the label, then "ok" or the error-code index (two digits) of the result at 32
    (func $report (param $h i32) (param $l i32) (param $ln i32)
      (call $put (local.get $h) (local.get $l) (local.get $ln))
      (if (i32.eqz (i32.load8_u (i32.const 32)))
        (then (call $put (local.get $h) (i32.const 1120) (i32.const 2)))
        (else
          (i32.store8 (i32.const 48) (i32.add (i32.const 48) (i32.div_u (i32.load8_u (i32.const 36)) (i32.const 10))))
          (i32.store8 (i32.const 49) (i32.add (i32.const 48) (i32.rem_u (i32.load8_u (i32.const 36)) (i32.const 10))))
          (call $put (local.get $h) (i32.const 48) (i32.const 2))))
      (call $put (local.get $h) (i32.const 1124) (i32.const 1)))`,
  imports: `
  (import "wasi:filesystem/types@0.2.0" (instance $types
    (export "descriptor" (type $d (sub resource)))
    (type $ec (enum ${ERROR_CODES.map((c) => `"${c}"`).join(' ')}))
    (export "error-code" (type $ec2 (eq $ec)))
    (type $pf (flags "symlink-follow")) (export "path-flags" (type $pf2 (eq $pf)))
    (type $of (flags "create" "directory" "exclusive" "truncate")) (export "open-flags" (type $of2 (eq $of)))
    (type $df (flags "read" "write" "file-integrity-sync" "data-integrity-sync" "requested-write-sync" "mutate-directory"))
    (export "descriptor-flags" (type $df2 (eq $df)))
    (export "[method]descriptor.open-at" (func (param "self" (borrow $d)) (param "path-flags" $pf2) (param "path" string)
      (param "open-flags" $of2) (param "flags" $df2) (result (result (own $d) (error $ec2)))))))
  (alias export $types "descriptor" (type $descriptor))
  (import "wasi:filesystem/preopens@0.2.0" (instance $preopens
    (alias outer $C $descriptor (type $d)) (export "descriptor" (type $d2 (eq $d)))
    (export "get-directories" (func (result (list (tuple (own $d2) string)))))))`,
});

/** Asks for a TCP socket: prints "socket:ok" or "socket:refused", exit 0. */
export const SOCKET = command(`
  (call $create (i32.const 0) (i32.const 32))
  (if (i32.eqz (i32.load8_u (i32.const 32)))
    (then (call $put (local.get $out) (i32.const 1024) (i32.const 10)))
    (else (call $put (local.get $out) (i32.const 1040) (i32.const 15))))
  (i32.const 0)`, {
  data: `(data (i32.const 1024) "socket:ok\\n") (data (i32.const 1040) "socket:refused\\n")`,
  extra: `(import "host" "create-tcp" (func $create (param i32 i32)))`,
  lowered: `(alias export $tcs "create-tcp-socket" (func $ccreate)) (core func $create-tcp (canon lower (func $ccreate) (memory $mem)))`,
  hostExports: `(export "create-tcp" (func $create-tcp))`,
  imports: `
  (import "wasi:sockets/network@0.2.0" (instance $network
    (export "network" (type (sub resource)))
    (type $ec (enum "unknown" "access-denied" "not-supported" "invalid-argument" "out-of-memory" "timeout" "concurrency-conflict"
      "not-in-progress" "would-block" "invalid-state" "new-socket-limit" "address-not-bindable" "address-in-use" "remote-unreachable"
      "connection-refused" "connection-reset" "connection-aborted" "datagram-too-large" "name-unresolvable"
      "temporary-resolver-failure" "permanent-resolver-failure"))
    (export "error-code" (type $ec2 (eq $ec)))
    (type $af (enum "ipv4" "ipv6")) (export "ip-address-family" (type $af2 (eq $af)))))
  (alias export $network "error-code" (type $net-ec))
  (alias export $network "ip-address-family" (type $net-af))
  (import "wasi:sockets/tcp@0.2.0" (instance $tcp (export "tcp-socket" (type (sub resource)))))
  (alias export $tcp "tcp-socket" (type $tcp-socket))
  (import "wasi:sockets/tcp-create-socket@0.2.0" (instance $tcs
    (alias outer $C $net-ec (type $ec)) (export "error-code" (type $ec2 (eq $ec)))
    (alias outer $C $net-af (type $af)) (export "ip-address-family" (type $af2 (eq $af)))
    (alias outer $C $tcp-socket (type $ts)) (export "tcp-socket" (type $ts2 (eq $ts)))
    (export "create-tcp-socket" (func (param "address-family" $af2) (result (result (own $ts2) (error $ec2)))))))`,
});

/** The core module behind LIBRARY and INTERFACE_EXPORTS: add, greet, sum-bytes, swap, area, checked-div, big. */
const LIBRARY_CORE = `
  (core module $m
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 8192))
    (data (i32.const 1024) "hello, ") (data (i32.const 1040) "division by zero")
    (func $alloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "greet") (param $p i32) (param $n i32) (result i32) (local $o i32)
      (local.set $o (call $alloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $n) (i32.const 7))))
      (memory.copy (local.get $o) (i32.const 1024) (i32.const 7))
      (memory.copy (i32.add (local.get $o) (i32.const 7)) (local.get $p) (local.get $n))
      (i32.store (i32.const 16) (local.get $o)) (i32.store (i32.const 20) (i32.add (local.get $n) (i32.const 7)))
      (i32.const 16))
    (func (export "sum-bytes") (param $p i32) (param $n i32) (result i32) (local $s i32) (local $i i32)
      (block $d (loop $l (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
      (local.get $s))
    (func (export "swap") (param i32 i32) (result i32)
      (i32.store (i32.const 16) (local.get 1)) (i32.store (i32.const 20) (local.get 0)) (i32.const 16))
    ;; shape: 0 circle(r) -> 3*r*r, 1 square(s) -> s*s, 2 none -> none
    (func (export "area") (param $tag i32) (param $v i32) (result i32)
      (if (i32.eq (local.get $tag) (i32.const 2)) (then (i32.store8 (i32.const 16) (i32.const 0)) (return (i32.const 16))))
      (i32.store8 (i32.const 16) (i32.const 1))
      (i32.store (i32.const 20) (i32.mul (i32.mul (local.get $v) (local.get $v)) (select (i32.const 3) (i32.const 1) (i32.eqz (local.get $tag)))))
      (i32.const 16))
    (func (export "checked-div") (param $a i32) (param $b i32) (result i32)
      (if (i32.eqz (local.get $b)) (then
        (i32.store8 (i32.const 16) (i32.const 1)) (i32.store (i32.const 20) (i32.const 1040)) (i32.store (i32.const 24) (i32.const 16))
        (return (i32.const 16))))
      (i32.store8 (i32.const 16) (i32.const 0)) (i32.store (i32.const 20) (i32.div_u (local.get $a) (local.get $b)))
      (i32.const 16))
    (func (export "big") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 2))))
`;

/** Typed functions in an exported interface `api` (and `add` at world level too). */
export const LIBRARY = `(component
  ${LIBRARY_CORE}
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $mem))
  (alias core export $i "cabi_realloc" (core func $realloc))
  (type $point' (record (field "x" s32) (field "y" s32)))

  (type $shape' (variant (case "circle" u32) (case "square" u32) (case "none")))

  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (func $greet (param "name" string) (result string) (canon lift (core func $i "greet") (memory $mem) (realloc $realloc)))
  (func $sum-bytes (param "data" (list u8)) (result u32) (canon lift (core func $i "sum-bytes") (memory $mem) (realloc $realloc)))
  (func $swap (param "p" $point') (result $point') (canon lift (core func $i "swap") (memory $mem)))
  (func $area (param "s" $shape') (result (option u32)) (canon lift (core func $i "area") (memory $mem)))
  (func $checked-div (param "a" u32) (param "b" u32) (result (result u32 (error string))) (canon lift (core func $i "checked-div") (memory $mem) (realloc $realloc)))
  (func $big (param "v" u64) (result u64) (canon lift (core func $i "big")))
  (instance $api
    (export "point" (type $point')) (export "shape" (type $shape'))
    (export "add" (func $add)) (export "greet" (func $greet)) (export "sum-bytes" (func $sum-bytes))
    (export "swap" (func $swap)) (export "area" (func $area)) (export "checked-div" (func $checked-div)) (export "big" (func $big)))
  (export "api" (instance $api)) (export "add" (func $add)))`;

/** Grows its memory until it cannot (memory.grow answers -1), then gives up like an allocator does: unreachable. */
export const MEMORY_HOG = command(`
  (loop $more (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
  unreachable`);

/** Returns err from wasi:cli/run without calling exit: exit code 1. */
export const RUN_ERR = command(`(i32.const 1)`);

/**
 * Interfaces of other packages, the shape cargo-component and jco componentize build: `example:math/calc@1.0.0`
 * (add, swap of a record, sum-bytes, checked-div, big, and `hold`, which takes a resource), and
 * `example:text/words@0.2.0` (greet, and an `add` of its own).
 */
export const INTERFACE_EXPORTS = `(component
  ${LIBRARY_CORE}
  (core instance $i (instantiate $m))
  (core module $n (func (export "hold") (param i32)))
  (core instance $j (instantiate $n))
  (alias core export $i "memory" (core memory $mem))
  (alias core export $i "cabi_realloc" (core func $realloc))
  (type $point' (record (field "x" s32) (field "y" s32)))
  (type $handle' (resource (rep i32)))
  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (func $swap (param "p" $point') (result $point') (canon lift (core func $i "swap") (memory $mem)))
  (func $sum-bytes (param "data" (list u8)) (result u32) (canon lift (core func $i "sum-bytes") (memory $mem) (realloc $realloc)))
  (func $checked-div (param "a" u32) (param "b" u32) (result (result u32 (error string))) (canon lift (core func $i "checked-div") (memory $mem) (realloc $realloc)))
  (func $big (param "v" u64) (result u64) (canon lift (core func $i "big")))
  (func $hold (param "h" (own $handle')) (canon lift (core func $j "hold")))
  (func $greet (param "name" string) (result string) (canon lift (core func $i "greet") (memory $mem) (realloc $realloc)))
  (instance $calc
    (export "point" (type $point')) (export "handle" (type $handle'))
    (export "add" (func $add)) (export "swap" (func $swap)) (export "sum-bytes" (func $sum-bytes))
    (export "checked-div" (func $checked-div)) (export "big" (func $big)) (export "hold" (func $hold)))
  (export "example:math/calc@1.0.0" (instance $calc))
  (instance $words (export "greet" (func $greet)) (export "add" (func $add)))
  (export "example:text/words@0.2.0" (instance $words)))`;

/**
 * An exported interface whose record comes from an imported one (what a WIT `use types.{point}` builds): the
 * import carries only the type, so it needs nothing from the host.
 */
export const IMPORTED_TYPES = `(component
  (type $pt (record (field "x" s32) (field "y" s32)))
  (import "example:math/types@1.0.0" (instance $types (export "point" (type (eq $pt)))))
  (alias export $types "point" (type $point))
  ${LIBRARY_CORE}
  (core instance $i (instantiate $m))
  (alias core export $i "memory" (core memory $mem))
  (func $swap (param "p" $point) (result $point) (canon lift (core func $i "swap") (memory $mem)))
  (instance $geometry (export "swap" (func $swap)))
  (export "example:math/geometry@1.0.0" (instance $geometry)))`;
