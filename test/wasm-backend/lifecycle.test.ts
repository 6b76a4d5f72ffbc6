/**
 * Persistent wasm sandboxes across two backend instances (as two CLI processes would be): create, exec in
 * /workspace, files, stop/start, remove, and strict path validation of the file operations.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_HOME, tempDir, uniqueName } from './helpers.js';
import { createWasmBackend, type WasmBackend } from '../../src/backends/wasm/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../../src/core/errors.js';
import { dir } from '../../src/core/paths.js';

let one: WasmBackend;
let two: WasmBackend;
before(() => {
  assert.equal(process.env.AGENTKERNEL_HOME, TEST_HOME);
  // no pre-forked base workers: these tests only run in sandboxes
  one = createWasmBackend({ poolSize: 0 });
  two = createWasmBackend({ poolSize: 0 });
});
after(async () => {
  await one.close();
  await two.close();
});

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

test('create, exec, files, stop/start, remove across two backend instances', async () => {
  const name = uniqueName('life');
  const info = await one.create({ name, env: { FROM_SPEC: 'yes' } });
  assert.equal(info.backend, 'wasm');
  assert.equal(info.status, 'running');
  await assert.rejects(two.create({ name }), ConflictError);
  assert.ok((await two.list()).some((s) => s.name === name));

  await one.writeFile(name, '/workspace/hello.py', 'import os\nprint("hi", os.environ["FROM_SPEC"], os.getcwd())\n');
  const py = await two.exec(name, ['python3', 'hello.py']);
  assert.equal(py.exitCode, 0, py.stderr);
  assert.equal(py.stdout, 'hi yes /workspace\n');

  const sh = await two.exec(name, ['sh', '-c', 'mkdir -p sub && echo made > sub/out.txt && ls']);
  assert.equal(sh.exitCode, 0, sh.stderr);
  assert.equal(text(await one.readFile(name, 'sub/out.txt')), 'made\n');
  const js = await one.exec(name, ['node', '-e', 'console.log("js", process.env.X)'], { env: { X: '1' } });
  assert.equal(js.stdout, 'js 1\n');

  const entries = await one.listFiles(name, '/workspace');
  assert.deepEqual(entries.map((e) => `${e.name}:${e.type}`), ['hello.py:file', 'sub:dir']);
  await two.removeFile(name, 'sub');
  assert.deepEqual((await one.listFiles(name, '.')).map((e) => e.name), ['hello.py']);
  await assert.rejects(one.readFile(name, 'sub/out.txt'), NotFoundError);

  await one.stop(name);
  await assert.rejects(two.exec(name, ['python3', '-c', 'print(1)']), ConflictError);
  assert.equal(text(await two.readFile(name, 'hello.py')).startsWith('import os'), true, 'files survive stop');
  await two.start(name);
  assert.equal((await one.exec(name, ['python3', '-c', 'print(open("hello.py").read()[:6])'])).stdout, 'import\n');

  await two.remove(name);
  assert.ok(!(await one.list()).some((s) => s.name === name));
  assert.ok(!existsSync(join(dir('state', 'wasm-fs'), name)), 'its directory is gone');
  await assert.rejects(one.exec(name, ['sh', '-c', 'true']), NotFoundError);
});

test('file paths: nothing outside /workspace, no .., no symlinks out', async (t) => {
  const name = uniqueName('paths');
  await one.create({ name });
  t.after(() => one.remove(name));
  const outside = tempDir(t);
  const ws = join(dir('state', 'wasm-fs'), name);

  for (const bad of ['/etc/passwd', '../x', '/workspace/../../etc/passwd', 'a/../../b']) {
    await assert.rejects(one.readFile(name, bad), ValidationError, bad);
    await assert.rejects(one.writeFile(name, bad, 'x'), ValidationError, bad);
  }
  // a link planted on the host side and one planted by guest code
  symlinkSync('/etc', join(ws, 'etc-link'));
  const planted = await one.exec(name, ['python3', '-c', `import os; os.symlink(${JSON.stringify(outside)}, "out")`]);
  assert.equal(planted.exitCode, 0, planted.stderr);
  await assert.rejects(one.readFile(name, 'etc-link/passwd'), ValidationError);
  await assert.rejects(one.writeFile(name, 'out/owned.txt', 'x'), ValidationError);
  await assert.rejects(one.writeFile(name, 'out/new-dir/owned.txt', 'x'), ValidationError);
  assert.ok(!existsSync(join(outside, 'owned.txt')) && !existsSync(join(outside, 'new-dir')), 'nothing was written outside');
  await assert.rejects(one.listFiles(name, 'out'), ValidationError);
  await assert.rejects(one.writeFile(name, 'etc-link', 'x'), ValidationError, 'writing through a symlink itself');
  // removing a link removes the link, not its target
  await one.removeFile(name, 'out');
  assert.ok(existsSync(outside));
  await assert.rejects(one.removeFile(name, '/workspace'), ValidationError);
  await assert.rejects(one.readFile(name, 'missing.txt'), NotFoundError);
  await assert.rejects(one.readFile('no-such-sandbox', 'x'), NotFoundError);
});
