/**
 * Shared pieces of the wasm backend tests: one home directory for all of them (so the Pyodide snapshot is made
 * once, not per file), WAT programs, and a way to run a probe script inside the real jail.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Mount } from '../../src/core/types.js';
import { Jail, SECCOMP_FD } from '../../src/backends/wasm/jail/index.js';
import { packageBinds } from '../../src/backends/wasm/launch.js';
import { program } from '../wasi/harness.js';

// before any backend reads paths: state and cache of these tests live here, never in the user's home
export const TEST_HOME = join(tmpdir(), 'agentkernel-wasm-backend-tests');
mkdirSync(TEST_HOME, { recursive: true });
process.env.AGENTKERNEL_HOME = TEST_HOME;

export function tempDir(t: { after(fn: () => void): void }, prefix = 'ak-wasmb-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

const WASI = (name: string, params: string, result = '(result i32)'): string =>
  `(import "wasi_snapshot_preview1" "${name}" (func $${name} ${params} ${result}))`;

export const HELLO = `(module
  ${WASI('fd_write', '(param i32 i32 i32 i32)')}
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

/** Prints each environment string (NAME=value) on its own line. */
export const PRINTENV = `(module
  ${WASI('environ_sizes_get', '(param i32 i32)')}
  ${WASI('environ_get', '(param i32 i32)')}
  ${WASI('fd_write', '(param i32 i32 i32 i32)')}
  (memory (export "memory") 1)
  (data (i32.const 8) "\\n")
  (func (export "_start") (local $i i32) (local $p i32) (local $n i32)
    (drop (call $environ_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $environ_get (i32.const 1024) (i32.const 4096)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 0))))
      (local.set $p (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $n (i32.const 0))
      (block $end (loop $len
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $len)))
      (i32.store (i32.const 16) (local.get $p)) (i32.store (i32.const 20) (local.get $n))
      (i32.store (i32.const 24) (i32.const 8)) (i32.store (i32.const 28) (i32.const 1))
      (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 2) (i32.const 32)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))))`;

/** Prints argv[1..], one per line. */
export const ECHO_ARGS = program(`
  (data (i32.const 100) "\\n")
  (func (export "_start") (local $i i32) (local $p i32)
    (local.set $i (i32.const 1))
    (drop (call $arg (i32.const 0)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 0))))
      (local.set $p (call $arg (local.get $i)))
      (call $write (i32.const 1) (local.get $p) (call $strlen (local.get $p)))
      (call $write (i32.const 1) (i32.const 100) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))`);

export const EXIT_7 = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 7))))`;

export const MATH = `(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "mul64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1))))`;

/** Writes "early" then spins: what reaches the host came while the guest was still running. */
export const EARLY_THEN_SPIN = `(module
  ${WASI('fd_write', '(param i32 i32 i32 i32)')}
  (memory (export "memory") 1)
  (data (i32.const 16) "early\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $l (br $l))))`;

export const SPIN = `(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))`;

/** Grows memory one page at a time until refused, then traps. */
export const GROW_BOMB = `(module (memory (export "memory") 1)
  (func (export "_start")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))`;

/** Writes 64 KiB to stdout 16384 times: 1 GiB. */
export const FLOOD_1G = `(module
  ${WASI('fd_write', '(param i32 i32 i32 i32)')}
  (memory (export "memory") 2)
  (func (export "_start") (local $i i32)
    (memory.fill (i32.const 65536) (i32.const 120) (i32.const 65536))
    (i32.store (i32.const 0) (i32.const 65536)) (i32.store (i32.const 4) (i32.const 65536))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 16384))))))`;

/**
 * Run `code` (CommonJS, `node -e`) inside the same jail as the workers, with the same binds; it reports with
 * process.send(value), which this resolves with.
 */
export async function inJail(code: string, opts: { mounts?: Mount[]; timeoutMs?: number } = {}): Promise<unknown> {
  const jail = new Jail();
  const cmd = await jail.command({
    script: '-e',
    scriptArgs: [code],
    nodeFlags: [],
    readOnly: packageBinds(),
    mounts: opts.mounts ?? [],
    name: uniqueName('probe'),
  });
  const child = spawn(cmd.file, cmd.args, {
    env: cmd.env,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc', cmd.seccomp ? 'pipe' : 'ignore'],
    serialization: 'advanced',
    detached: true,
  });
  if (cmd.seccomp) (child.stdio[SECCOMP_FD] as Writable).end(cmd.seccomp);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`jail probe timed out; stderr: ${stderr}`)), opts.timeoutMs ?? 20_000);
      child.on('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.on('exit', (c, s) => {
        clearTimeout(timer);
        reject(new Error(`jail probe exited (${c ?? s}) without answering; stderr: ${stderr}`));
      });
    });
  } finally {
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
}
