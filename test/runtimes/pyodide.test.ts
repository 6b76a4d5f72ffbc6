import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PyodideRuntime } from '../../src/runtimes/python/pyodide.js';
import { CollectingSink } from '../../src/runtimes/shell/capture.js';
import { ValidationError } from '../../src/core/errors.js';
import type { CodeRequest, RuntimeOutcome } from '../../src/runtimes/types.js';

// one interpreter for the whole file (loading takes seconds): made from a snapshot, which is itself under test
let rt: PyodideRuntime;
let dir: string;

before(async () => {
  const snapshot = await PyodideRuntime.makeSnapshot();
  rt = new PyodideRuntime({ snapshot });
  await rt.prepare();
  dir = mkdtempSync(join(tmpdir(), 'ak-py-'));
  mkdirSync(join(dir, 'rw'));
  mkdirSync(join(dir, 'ro'));
  writeFileSync(join(dir, 'ro', 'in.txt'), 'read me\n');
});

after(async () => {
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
});

async function py(code: string, extra: Partial<CodeRequest> = {}): Promise<{ r: RuntimeOutcome; out: string; err: string }> {
  const sink = new CollectingSink();
  const r = await rt.run({ env: {}, stdin: new Uint8Array(0), mounts: [], memoryMb: 256, deadline: Date.now() + 20_000, code, ...extra }, sink);
  return { r, out: sink.stdoutText, err: sink.stderrText };
}

test('python: loads from a snapshot', () => {
  assert.equal(rt.loadInfo?.fromSnapshot, true);
  assert.ok((rt.loadInfo?.cleanStateBytes ?? 0) > 0);
});

test('python: prints, with stdout and stderr kept apart', async () => {
  const { r, out, err } = await py('import sys\nprint(1 + 1)\nprint("oops", file=sys.stderr)\nsys.stdout.write("raw")');
  assert.equal(r.exitCode, 0);
  assert.equal(out, '2\nraw');
  assert.equal(err, 'oops\n');
});

test('python: an uncaught exception gives exit 1 and a real traceback', async () => {
  const { r, err } = await py('def f():\n    return 1 / 0\nf()');
  assert.equal(r.exitCode, 1);
  assert.equal(r.error?.name, 'ZeroDivisionError');
  assert.equal(r.error?.message, 'division by zero');
  const expected = 'Traceback (most recent call last):\n  File "<string>", line 3, in <module>\n  File "<string>", line 2, in f\nZeroDivisionError: division by zero\n';
  assert.equal(r.error?.traceback, expected);
  assert.equal(err, expected);
  const syntax = await py('x = = 1');
  assert.equal(syntax.r.exitCode, 1);
  assert.equal(syntax.r.error?.name, 'SyntaxError');
  assert.match(syntax.err, /File "<string>", line 1/);
  const script = await py('raise ValueError("v")', { scriptPath: '/work/app.py' });
  assert.match(script.err, /File "\/work\/app\.py", line 1, in <module>/);
});

test('python: sys.exit and os._exit set the exit code', async () => {
  assert.equal((await py('import sys; sys.exit(3)')).r.exitCode, 3);
  const msg = await py('raise SystemExit("bye")');
  assert.equal(msg.r.exitCode, 1);
  assert.equal(msg.err, 'bye\n');
  assert.equal((await py('import sys; sys.exit()')).r.exitCode, 0);
  assert.equal((await py('import os; os._exit(7)')).r.exitCode, 7);
  assert.equal((await py('print("alive")')).out, 'alive\n', 'the interpreter is back after os._exit');
});

test('python: stdin, argv and the environment are exactly the request', async () => {
  const io = await py('import sys\nprint(repr(input()))\nprint(repr(sys.stdin.read()))', { stdin: Buffer.from('first\nsecond\nthird') });
  assert.equal(io.out, "'first'\n'second\\nthird'\n");
  const a = await py('import sys, os\nprint(sys.argv)\nprint(dict(os.environ))', { args: ['a', 'b c'], env: { ONLY: 'this' } });
  assert.equal(a.out, "['-c', 'a', 'b c']\n{'ONLY': 'this'}\n");
  const s = await py('import sys; print(sys.argv[0])', { scriptPath: '/work/x.py' });
  assert.equal(s.out, '/work/x.py\n');
});

test('python: nothing a run defines survives into the next', async () => {
  const first = await py(
    [
      'import sys, os, types',
      'leaked = 1',
      'sys.modules["mymod"] = types.ModuleType("mymod")',
      'import json; json.dumps = None',
      'open("/tmp/t.txt", "w").write("x")',
      'open("/home/pyodide/h.txt", "w").write("x")',
      'os.mkdir("/newdir")',
      'open("/lib/extra.py", "w").write("x = 1")',
      'kept_open = open("/tmp/open.txt", "w")',
      'os.chdir("/tmp")',
      'os.environ["ADDED"] = "1"',
    ].join('\n'),
  );
  assert.equal(first.r.exitCode, 0, first.err);
  const second = await py(
    [
      'import sys, os, json',
      'print("leaked" in globals(), "mymod" in sys.modules, json.dumps([1]))',
      'print([os.path.exists(p) for p in ("/tmp/t.txt", "/home/pyodide/h.txt", "/newdir", "/lib/extra.py", "/tmp/open.txt")])',
      'print(os.getcwd(), "ADDED" in os.environ)',
    ].join('\n'),
  );
  assert.equal(second.out, 'False False [1]\n[False, False, False, False, False]\n/ False\n');
});

