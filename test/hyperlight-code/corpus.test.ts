/**
 * The JavaScript corpus (corpus.ts) and the Python corpus (python-corpus.ts) on the `wasm` backend and in the
 * micro-VM (`hyperlight`): every snippet must give the same exit code, stdout, stderr, error and trap on both, and
 * what the corpus expects. The QuickJS and CPython guests are built once per installation (QuickJS: wasm2c + gcc,
 * one to three minutes; CPython: built from Debian's source for wasm32-wasi, then wasm2c + gcc, five to ten
 * minutes; `agentkernel setup` does both, with progress) into build/guests; after that this file takes ~40 s.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

// one home for these tests (set before any backend reads paths), as the wasm backend's tests keep theirs
const HOME = join(tmpdir(), 'agentkernel-hyperlight-code-tests');
mkdirSync(HOME, { recursive: true });
process.env.AGENTKERNEL_HOME = HOME;

const { HyperlightBackend } = await import('../../src/backends/hyperlight/backend.js');
const { createWasmBackend } = await import('../../src/backends/wasm/index.js');
const { UnavailableError } = await import('../../src/core/errors.js');
const { CORPUS } = await import('./corpus.js');
const { PYTHON_CORPUS } = await import('./python-corpus.js');
type ExecResult = import('../../src/core/types.js').ExecResult;

const hyperlight = new HyperlightBackend();
const wasm = createWasmBackend();
const [ha, wa] = await Promise.all([hyperlight.availability(), wasm.availability()]);
const skip = !ha.available ? `hyperlight unavailable: ${ha.reason}` : !wa.available ? `wasm backend unavailable: ${wa.reason}` : undefined;
if (skip) console.log(`# skipping the micro-VM JavaScript corpus: ${skip}`);

before(async () => {
  if (skip) return;
  // the first compile of QuickJS for the micro-VM: minutes on a loaded machine
  await hyperlight.javascript.prepare((m) => console.log(`# ${m}`));
}, { timeout: 15 * 60_000 });

// CPython for the micro-VM needs a toolchain (clang for wasm32-wasi, wasi-libc) and Debian's CPython source: where
// they cannot be had, the Python half skips with the reason. The build is minutes the first time.
let pythonSkip: string | undefined = skip;
if (!pythonSkip) {
  try {
    await hyperlight.python.prepare((m) => console.log(`# ${m}`));
  } catch (e) {
    if (!(e instanceof UnavailableError)) throw e;
    pythonSkip = `CPython cannot be built for the micro-VM here: ${e.message}`;
    console.log(`# skipping the micro-VM Python corpus: ${pythonSkip}`);
  }
}

after(async () => {
  await Promise.all([hyperlight.close(), wasm.close()]);
});

/** What must be identical on both backends. */
function comparable(r: ExecResult) {
  return {
    exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, error: r.error, trap: r.trap?.kind,
    stdoutTruncated: r.stdoutTruncated, stderrTruncated: r.stderrTruncated, timedOut: r.timedOut ?? false,
  };
}

function matches(actual: string, expected: string | RegExp | undefined, what: string): void {
  if (expected === undefined) return;
  if (typeof expected === 'string') assert.equal(actual, expected, what);
  else assert.match(actual, expected, what);
}

const corpora = [
  { language: 'javascript' as const, corpus: CORPUS, skip },
  { language: 'python' as const, corpus: PYTHON_CORPUS, skip: pythonSkip },
];
for (const { language, corpus, skip } of corpora) for (const s of corpus) {
  test(`${language}: same result on both backends: ${s.name}`, { skip, timeout: 60_000 }, async () => {
    const [w, h] = await Promise.all([wasm.runCode(language, s.code, s.opts ?? {}), hyperlight.runCode(language, s.code, s.opts ?? {})]);
    assert.equal(h.backend, 'hyperlight');
    assert.deepEqual(comparable(h), comparable(w));
    const e = s.expect;
    assert.equal(h.exitCode, e.exitCode, h.stderr);
    matches(h.stdout, e.stdout, 'stdout');
    matches(h.stderr, e.stderr, 'stderr');
    if (e.error !== undefined) assert.equal(h.error?.name, e.error);
    if (e.trap !== undefined) assert.equal(h.trap?.kind, e.trap);
    if (e.stdoutTruncated !== undefined) assert.equal(h.stdoutTruncated, e.stdoutTruncated);
  });
}

