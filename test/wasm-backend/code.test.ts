/**
 * JavaScript, Python and shell through the backend: runCode and routed commands (python3 -c, node -e, sh -c,
 * script files inside mounts), env and stdin, exceptions, and what guest code can reach (no network, no host
 * files).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_HOME, tempDir } from './helpers.js';
import { createWasmBackend, type WasmBackend } from '../../src/backends/wasm/index.js';
import { NotFoundError, UnsupportedError, ValidationError } from '../../src/core/errors.js';

let b: WasmBackend;
let server: Server;
let port = 0;
let connections = 0;
before(async () => {
  assert.equal(process.env.AGENTKERNEL_HOME, TEST_HOME);
  b = createWasmBackend();
  // a host service on loopback that guests must not reach
  server = createServer((s) => {
    connections++;
    s.end('host-secret\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  await b.close();
  server.close();
});

test('runCode: JavaScript, Python, shell', async () => {
  const js = await b.runCode('javascript', 'console.log(1 + 1)');
  assert.equal(js.exitCode, 0);
  assert.equal(js.stdout, '2\n');
  const py = await b.runCode('python', 'print(1 + 1)');
  assert.equal(py.exitCode, 0, py.stderr);
  assert.equal(py.stdout, '2\n');
  const sh = await b.runCode('shell', 'echo "$((40 + 2))" | tr 4 X');
  assert.equal(sh.exitCode, 0, sh.stderr);
  assert.equal(sh.stdout, 'X2\n');
});

test('runCode: env and stdin only as passed; exceptions are results', async () => {
  const py = await b.runCode('python', 'import os, sys\nprint(sorted(os.environ.items()))\nprint(sys.stdin.read())', { env: { ONLY: 'this' }, stdin: 'in' });
  assert.equal(py.stdout, "[('ONLY', 'this')]\nin\n");
  const js = await b.runCode('javascript', 'console.log(JSON.stringify(process.env))', { env: { K: 'v' } });
  assert.equal(js.stdout, '{"K":"v"}\n');
  const raise = await b.runCode('python', 'raise ValueError("boom")');
  assert.equal(raise.exitCode, 1);
  assert.equal(raise.error?.name, 'ValueError');
  assert.match(raise.stderr, /ValueError: boom/);
  const thrown = await b.runCode('javascript', 'throw new TypeError("bad")');
  assert.equal(thrown.exitCode, 1);
  assert.equal(thrown.error?.name, 'TypeError');
  await assert.rejects(b.runCode('cobol' as never, 'x'), ValidationError);
});

test('run(argv): python3 -c, node -e, sh -c, with arguments', async () => {
  const py = await b.run(['python3', '-c', 'import sys; print(sys.argv[1:])', 'a', 'b']);
  assert.equal(py.stdout, "['a', 'b']\n");
  const node = await b.run(['node', '-e', 'console.log(6 * 7)']);
  assert.equal(node.stdout, '42\n');
  const sh = await b.run(['sh', '-c', 'echo "$0 $1"; exit 3', 'name', 'arg']);
  assert.equal(sh.stdout, 'name arg\n');
  assert.equal(sh.exitCode, 3);
  await assert.rejects(b.run(['gcc', 'x.c']), UnsupportedError);
});

test('run(argv): script files are read from the mounts, writes land in rw mounts', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'hello.py'), 'import sys\nprint("py", sys.argv[1])\nopen("/w/out.txt", "w").write("from python")\n');
  writeFileSync(join(dir, 'hello.js'), 'console.log("js", process.argv.slice(2).join(","))\n');
  writeFileSync(join(dir, 'hello.sh'), 'echo "sh $1"\n');
  const mounts = [{ hostPath: dir, guestPath: '/w', readOnly: false }];
  const py = await b.run(['python3', '/w/hello.py', 'x'], { mounts });
  assert.equal(py.stdout, 'py x\n', py.stderr);
  assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), 'from python');
  assert.equal((await b.run(['node', 'hello.js', '1', '2'], { mounts, cwd: '/w' })).stdout, 'js 1,2\n');
  assert.equal((await b.run(['bash', '/w/hello.sh', 'z'], { mounts })).stdout, 'sh z\n');
  await assert.rejects(b.run(['python3', '/nowhere/x.py'], { mounts }), NotFoundError);
  const ro = [{ hostPath: dir, guestPath: '/w', readOnly: true }];
  const denied = await b.run(['python3', '-c', 'open("/w/other.txt", "w").write("x")'], { mounts: ro });
  assert.notEqual(denied.exitCode, 0, 'read-only mount refuses writes');
});

test('guest code reaches no network', async () => {
  const py = await b.runCode('python', `import socket\ns = socket.create_connection(("127.0.0.1", ${port}), timeout=2)\nprint(s.recv(100))`);
  assert.notEqual(py.exitCode, 0);
  assert.ok(!py.stdout.includes('host-secret'));
  const js = await b.runCode('javascript', `fetch("http://127.0.0.1:${port}/").then(r => r.text()).then(console.log)`);
  assert.notEqual(js.exitCode, 0);
  assert.ok(!js.stdout.includes('host-secret'));
  const sh = await b.runCode('shell', `curl -s http://127.0.0.1:${port}/ || echo refused`);
  assert.ok(!sh.stdout.includes('host-secret'));
  assert.equal(connections, 0, 'no guest connected to the host service');
});

test('guest code sees no host files', async () => {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n')[0];
  const py = await b.runCode('python', 'print(open("/etc/passwd").read())');
  assert.ok(!py.stdout.includes(passwd), 'python read the host /etc/passwd');
  const sh = await b.runCode('shell', 'cat /etc/passwd; ls /');
  assert.ok(!sh.stdout.includes(passwd), 'shell read the host /etc/passwd');
});

test('a guest cannot turn an interpreter bridge into code running as the worker', async () => {
  const py = await b.runCode('python', 'import js\nprint(js.constructor.constructor("return typeof process")())');
  assert.notEqual(py.exitCode, 0);
  assert.match(py.stderr, /Code generation from strings disallowed/);
});
