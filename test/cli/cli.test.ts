/**
 * The CLI end to end: the real bin run as a child process on the default backend selection, real files, real
 * runtimes. Backend-specific behaviour is tested in each backend's own folder; this file covers what the CLI adds:
 * argument parsing, exit codes, streaming, JSON output, errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, tempHome } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'ak-cli-'));
const hello = join(work, 'hello.wat');
writeFileSync(hello, `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wasm\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 7)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "big") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 2))))`);

test('--help lists the commands and exit codes', async () => {
  const r = await cli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['run', 'run-code', 'create', 'exec', 'list', 'cp', 'status']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  assert.match(r.stdout, /124 timeout/);
});

test('run --wasm: guest output and exit code pass through', async () => {
  const r = await cli(['run', '--wasm', hello]);
  assert.equal(r.stdout, 'hello from wasm\n');
  assert.equal(r.code, 7);
});

test('run --wasm --invoke: arguments parsed by the signature, results one per line', async () => {
  const r = await cli(['run', '--wasm', hello, '--invoke', 'add', '--', '40', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '42\n');
  const big = await cli(['run', '--wasm', hello, '--invoke', 'big', '--', '4611686018427387904']);
  assert.equal(big.stdout, '-9223372036854775808\n', 'i64 wraps like Wasm and keeps full precision');
  const bad = await cli(['run', '--wasm', hello, '--invoke', 'add', '--', '1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /add\(i32, i32\) -> i32/);
});

test('run-code: javascript and python, exceptions exit 1 with a traceback', async () => {
  const js = await cli(['run-code', 'javascript', 'console.log(1+1)']);
  assert.equal(js.stdout, '2\n');
  assert.equal(js.code, 0);
  const py = await cli(['run-code', 'python', 'print(1+1)']);
  assert.equal(py.stdout, '2\n', py.stderr);
  const exc = await cli(['run-code', 'python', 'def f():\n    raise ValueError("boom")\nf()']);
  assert.equal(exc.code, 1);
  assert.match(exc.stderr, /Traceback[\s\S]*ValueError: boom/);
  const fromStdin = await cli(['run-code', 'js', '-'], { stdin: 'console.log("from stdin")' });
  assert.equal(fromStdin.stdout, 'from stdin\n');
});

test('--json prints the whole result', async () => {
  const r = await cli(['run-code', 'javascript', 'console.error("e"); console.log("o")', '--json']);
  const j = JSON.parse(r.stdout);
  assert.equal(j.stdout, 'o\n');
  assert.equal(j.stderr, 'e\n');
  assert.equal(j.exitCode, 0);
  assert.equal(typeof j.durationMs, 'number');
  assert.ok(j.backend);
});

test('timeouts end the run with exit code 124', async () => {
  const r = await cli(['run-code', 'javascript', 'while (true) {}', '--timeout', '500']);
  assert.equal(r.code, 124);
  assert.match(r.stderr, /timed out/);
});

test('bad input: clear errors and usage exit codes, nothing runs', async () => {
  const lang = await cli(['run-code', 'cobol', 'DISPLAY 1']);
  assert.equal(lang.code, 2);
  assert.match(lang.stderr, /cobol/);
  const bad = join(work, 'bad.wasm');
  writeFileSync(bad, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff, 0xff]));
  const mal = await cli(['run', '--wasm', bad]);
  assert.equal(mal.code, 2);
  assert.match(mal.stderr, /error/i);
  const prof = await cli(['run-code', 'js', '1', '--profile', 'paranoid']);
  assert.equal(prof.code, 2);
  assert.match(prof.stderr, /unknown security profile 'paranoid'/);
  const cfgDir = mkdtempSync(join(tmpdir(), 'ak-cfg-'));
  writeFileSync(join(cfgDir, 'agentkernel.toml'), '[security]\nnetwrok = false\n');
  const cfg = await cli(['run-code', 'js', '1'], { cwd: cfgDir });
  assert.equal(cfg.code, 2);
  assert.match(cfg.stderr, /security\.netwrok/);
  const missing = await cli(['run', '--wasm', join(work, 'nope.wasm')]);
  assert.equal(missing.code, 4);
  const backend = await cli(['run-code', 'js', '1', '-B', 'vmware']);
  assert.equal(backend.code, 2);
  assert.match(backend.stderr, /unknown backend 'vmware'/);
});

test('status lists every backend with a reason when unavailable', async () => {
  const r = await cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const names = j.backends.map((b: { name: string }) => b.name);
  for (const n of ['hyperlight', 'wasm', 'docker', 'podman', 'firecracker', 'qemu', 'apple']) assert.ok(names.includes(n), n);
  for (const b of j.backends) if (!b.available) assert.ok(b.reason, `${b.name} must say why it is unavailable`);
  assert.ok(j.backends.find((b: { name: string }) => b.name === 'wasm').available);
});

test('persistent sandbox on the wasm backend: create, exec, cp, list, stop, remove across processes', async () => {
  const home = tempHome();
  const c = await cli(['create', 'box1', '-B', 'wasm'], { home });
  assert.equal(c.code, 0, c.stderr);
  const w = await cli(['exec', 'box1', '--', 'sh', '-c', 'echo persisted > /workspace/note.txt'], { home });
  assert.equal(w.code, 0, w.stderr);
  const r = await cli(['exec', 'box1', '--', 'python3', '-c', 'print(open("/workspace/note.txt").read().strip())'], { home });
  assert.equal(r.stdout, 'persisted\n', r.stderr);
  const out = mkdtempSync(join(tmpdir(), 'ak-cp-'));
  const cp = await cli(['cp', 'box1:/workspace/note.txt', out], { home });
  assert.equal(cp.code, 0, cp.stderr);
  const l = await cli(['list', '--json'], { home });
  assert.equal(JSON.parse(l.stdout)[0].name, 'box1');
  const dup = await cli(['create', 'box1', '-B', 'wasm'], { home });
  assert.equal(dup.code, 5);
  const bad = await cli(['create', '../evil', '-B', 'wasm'], { home });
  assert.equal(bad.code, 2);
  assert.equal((await cli(['stop', 'box1'], { home })).code, 0);
  const stopped = await cli(['exec', 'box1', '--', 'sh', '-c', 'true'], { home });
  assert.equal(stopped.code, 5);
  assert.equal((await cli(['remove', 'box1'], { home })).code, 0);
  const gone = await cli(['exec', 'box1', '--', 'sh', '-c', 'true'], { home });
  assert.equal(gone.code, 4);
});

// setup builds what is missing: minutes when the micro-VM guests are not built yet (`.ci/run` runs it first)
test('setup prepares the embedded default and reports every backend', { timeout: 1_500_000 }, async () => {
  const r = await cli(['setup'], { timeoutMs: 1_200_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[ok {5}\] backend wasm: JavaScript runtime/);
  assert.match(r.stdout, /\[ok {5}\] backend wasm: Python snapshot/);
  for (const n of ['hyperlight', 'wasm', 'docker', 'podman']) assert.match(r.stdout, new RegExp(`\\] backend ${n}\\b`));
});