test('a script larger than the message area runs too', { skip }, async () => {
  const code = `const big = ${JSON.stringify('z'.repeat(100_000))};\nconsole.log(big.length);`;
  const r = await hyperlight.runCode('javascript', code);
  assert.equal(r.stdout, '100000\n', r.stderr);
});

test('a run leaves nothing behind for the next one', { skip }, async () => {
  await hyperlight.runCode('javascript', 'globalThis.leak = 1; Object.prototype.polluted = true;');
  const r = await hyperlight.runCode('javascript', 'console.log(typeof leak, ({}).polluted)');
  assert.equal(r.stdout, 'undefined undefined\n');
});

test('python: a program larger than the input buffer runs too', { skip: pythonSkip }, async () => {
  const code = `big = ${JSON.stringify('z'.repeat(200_000))}\nprint(len(big))`;
  const r = await hyperlight.runCode('python', code);
  assert.equal(r.stdout, '200000\n', r.stderr);
});

test('python: a run leaves nothing behind for the next one', { skip: pythonSkip }, async () => {
  await hyperlight.runCode('python', 'import json, os\nleak = 1\njson.dumps = None\nos.environ["LEAK"] = "1"\nimport builtins\nbuiltins.leaked = True');
  const r = await hyperlight.runCode('python', 'import json, os, builtins\nprint("leak" in globals(), json.dumps([1]), os.environ.get("LEAK"), hasattr(builtins, "leaked"))');
  assert.equal(r.stdout, 'False [1] None False\n', r.stderr);
});

test('python: mounted directories, read-only and read-write, and a cwd inside one', { skip: pythonSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-py-mount-'));
  try {
    mkdirSync(join(dir, 'ro'));
    mkdirSync(join(dir, 'rw'));
    writeFileSync(join(dir, 'ro', 'in.txt'), 'from the host\n');
    writeFileSync(join(dir, 'ro', 'helper.py'), 'def twice(x):\n    return 2 * x\n');
    const code = [
      'import os, sys',
      'print(open("/data/in.txt").read(), end="")',
      'sys.path.insert(0, "/data")',
      'import helper; print(helper.twice(21))',
      'try:\n    open("/data/new.txt", "w")\nexcept OSError as e:\n    print("refused", type(e).__name__)',
      'open("/out/result.txt", "w").write("written by the guest")',
      'print(os.getcwd(), sorted(os.listdir(".")))',
    ].join('\n');
    const mounts = [
      { hostPath: join(dir, 'ro'), guestPath: '/data', readOnly: true },
      { hostPath: join(dir, 'rw'), guestPath: '/out', readOnly: false },
    ];
    const r = await hyperlight.runCode('python', code, { mounts, cwd: '/out' });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, "from the host\n42\nrefused OSError\n/out ['result.txt']\n");
    assert.equal(readFileSync(join(dir, 'rw', 'result.txt'), 'utf8'), 'written by the guest');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('python: no network in the micro-VM (WASI has no sockets to open)', { skip: pythonSkip }, async () => {
  // CPython's WASI socket module has no getaddrinfo (AttributeError) and no socket() to bind (OSError)
  const code = `import socket
for f in (lambda: socket.create_connection(('127.0.0.1', 22), timeout=1), lambda: socket.socket().bind(('127.0.0.1', 0))):
    try:
        f()
        print('reached')
    except (OSError, AttributeError):
        print('refused')`;
  const r = await hyperlight.runCode('python', code);
  assert.equal(r.stdout, 'refused\nrefused\n', r.stderr);
});

test('python: listed as a capability once built', { skip: pythonSkip }, () => {
  assert.ok(hyperlight.capabilities().languages.includes('python'));
  assert.equal(hyperlight.unsupportedReason('runCode:python'), undefined);
});
