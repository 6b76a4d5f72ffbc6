/**
 * WebAssembly through the backend, in real jailed workers: WASI commands (stdout, env, stdin, args, exit code),
 * invoke, malformed modules, preopened directories and escapes from them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_HOME, tempDir, HELLO, PRINTENV, ECHO_ARGS, EXIT_7, MATH } from './helpers.js';
import { CAT, READFILE, WRITEFILE } from '../wasi/harness.js';
import { createWasmBackend, type WasmBackend } from '../../src/backends/wasm/index.js';
import { NotFoundError, ValidationError } from '../../src/core/errors.js';
import { compileWat } from '../../src/runtimes/wasm/module.js';

let b: WasmBackend;
before(() => {
  assert.equal(process.env.AGENTKERNEL_HOME, TEST_HOME);
  b = createWasmBackend();
});
after(() => b.close());

test('WASI hello: stdout, exit 0, backend and isolation layers reported', async () => {
  const chunks: string[] = [];
  const r = await b.runWasm({ module: HELLO, onStdout: (c) => chunks.push(c) });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'hello\n');
  assert.equal(chunks.join(''), 'hello\n');
  assert.equal(r.backend, 'wasm');
  assert.equal(r.stdoutTruncated, false);
  assert.ok(r.isolation?.layers.includes('wasm'));
  const a = await b.availability();
  assert.equal(a.available, true);
  // every layer is either applied or listed as missing with its reason
  for (const layer of ['namespaces', 'seccomp', 'rlimits']) {
    const applied = r.isolation!.layers.includes(layer);
    const missing = r.isolation!.missing?.find((m) => m.layer === layer);
    assert.ok(applied !== Boolean(missing), `${layer}: applied xor missing`);
    if (missing) assert.ok(missing.reason.length > 0);
  }
});

test('the same module as a binary and from a file', async (t) => {
  const bytes = await compileWat(HELLO);
  const dir = tempDir(t);
  const file = join(dir, 'hello.wasm');
  writeFileSync(file, bytes);
  assert.equal((await b.runWasm({ module: bytes })).stdout, 'hello\n');
  assert.equal((await b.runWasm({ module: file })).stdout, 'hello\n');
});

test('env is exactly what the caller passes', async () => {
  const none = await b.runWasm({ module: PRINTENV });
  assert.equal(none.stdout, '');
  const r = await b.runWasm({ module: PRINTENV, env: { A: '1', GREETING: 'hi there' } });
  assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), ['A=1', 'GREETING=hi there']);
});

test('stdin, args and exit code', async () => {
  assert.equal((await b.runWasm({ module: CAT, stdin: 'piped input\n' })).stdout, 'piped input\n');
  assert.equal((await b.runWasm({ module: CAT, stdin: new Uint8Array([0x61, 0x62]) })).stdout, 'ab');
  const args = await b.runWasm({ module: ECHO_ARGS, args: ['one', 'two words', ''] });
  assert.equal(args.stdout, 'one\ntwo words\n\n');
  const exit = await b.runWasm({ module: EXIT_7 });
  assert.equal(exit.exitCode, 7);
  assert.equal(exit.timedOut, undefined);
});

test('invoke: typed arguments and results, i64 as decimal strings', async () => {
  const r = await b.invoke({ module: MATH, export: 'add', args: [2, '40'] });
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.results, [42]);
  const big = await b.invoke({ module: MATH, export: 'mul64', args: [4294967296n, '3'] });
  assert.deepEqual(big.results, ['12884901888']);
  await assert.rejects(b.invoke({ module: MATH, export: 'nope' }), NotFoundError);
  await assert.rejects(b.invoke({ module: MATH, export: 'add', args: [1] }), ValidationError);
});

test('malformed Wasm is a ValidationError, and the worker is fine afterwards', async () => {
  await assert.rejects(b.runWasm({ module: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff, 0xff]) }), ValidationError);
  await assert.rejects(b.runWasm({ module: '(module (func $f (i32.add)))' }), ValidationError);
  await assert.rejects(b.runWasm({ module: MATH }), ValidationError, 'no _start: not a command');
  assert.equal((await b.runWasm({ module: HELLO })).stdout, 'hello\n');
});

test('preopened directories: read, write (rw only), and no escape', async (t) => {
  const root = tempDir(t);
  const data = join(root, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'in.txt'), 'inside\n');
  writeFileSync(join(root, 'secret.txt'), 'outside\n');
  symlinkSync(join(root, 'secret.txt'), join(data, 'link-out'));
  const ro = [{ hostPath: data, guestPath: '/data', readOnly: true }];
  const rw = [{ hostPath: data, guestPath: '/data', readOnly: false }];

  const read = await b.runWasm({ module: READFILE, args: ['in.txt'], mounts: ro });
  assert.equal(read.exitCode, 0);
  assert.equal(read.stdout, 'inside\n');

  for (const escape of ['../secret.txt', 'link-out', '/etc/passwd', '../../../../etc/passwd']) {
    const r = await b.runWasm({ module: READFILE, args: [escape], mounts: ro });
    assert.notEqual(r.exitCode, 0, `${escape} must not open`);
    assert.ok(!r.stdout.includes('outside') && !r.stdout.includes('root:'), escape);
  }

  const denied = await b.runWasm({ module: WRITEFILE, args: ['new.txt', 'x'], mounts: ro });
  assert.notEqual(denied.exitCode, 0, 'read-only mount');
  const wrote = await b.runWasm({ module: WRITEFILE, args: ['new.txt', 'written'], mounts: rw });
  assert.equal(wrote.exitCode, 0);
  assert.equal(readFileSync(join(data, 'new.txt'), 'utf8'), 'written');
});

test('bad mounts are refused before anything runs', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(b.runWasm({ module: HELLO, mounts: [{ hostPath: 'relative', guestPath: '/x', readOnly: true }] }), ValidationError);
  await assert.rejects(b.runWasm({ module: HELLO, mounts: [{ hostPath: join(dir, 'missing'), guestPath: '/x', readOnly: true }] }), ValidationError);
  await assert.rejects(b.runWasm({ module: HELLO, mounts: [{ hostPath: '/', guestPath: '/', readOnly: true }] }), ValidationError);
  await assert.rejects(b.runWasm({ module: HELLO, timeoutMs: -1 }), ValidationError);
});

test('run(argv) finds a .wasm file inside the mounts only', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'echo.wasm'), await compileWat(ECHO_ARGS));
  const mounts = [{ hostPath: dir, guestPath: '/app', readOnly: true }];
  const r = await b.run(['/app/echo.wasm', 'a', 'b'], { mounts });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'a\nb\n');
  const rel = await b.run(['./echo.wasm', 'c'], { mounts, cwd: '/app' });
  assert.equal(rel.stdout, 'c\n');
  await assert.rejects(b.run(['/elsewhere/echo.wasm'], { mounts }), NotFoundError);
});
