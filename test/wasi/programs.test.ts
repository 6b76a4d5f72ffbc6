// Real WASI programs (WAT compiled with wabt, run by V8) against the TypeScript WASI implementation.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRNO } from '../../src/runtimes/wasi/constants.js';
import { CAT, READFILE, WRITEFILE, program, runWat, tempDir } from './harness.js';

test('hello world goes to stdout, exit 0', async () => {
  const r = await runWat(program(`
    (data (i32.const 4096) "hello, world\\n")
    (func (export "_start") (call $write (i32.const 1) (i32.const 4096) (i32.const 13)))`));
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'hello, world\n');
  assert.equal(r.stderr, '');
});

test('cat echoes stdin', async () => {
  const input = 'line one\nline two\n'.repeat(500); // larger than the 4 KiB read buffer
  const r = await runWat(CAT, { stdin: input });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, input);
});

test('stderr and proc_exit code', async () => {
  const r = await runWat(program(`
    (data (i32.const 4096) "oops")
    (func (export "_start") (call $write (i32.const 2) (i32.const 4096) (i32.const 4)) (call $proc_exit (i32.const 3)))`));
  assert.equal(r.exitCode, 3);
  assert.equal(r.stderr, 'oops');
});

test('argv reaches the guest, argv[0] is the program name', async () => {
  const r = await runWat(program(`
    (func (export "_start") (local $p i32)
      (local.set $p (call $arg (i32.const 0))) (call $write (i32.const 1) (local.get $p) (call $strlen (local.get $p)))
      (local.set $p (call $arg (i32.const 2))) (call $write (i32.const 1) (local.get $p) (call $strlen (local.get $p))))`), {
    args: ['first', 'sécond'],
  });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'test.wasmsécond');
});

test('reads a file inside a preopen, also through a symlink that stays inside', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'in.txt'), 'inside\n');
  symlinkSync('sub/in.txt', join(dir, 'link'));
  const mounts = [{ hostPath: dir, guestPath: '/data', readOnly: true }];
  assert.deepEqual(await runWat(READFILE, { args: ['sub/in.txt'], mounts }), { exitCode: 0, stdout: 'inside\n', stderr: '' });
  assert.equal((await runWat(READFILE, { args: ['sub/../sub/./in.txt'], mounts })).stdout, 'inside\n');
  assert.equal((await runWat(READFILE, { args: ['link'], mounts })).stdout, 'inside\n');
});

test('escapes are refused with ENOTCAPABLE: ../, absolute paths, symlinks pointing outside', async (t) => {
  const outside = tempDir(t);
  writeFileSync(join(outside, 'secret'), 'secret\n');
  const dir = tempDir(t);
  mkdirSync(join(dir, 'sub'));
  symlinkSync(join(outside, 'secret'), join(dir, 'abs-link'));
  symlinkSync('../' + join('..', outside, 'secret'), join(dir, 'rel-link'));
  symlinkSync('..', join(dir, 'sub', 'up'));
  const mounts = [{ hostPath: join(dir, 'sub'), guestPath: '/data', readOnly: false }];
  const root = [{ hostPath: dir, guestPath: '/data', readOnly: false }];
  for (const [path, m] of [
    ['../abs-link', mounts],
    ['../../../../../../etc/passwd', root],
    ['/etc/passwd', root],
    ['abs-link', root],
    ['rel-link', root],
    ['up/abs-link', mounts],
    ['sub/up/../../x', root],
  ] as const) {
    const r = await runWat(READFILE, { args: [path], mounts: [...m] });
    assert.equal(r.exitCode, ERRNO.NOTCAPABLE, `${path} must be refused`);
    assert.equal(r.stdout, '');
  }
});

test('a read-only mount refuses writes with EROFS and nothing is created', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'existing'), 'keep');
  const ro = [{ hostPath: dir, guestPath: '/ro', readOnly: true }];
  assert.equal((await runWat(WRITEFILE, { args: ['new.txt', 'x'], mounts: ro })).exitCode, ERRNO.ROFS);
  assert.equal(existsSync(join(dir, 'new.txt')), false);
  assert.equal((await runWat(WRITEFILE, { args: ['existing', 'x'], mounts: ro })).exitCode, ERRNO.ROFS);
  assert.equal(readFileSync(join(dir, 'existing'), 'utf8'), 'keep');
});

test('a read-write mount takes writes', async (t) => {
  const dir = tempDir(t);
  const rw = [{ hostPath: dir, guestPath: '/rw', readOnly: false }];
  const r = await runWat(WRITEFILE, { args: ['out.txt', 'written by wasm'], mounts: rw });
  assert.equal(r.exitCode, 0);
  assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), 'written by wasm');
});

test('WASI keeps working after memory.grow replaced the buffer', async () => {
  const r = await runWat(program(`
    (func (export "_start") (local $p i32)
      (drop (memory.grow (i32.const 3)))
      (local.set $p (i32.const 200000)) ;; beyond the first page: only valid after the grow
      (i32.store8 (local.get $p) (i32.const 71)) (i32.store8 (i32.add (local.get $p) (i32.const 1)) (i32.const 10))
      (call $write (i32.const 1) (local.get $p) (i32.const 2)))`));
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'G\n');
});

test('a bad pointer from the guest is EFAULT, not a crash', async () => {
  const r = await runWat(program(`
    (func (export "_start")
      (i32.store (i32.const 32) (i32.const 65000)) (i32.store (i32.const 36) (i32.const 100000))
      (call $proc_exit (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40))))`));
  assert.equal(r.exitCode, ERRNO.FAULT);
});

test('a threads-enabled module (shared linear memory) reads files and random bytes through WASI', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'f'), 'shared memory works\n');
  const r = await runWat(`(module
    (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (memory (export "memory") 1 1 shared)
    (data (i32.const 300) "f")
    (func $check (param $e i32) (if (local.get $e) (then (call $proc_exit (local.get $e)))))
    (func (export "_start")
      (call $check (call $random_get (i32.const 100) (i32.const 16)))
      (call $check (call $path_open (i32.const 3) (i32.const 0) (i32.const 300) (i32.const 1) (i32.const 0)
        (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 8)))
      (i32.store (i32.const 16) (i32.const 1000)) (i32.store (i32.const 20) (i32.const 100))
      (call $check (call $fd_read (i32.load (i32.const 8)) (i32.const 16) (i32.const 1) (i32.const 24)))
      (i32.store (i32.const 20) (i32.load (i32.const 24)))
      (call $check (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))`,
    { mounts: [{ hostPath: dir, guestPath: '/d', readOnly: true }] });
  assert.deepEqual(r, { exitCode: 0, stdout: 'shared memory works\n', stderr: '' });
});
