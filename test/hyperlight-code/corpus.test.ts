/**
 * The JavaScript corpus (corpus.ts) on the `wasm` backend and in the micro-VM (`hyperlight`): every snippet must
 * give the same exit code, stdout, stderr, error and trap on both, and what corpus.ts expects. The QuickJS guest
 * is compiled once per installation (wasm2c + gcc, one to three minutes, with progress) into build/guests; after
 * that this file takes ~15 s.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

// one home for these tests (set before any backend reads paths), as the wasm backend's tests keep theirs
const HOME = join(tmpdir(), 'agentkernel-hyperlight-code-tests');
mkdirSync(HOME, { recursive: true });
process.env.AGENTKERNEL_HOME = HOME;

const { HyperlightBackend } = await import('../../src/backends/hyperlight/backend.js');
const { createWasmBackend } = await import('../../src/backends/wasm/index.js');
const { UnsupportedError } = await import('../../src/core/errors.js');
const { CORPUS } = await import('./corpus.js');
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

for (const s of CORPUS) {
  test(`same result on both backends: ${s.name}`, { skip, timeout: 60_000 }, async () => {
    const [w, h] = await Promise.all([wasm.runCode('javascript', s.code, s.opts ?? {}), hyperlight.runCode('javascript', s.code, s.opts ?? {})]);
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

test('Python is refused with the reason, and not listed as a capability', async () => {
  assert.deepEqual(hyperlight.capabilities().languages, ['javascript']);
  await assert.rejects(hyperlight.runCode('python', 'print(1)'), (e: unknown) => e instanceof UnsupportedError && /cannot run Python/.test((e as Error).message));
});
