/**
 * Code sessions in the micro-VM (backend `hyperlight`), Python and JavaScript, through the library: a VM per session
 * kept between calls, images of its linear memory taken and written back, forks, tools called through host calls.
 * Needs /dev/kvm and the interpreters built for the micro-VM (`agentkernel setup`; built here when missing,
 * minutes); skips with the reason where either cannot be had. ~10 s once the guests are built.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { TEST_HOME } from '../wasm-backend/helpers.js';
import { AgentKernel } from '../../src/service/kernel.js';
import { HyperlightBackend } from '../../src/backends/hyperlight/backend.js';
import { loadBackend } from '../../src/backends/registry.js';
import { UnavailableError } from '../../src/core/errors.js';
import { closeKernel } from '../api/helpers.js';

void TEST_HOME;

async function unavailable(): Promise<string | undefined> {
  const hl = (await loadBackend('hyperlight')) as HyperlightBackend;
  const a = await hl.availability();
  if (!a.available) return `hyperlight unavailable: ${a.reason}`;
  try {
    await hl.javascript.prepare((m) => console.log(`# ${m}`));
    await hl.python.prepare((m) => console.log(`# ${m}`));
  } catch (e) {
    if (e instanceof UnavailableError) return `CPython cannot be built for the micro-VM here: ${e.message}`;
    throw e;
  }
  return undefined;
}

const skip = await unavailable();
if (skip) console.log(`# skipping micro-VM sessions: ${skip}`);

// one kernel for both languages' sessions
let k: AgentKernel;
before(() => {
  k = new AgentKernel();
});
after(async () => {
  if (k) await closeKernel(k);
});
const out = async (name: string, code: string, opts = {}) => {
  const r = await k.runInSession(name, code, { timeoutMs: 20_000, ...opts });
  assert.equal(r.exitCode, 0, `${code}\n${r.stderr}`);
  assert.equal(r.backend, 'hyperlight');
  return r.stdout.trim();
};

describe('python sessions in the micro-VM', { skip }, () => {
  test('state persists within a session and is never visible to another', async () => {
    await k.createSession({ name: 'a', language: 'python', backend: 'hyperlight' });
    await k.createSession({ name: 'b', language: 'python', backend: 'hyperlight' });
    await out('a', 'import collections\ncounter = 1\ndef bump():\n    global counter\n    counter += 1\n    return counter\nseen = collections.Counter("aab")');
    assert.equal(await out('a', 'print(bump(), seen["a"])'), '2 2');
    assert.equal(await out('a', 'print(bump())'), '3');
    assert.equal(await out('b', 'print("counter" in globals(), "bump" in globals())'), 'False False');
    // a plain run never sees a session's state either
    const plain = await k.runCode('python', 'print("counter" in globals())', { backend: 'hyperlight' });
    assert.equal(plain.stdout, 'False\n');
    await k.closeSession('b');
  });

  test('snapshot, change, restore gives the old state; a fork diverges independently', async () => {
    await out('a', 'counter = 10\nitems = ["x"] * 3\nbig = bytearray(8 * 1024 * 1024)');
    const snap = await k.snapshotSession('a', 'ten');
    assert.ok(snap.bytes > 8 * 1024 * 1024);
    await out('a', 'counter = 99\nitems.append("y")\ndel big\nextra = bytearray(16 * 1024 * 1024)');
    await k.restoreSession('a', 'ten');
    assert.equal(await out('a', 'print(counter, len(items), len(big), "extra" in globals())'), '10 3 8388608 False');
    await k.forkSession('a', { name: 'fork' });
    await out('fork', 'counter = 500\nitems.append("fork")');
    await out('a', 'counter = 11\nitems.append("parent")');
    assert.equal(await out('fork', 'print(counter, items[-1], bump())'), '500 fork 501');
    assert.equal(await out('a', 'print(counter, items[-1])'), '11 parent');
    await k.closeSession('fork');
  });

  test('tools are called with keyword arguments; bad ones raise ToolError', async () => {
    k.registerTool('a', 'lookup', z.object({ key: z.string() }), (x: { key: string }) => ({ key: x.key, value: x.key === 'k' ? [1, 2.5, null] : null }));
    k.registerTool('a', 'echo', z.object({ text: z.string() }), (x: { text: string }) => x.text);
    assert.equal(await out('a', 'r = tools.lookup(key="k")\nprint(r["key"], r["value"])'), 'k [1, 2.5, None]');
    // an answer larger than the guest's first buffer comes through whole
    assert.equal(await out('a', 'print(len(tools.echo(text="z" * 100000)))'), '100000');
    const bad = await out('a', 'try:\n    tools.lookup(key=3)\nexcept ToolError as e:\n    print("ToolError", e)');
    assert.match(bad, /^ToolError invalid arguments for tool 'lookup': .*key/);
    assert.equal(await out('a', 'try:\n    tools.shell(cmd="id")\nexcept AttributeError as e:\n    print(e)'), "no tool named 'shell' is registered");
  });

  test('a call stopped at its deadline loses the state until a snapshot is restored', async () => {
    const r = await k.runInSession('a', 'while True:\n    pass', { timeoutMs: 1000 });
    assert.equal(r.exitCode, 124);
    assert.match(r.stderr, /state since the last snapshot is lost/);
    await assert.rejects(k.runInSession('a', 'print(1)'), { code: 'CONFLICT' });
    await k.restoreSession('a', 'ten');
    assert.equal(await out('a', 'print(counter)'), '10');
  });

  test('a shell session is refused on hyperlight with the reason', async () => {
    await assert.rejects(k.createSession({ language: 'shell', backend: 'hyperlight' }), { code: 'UNSUPPORTED' });
  });
});

describe('javascript sessions in the micro-VM', { skip }, () => {
  test('globals persist within a session and are never visible to another or to a plain run', async () => {
    await k.createSession({ name: 'ja', language: 'javascript', backend: 'hyperlight' });
    await k.createSession({ name: 'jb', language: 'javascript', backend: 'hyperlight' });
    await out('ja', 'var counter = 1; function bump() { return ++counter; } let lex = "kept"; globalThis.obj = { deep: [1, 2] };');
    assert.equal(await out('ja', 'console.log(bump(), lex, obj.deep.length)'), '2 kept 2');
    assert.equal(await out('jb', 'console.log(typeof counter, typeof bump, typeof obj)'), 'undefined undefined undefined');
    const plain = await k.runCode('javascript', 'console.log(typeof counter)', { backend: 'hyperlight' });
    assert.equal(plain.stdout, 'undefined\n');
    // each call gets its own env and stdin, as on the wasm backend
    const r = await k.runInSession('ja', 'console.log(process.env.X, counter)', { env: { X: 'per-call' } });
    assert.equal(r.stdout, 'per-call 2\n', r.stderr);
    await k.closeSession('jb');
  });

  test('snapshot, change, restore; a fork diverges independently', async () => {
    await out('ja', 'counter = 10; globalThis.list = ["a"]; globalThis.big = new Uint8Array(4 * 1024 * 1024).fill(7);');
    await k.snapshotSession('ja', 'ten');
    await out('ja', 'counter = 99; list.push("b"); big = null');
    await k.restoreSession('ja', 'ten');
    assert.equal(await out('ja', 'console.log(counter, list.join(), big.length, big[12345])'), '10 a 4194304 7');
    await k.forkSession('ja', { name: 'jfork' });
    await out('jfork', 'counter = 500; list.push("fork")');
    await out('ja', 'counter = 11; list.push("parent")');
    assert.equal(await out('jfork', 'console.log(counter, list.join(), bump())'), '500 a,fork 501');
    assert.equal(await out('ja', 'console.log(counter, list.join())'), '11 a,parent');
    await k.closeSession('jfork');
  });

  test('tools take one JSON argument; bad arguments raise ToolError; long answers come through', async () => {
    k.registerTool('ja', 'lookup', z.object({ key: z.string() }), (x: { key: string }) => ({ key: x.key, value: [1, 2.5, null] }));
    k.registerTool('ja', 'echo', z.object({ text: z.string() }), (x: { text: string }) => x.text);
    assert.equal(await out('ja', 'const r = tools.lookup({ key: "k" }); console.log(r.key, JSON.stringify(r.value))'), 'k [1,2.5,null]');
    assert.equal(await out('ja', 'console.log(tools.echo({ text: "z".repeat(100000) }).length)'), '100000');
    assert.match(await out('ja', 'try { tools.lookup({ key: 3 }) } catch (e) { console.log(e.name, e.message) }'), /^ToolError invalid arguments for tool 'lookup'/);
    assert.equal(await out('ja', 'console.log(typeof tools.shell)'), 'undefined');
  });

  test('a call stopped at its deadline loses the state until a snapshot is restored', async () => {
    const r = await k.runInSession('ja', 'for (;;) {}', { timeoutMs: 1000 });
    assert.equal(r.exitCode, 124);
    assert.match(r.stderr, /state since the last snapshot is lost/);
    await assert.rejects(k.runInSession('ja', '1'), { code: 'CONFLICT' });
    await k.restoreSession('ja', 'ten');
    assert.equal(await out('ja', 'console.log(counter)'), '10');
  });
});
