import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routeCommand, loadRoutedCode, resolveGuestPath, guestCwd } from '../../src/runtimes/command.js';
import { getRuntime, parseLanguage, setRuntime, LANGUAGES } from '../../src/runtimes/index.js';
import { NotFoundError, UnsupportedError, ValidationError } from '../../src/core/errors.js';
import type { RuntimeRequest } from '../../src/runtimes/types.js';

test('router: python forms', () => {
  assert.deepEqual(routeCommand(['python3', '-c', 'print(1)', 'a', 'b']), { kind: 'code', language: 'python', code: 'print(1)', args: ['a', 'b'] });
  assert.deepEqual(routeCommand(['python', '-cprint(2)']), { kind: 'code', language: 'python', code: 'print(2)', args: [] });
  assert.deepEqual(routeCommand(['/usr/bin/python3.12', '-u', '-B', 'x.py', '-c', 'y']), { kind: 'script', language: 'python', path: 'x.py', args: ['-c', 'y'] });
  assert.deepEqual(routeCommand(['python3', '-uc', 'pass']), { kind: 'code', language: 'python', code: 'pass', args: [] });
  assert.deepEqual(routeCommand(['python3', '-W', 'ignore', '-']), { kind: 'script', language: 'python', path: '-', args: [] });
  assert.deepEqual(routeCommand(['python3', '-', 'a']), { kind: 'script', language: 'python', path: '-', args: ['a'] });
  assert.deepEqual(routeCommand(['python3']), { kind: 'script', language: 'python', path: '-', args: [] });
  assert.deepEqual(routeCommand(['python3', '--', '-weird.py', 'x']), { kind: 'script', language: 'python', path: '-weird.py', args: ['x'] });
  const m = routeCommand(['python3', '-m', 'json.tool', 'f.json']);
  assert.equal(m.kind, 'code');
  assert.ok(m.kind === 'code' && m.code.includes('runpy.run_module("json.tool"') && m.args[0] === 'f.json');
  assert.equal(routeCommand(['python3', '-V']).kind, 'code');
  assert.throws(() => routeCommand(['python3', '-c']), (e: unknown) => e instanceof ValidationError && /needs an argument/.test(e.message));
  assert.throws(() => routeCommand(['python3', '-Z']), (e: unknown) => e instanceof ValidationError && /'-Z'/.test(e.message));
});

test('router: node forms', () => {
  assert.deepEqual(routeCommand(['node', '-e', 'console.log(1)', 'x']), { kind: 'code', language: 'javascript', code: 'console.log(1)', args: ['x'] });
  assert.deepEqual(routeCommand(['nodejs', '--eval=1+1']), { kind: 'code', language: 'javascript', code: '1+1', args: [] });
  assert.deepEqual(routeCommand(['node', '--no-warnings', 'app.js', '--port', '1']), { kind: 'script', language: 'javascript', path: 'app.js', args: ['--port', '1'] });
  assert.deepEqual(routeCommand(['node']), { kind: 'script', language: 'javascript', path: '-', args: [] });
  assert.deepEqual(routeCommand(['node', '-', 'a']), { kind: 'script', language: 'javascript', path: '-', args: ['a'] });
  assert.deepEqual(routeCommand(['node', '--', 'x.js']), { kind: 'script', language: 'javascript', path: 'x.js', args: [] });
  const p = routeCommand(['node', '-p', '6*7']);
  assert.ok(p.kind === 'code' && p.code.includes('console.log') && p.code.includes('"6*7"'));
  assert.throws(() => routeCommand(['node', '--require', 'x']), ValidationError);
  assert.throws(() => routeCommand(['node', '-e']), ValidationError);
});

test('router: shell forms', () => {
  assert.deepEqual(routeCommand(['sh', '-c', 'echo $0 $1', 'name', 'one']), { kind: 'code', language: 'shell', code: 'echo $0 $1', args: ['one'], argv0: 'name' });
  assert.deepEqual(routeCommand(['bash', '-c', 'ls']), { kind: 'code', language: 'shell', code: 'ls', args: [], argv0: 'bash' });
  assert.deepEqual(routeCommand(['dash', 'x.sh', 'a']), { kind: 'script', language: 'shell', path: 'x.sh', args: ['a'] });
  assert.deepEqual(routeCommand(['bash']), { kind: 'script', language: 'shell', path: '-', args: [] });
  assert.deepEqual(routeCommand(['sh', '-s', 'a']), { kind: 'script', language: 'shell', path: '-', args: ['a'] });
  assert.deepEqual(routeCommand(['bash', '--', 'x.sh']), { kind: 'script', language: 'shell', path: 'x.sh', args: [] });
  const ec = routeCommand(['bash', '-euo', 'pipefail', '-c', 'true']);
  assert.deepEqual(ec, { kind: 'code', language: 'shell', code: "set -e -u -o 'pipefail'; true", args: [], argv0: 'bash' });
  const es = routeCommand(['bash', '-e', 'x.sh', 'a']);
  assert.deepEqual(es, { kind: 'code', language: 'shell', code: 'set -e; . "$0" "$@"', args: ['a'], argv0: 'x.sh' });
  assert.throws(() => routeCommand(['sh', '-c']), ValidationError);
  assert.throws(() => routeCommand(['sh', '-k']), ValidationError);
});