test('python: standard library imports work', async () => {
  const { r, out } = await py(
    'import json, re, math, datetime, collections, itertools, textwrap, decimal, fractions, statistics, hashlib, base64\n' +
      'print(json.dumps({"a": [1]}), re.sub(r"\\d", "#", "a1b2"), math.isqrt(17), datetime.date(2024, 1, 2).isoformat(),\n' +
      '      collections.Counter("aab").most_common(1), statistics.mean([1, 2, 3]), hashlib.sha256(b"x").hexdigest()[:8])',
  );
  assert.equal(r.exitCode, 0);
  assert.equal(out, `{"a": [1]} a#b# 4 2024-01-02 [('a', 2)] 2 2d711642\n`);
});

test('python: random numbers differ between runs', async () => {
  const a = await py('import random; print(random.random())');
  const b = await py('import random; print(random.random())');
  assert.notEqual(a.out, b.out);
});

test('python: import js hands the guest an empty object, not the host globals', async () => {
  const { out } = await py('import js\nprint(hasattr(js, "process"), hasattr(js, "require"), hasattr(js, "globalThis"))');
  assert.equal(out, 'False False False\n');
});

test('python: a memory bomb under a cap ends with exit 137 memory_limit', async () => {
  const { r, err } = await py('b = bytearray(200 * 1024 * 1024)', { memoryMb: 96 });
  assert.equal(r.exitCode, 137);
  assert.equal(r.trap?.kind, 'memory_limit');
  assert.equal(r.error?.name, 'MemoryError');
  assert.match(err, /MemoryError/);
  const caught = await py('try:\n    b = bytearray(200 * 1024 * 1024)\nexcept MemoryError:\n    print("caught")', { memoryMb: 96 });
  assert.equal(caught.out, 'caught\n');
  assert.equal((await py('print(sum(range(10)))')).out, '45\n', 'the runtime keeps working');
  await assert.rejects(py('print(1)', { memoryMb: 8 }), ValidationError);
});

test('python: an infinite loop is stopped at the deadline with exit 124', async () => {
  const a = await py('while True:\n    pass', { deadline: Date.now() + 200 });
  assert.equal(a.r.exitCode, 124);
  assert.match(a.err, /deadline/);
  // the guest sees KeyboardInterrupt and may clean up (a guest that swallows it for ever is stopped by the host)
  const cleanup = await py('try:\n    while True: pass\nfinally:\n    print("cleanup")', { deadline: Date.now() + 200 });
  assert.equal(cleanup.r.exitCode, 124);
  assert.equal(cleanup.out, 'cleanup\n');
  assert.equal((await py('print("next")')).out, 'next\n');
  assert.equal((await py('print("late")', { deadline: Date.now() - 1 })).r.exitCode, 124);
});

test('python: files in mounts: read, write, read-only refused', async () => {
  const mounts = [
    { hostPath: join(dir, 'ro'), guestPath: '/in', readOnly: true },
    { hostPath: join(dir, 'rw'), guestPath: '/out', readOnly: false },
  ];
  const ok = await py('print(open("/in/in.txt").read(), end="")\nopen("/out/result.txt", "w").write("written")\nimport os; print(os.getcwd())', { mounts, cwd: '/out' });
  assert.equal(ok.r.exitCode, 0, ok.err);
  assert.equal(ok.out, 'read me\n/out\n');
  assert.equal(readFileSync(join(dir, 'rw', 'result.txt'), 'utf8'), 'written');
  for (const code of ['open("/in/new.txt", "w")', 'open("/in/in.txt", "a")', 'import os; os.remove("/in/in.txt")', 'import os; os.mkdir("/in/d")', 'import os; os.chmod("/in/in.txt", 0o777)']) {
    const ro = await py(code, { mounts });
    assert.equal(ro.r.exitCode, 1, code);
    assert.match(ro.err, /Read-only file system/, code);
  }
  assert.equal(existsSync(join(dir, 'ro', 'new.txt')), false);
  assert.equal(readFileSync(join(dir, 'ro', 'in.txt'), 'utf8'), 'read me\n');
  const gone = await py('import os; print(os.path.exists("/in"), os.path.exists("/out"))');
  assert.equal(gone.out, 'False False\n', 'mounts exist only during their run');
  await assert.rejects(py('print(1)', { cwd: '/nowhere' }), ValidationError);
});
