/** Shared set-up of the hyperlight backend tests: a private AGENTKERNEL_HOME and the skip reason. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HyperlightBackend } from '../../src/backends/hyperlight/backend.js';

process.env.AGENTKERNEL_HOME ??= mkdtempSync(join(tmpdir(), 'ak-hl-backend-'));

/** Why these tests cannot run here, or undefined. */
export async function skipReason(): Promise<string | undefined> {
  const a = await new HyperlightBackend().availability();
  return a.available ? undefined : `hyperlight unavailable: ${a.reason}`;
}

/** A counter in a global and in memory: what a pooled VM must not carry from one call to the next. */
export const COUNTER = `(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "bump") (result i32 i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 10)))
    (global.get $g) (i32.load (i32.const 64)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "square") (param i64) (result i64) (i64.mul (local.get 0) (local.get 0))))`;

export const HELLO = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "nop")))`;