test('router: .wasm programs and everything else', () => {
  assert.deepEqual(routeCommand(['./prog.wasm', 'a', 'b']), { kind: 'wasm', path: './prog.wasm', args: ['a', 'b'] });
  assert.deepEqual(routeCommand(['/data/x.wasm']), { kind: 'wasm', path: '/data/x.wasm', args: [] });
  assert.throws(
    () => routeCommand(['gcc', 'x.c']),
    (e: unknown) =>
      e instanceof UnsupportedError &&
      e.message ===
        "the wasm backend cannot run 'gcc': it runs python3, node, sh/bash and .wasm programs; use a container backend (-B docker or -B podman) for other commands",
  );
  assert.throws(() => routeCommand(['ls', '-l']), UnsupportedError);
  assert.throws(() => routeCommand([]), ValidationError);
  assert.throws(() => routeCommand(['']), ValidationError);
});

test('router: guest paths resolve to the longest mount, never outside', () => {
  const mounts = [
    { hostPath: '/h/data', guestPath: '/data', readOnly: false },
    { hostPath: '/h/inner', guestPath: '/data/inner', readOnly: true },
  ];
  assert.equal(resolveGuestPath(mounts, '/', '/data/x.py')?.hostPath, '/h/data/x.py');
  assert.equal(resolveGuestPath(mounts, '/data', 'inner/y')?.hostPath, '/h/inner/y');
  assert.equal(resolveGuestPath(mounts, '/data', '../etc/passwd'), undefined);
  assert.equal(resolveGuestPath(mounts, '/', '/data/../../h/data/x'), undefined);
  assert.equal(resolveGuestPath(mounts, '/', '/database'), undefined);
  assert.equal(guestCwd({ mounts, cwd: undefined }), '/data');
  assert.equal(guestCwd({ mounts: [], cwd: undefined }), '/');
});

test('router: loadRoutedCode reads scripts from mounts and programs from stdin', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-route-'));
  try {
    mkdirSync(join(dir, 'm'));
    writeFileSync(join(dir, 'm', 'x.py'), 'print("hi")\n');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    symlinkSync(join(dir, 'secret.txt'), join(dir, 'm', 'link.py'));
    const req: RuntimeRequest = {
      env: {},
      stdin: Buffer.from('print("from stdin")'),
      mounts: [{ hostPath: join(dir, 'm'), guestPath: '/work', readOnly: true }],
      memoryMb: 64,
    };
    const script = await loadRoutedCode(routeCommand(['python3', 'x.py', 'a']) as never, req);
    assert.equal(script.code, 'print("hi")\n');
    assert.equal(script.scriptPath, 'x.py');
    assert.deepEqual(script.args, ['a']);
    const fromStdin = await loadRoutedCode(routeCommand(['python3', '-']) as never, req);
    assert.equal(fromStdin.code, 'print("from stdin")');
    assert.equal(fromStdin.stdin.length, 0, 'the program consumed stdin');
    assert.equal(fromStdin.scriptPath, '-');
    const code = await loadRoutedCode(routeCommand(['sh', '-c', 'echo', 'me']) as never, req);
    assert.equal(code.scriptPath, 'me');
    await assert.rejects(loadRoutedCode(routeCommand(['python3', 'missing.py']) as never, req), NotFoundError);
    await assert.rejects(loadRoutedCode(routeCommand(['python3', '/etc/passwd']) as never, req), /not inside any mounted directory/);
    await assert.rejects(loadRoutedCode(routeCommand(['python3', 'link.py']) as never, req), /outside its mounted directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('languages: aliases, unknown names, one runtime per language', () => {
  assert.equal(parseLanguage('js'), 'javascript');
  assert.equal(parseLanguage('node'), 'javascript');
  assert.equal(parseLanguage('py'), 'python');
  assert.equal(parseLanguage('Python3'), 'python');
  assert.equal(parseLanguage('sh'), 'shell');
  assert.equal(parseLanguage('bash'), 'shell');
  assert.throws(
    () => parseLanguage('ruby'),
    (e: unknown) => e instanceof ValidationError && /ruby/.test(e.message) && /javascript/.test(e.message) && /python/.test(e.message) && /shell/.test(e.message),
  );
  assert.deepEqual(LANGUAGES, ['javascript', 'python', 'shell']);
  const js = getRuntime('javascript');
  assert.equal(js, getRuntime('javascript'));
  assert.equal(js.language, 'javascript');
  assert.equal(getRuntime('python').language, 'python');
  const replacement = { language: 'shell' as const, prepare: async () => {}, run: async () => ({ exitCode: 0 }) };
  setRuntime(replacement);
  assert.equal(getRuntime('shell'), replacement);
});
