/** Guest programs shared by the API, MCP and SDK tests and by bench/api.ts (no side effects on import). */

/** A WASI program in text form: `_start` prints "hello from wasm", `add` adds two i32. */
export const HELLO_WAT = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`;
