import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BashRuntime } from '../../src/runtimes/shell/bash.js';
import { QuickJsRuntime } from '../../src/runtimes/javascript/quickjs.js';
import { PyodideRuntime } from '../../src/runtimes/python/pyodide.js';
import { CollectingSink } from '../../src/runtimes/shell/capture.js';
import type { Language } from '../../src/core/types.js';
import type { CodeRequest, CodeRuntime, RuntimeOutcome } from '../../src/runtimes/types.js';

// the interpreters behind `python3` and `node` in scripts: Python loaded in full here (no snapshot)
const python = new PyodideRuntime();
const javascript = new QuickJsRuntime();
const runtimes: Partial<Record<Language, CodeRuntime>> = { python, javascript };
const rt = new BashRuntime({ runtimeFor: (l) => runtimes[l]! });
let dir: string;

before(async () => {
  await Promise.all([rt.prepare(), python.prepare(), javascript.prepare()]);
  dir = mkdtempSync(join(tmpdir(), 'ak-sh-'));
  mkdirSync(join(dir, 'ro'));
  mkdirSync(join(dir, 'rw'));
  writeFileSync(join(dir, 'ro', 'in.txt'), 'line one\nline two\n');
  writeFileSync(join(dir, 'rw', 'tool.py'), 'import sys\nprint("tool", sys.argv[1:], sys.stdin.read().strip())\n');
});

after(async () => {
  await python.close();
  rmSync(dir, { recursive: true, force: true });
});

async function sh(code: string, extra: Partial<CodeRequest> = {}): Promise<{ r: RuntimeOutcome; out: string; err: string }> {
  const sink = new CollectingSink();
  const r = await rt.run({ env: {}, stdin: new Uint8Array(0), mounts: [], memoryMb: 128, deadline: Date.now() + 20_000, code, ...extra }, sink);
  return { r, out: sink.stdoutText, err: sink.stderrText };
}

test('shell: prints, pipes, stdout and stderr apart, exit codes', async () => {
  const a = await sh('echo hello | tr a-z A-Z; echo oops >&2; printf "%s-%s\\n" a b');
  assert.equal(a.r.exitCode, 0);
  assert.equal(a.out, 'HELLO\na-b\n');
  assert.equal(a.err, 'oops\n');
  assert.equal((await sh('exit 3')).r.exitCode, 3);
  const missing = await sh('gcc --version');
  assert.equal(missing.r.exitCode, 127);
  assert.match(missing.err, /gcc: command not found/);
});

test('shell: $0, arguments, environment and stdin', async () => {
  const a = await sh('echo "$0|$1|$2|$#"; echo "$GREETING"', { args: ['a', 'b c'], env: { GREETING: 'hi' } });
  assert.equal(a.out, 'bash|a|b c|2\nhi\n');
  const s = await sh('echo $0', { scriptPath: '/work/x.sh' });
  assert.equal(s.out, '/work/x.sh\n');
  const i = await sh('read first; echo "got $first"; cat', { stdin: Buffer.from('one\ntwo\n') });
  assert.equal(i.out, 'got one\ntwo\n');
});

test('shell: nothing a run defines survives into the next', async () => {
  await sh('X=1; export Y=2; f() { echo f; }; echo data > /tmp/file; mkdir /newdir; cd /tmp');
  const { out, err } = await sh('echo "${X:-unset} ${Y:-unset}"; type f >/dev/null 2>&1 || echo nofunc; ls /tmp/file /newdir 2>&1 | wc -l; pwd');
  assert.equal(out, 'unset unset\nnofunc\n2\n/\n', err);
});

test('shell: files in mounts: read, write, read-only refused', async () => {
  const mounts = [
    { hostPath: join(dir, 'ro'), guestPath: '/in', readOnly: true },
    { hostPath: join(dir, 'rw'), guestPath: '/out', readOnly: false },
  ];
  const ok = await sh('wc -l < /in/in.txt; grep two /in/in.txt > /out/found.txt; cat /out/found.txt; pwd', { mounts });
  assert.equal(ok.r.exitCode, 0, ok.err);
  assert.equal(ok.out, '2\nline two\n/in\n');
  assert.equal(readFileSync(join(dir, 'rw', 'found.txt'), 'utf8'), 'line two\n');
  const ro = await sh('touch /in/new.txt; echo "rc=$?"; rm /in/in.txt; echo "rc=$?"', { mounts });
  assert.equal(ro.out, 'rc=1\nrc=1\n');
  assert.match(ro.err, /read-only/i);
  const redirect = await sh('echo x > /in/new.txt; echo not-reached', { mounts });
  assert.notEqual(redirect.r.exitCode, 0, 'a redirect into a read-only mount fails');
  assert.match(redirect.err, /read-only/i);
  assert.equal(existsSync(join(dir, 'ro', 'new.txt')), false);
  assert.equal(readFileSync(join(dir, 'ro', 'in.txt'), 'utf8'), 'line one\nline two\n');
});

test('shell: python3 and node inside scripts', async () => {
  const mounts = [{ hostPath: join(dir, 'rw'), guestPath: '/w', readOnly: false }];
  const a = await sh(
    'python3 -c "import sys; print(sys.argv[1:])" a b; echo 21 | python3 -c "print(int(input()) * 2)"; ' +
      'echo piped | python3 /w/tool.py x; echo \'print("from memory fs")\' > /tmp/t.py && python3 /tmp/t.py; ' +
      'node -e "console.log(process.argv.slice(2).join(\'+\'))" 1 2; echo "console.log(6 * 7)" | node; ' +
      'python3 -c "import sys; sys.exit(5)"; echo "rc=$?"',
    { mounts },
  );
  assert.equal(a.r.exitCode, 0, a.err);
  assert.equal(a.out, "['a', 'b']\n42\ntool ['x'] piped\nfrom memory fs\n1+2\n42\nrc=5\n");
  const env = await sh('FOO=bar python3 -c "import os; print(os.environ.get(\'FOO\'))"; export BAZ=1; node -e "console.log(process.env.BAZ)"');
  assert.equal(env.out, 'bar\n1\n');
});

test('shell: an endless loop is stopped at the deadline with exit 124', async () => {
  const { r, err } = await sh('while true; do :; done', { deadline: Date.now() + 200 });
  assert.equal(r.exitCode, 124);
  assert.match(err, /deadline/);
});
