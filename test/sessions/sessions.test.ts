/**
 * Code sessions through the library (AgentKernel) on the real `wasm` backend: jailed workers pinned to each session,
 * QuickJS and Pyodide interpreters kept alive between calls, images taken and put back, tools called across the
 * worker's tool channel.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { TEST_HOME } from '../wasm-backend/helpers.js';
import { AgentKernel } from '../../src/service/kernel.js';
import { closeKernel, wasmUnavailable } from '../api/helpers.js';

void TEST_HOME; // shares the wasm backend tests' home (and so their Pyodide snapshot)
const skip = await wasmUnavailable();

describe('code sessions (library)', { skip }, () => {
  let k: AgentKernel;
  before(() => {
    k = new AgentKernel({ overrides: { backend: 'wasm' } });
  });
  after(async () => {
    await closeKernel(k);
  });
  const out = async (name: string, code: string, opts = {}) => {
    const r = await k.runInSession(name, code, { timeoutMs: 20_000, ...opts });
    assert.equal(r.exitCode, 0, `${code}\n${r.stderr}`);
    return r.stdout.trim();
  };

  describe('javascript', () => {
    test('state persists within a session and is never visible to another', async () => {
      await k.createSession({ name: 'js-a', language: 'javascript' });
      await k.createSession({ name: 'js-b', language: 'javascript' });
      await out('js-a', 'var counter = 1; function bump() { return ++counter; } let lex = "kept"; globalThis.obj = { deep: [1, 2] };');
      assert.equal(await out('js-a', 'console.log(bump(), lex, obj.deep.length)'), '2 kept 2');
      assert.equal(await out('js-a', 'console.log(bump())'), '3');
      assert.equal(await out('js-b', 'console.log(typeof counter, typeof bump, typeof obj)'), 'undefined undefined undefined');
      assert.deepEqual(k.listSessions().map((s) => s.name).sort(), ['js-a', 'js-b']);
      await k.closeSession('js-b');
      await assert.rejects(k.runInSession('js-b', '1'), { code: 'NOT_FOUND' });
    });

    test('snapshot, change, restore gives the old state; a fork diverges independently', async () => {
      await out('js-a', 'counter = 10; globalThis.list = ["a"]');
      const snap = await k.snapshotSession('js-a', 'ten');
      assert.equal(snap.name, 'ten');
      assert.ok(snap.bytes > 0);
      await out('js-a', 'counter = 99; list.push("b")');
      await k.restoreSession('js-a', 'ten');
      assert.equal(await out('js-a', 'console.log(counter, list.join())'), '10 a');
      const fork = await k.forkSession('js-a', { name: 'js-fork' });
      assert.deepEqual(fork.forkedFrom, { session: 'js-a' });
      await out('js-fork', 'counter = 500; list.push("fork")');
      await out('js-a', 'counter = 11; list.push("parent")');
      assert.equal(await out('js-fork', 'console.log(counter, list.join(), bump())'), '500 a,fork 501');
      assert.equal(await out('js-a', 'console.log(counter, list.join())'), '11 a,parent');
      await k.closeSession('js-fork');
    });

    test('a call stopped at its deadline is reported; the session keeps what it had', async () => {
      const r = await k.runInSession('js-a', 'counter = 42; while (true) {}', { timeoutMs: 300 });
      assert.equal(r.exitCode, 124);
      assert.equal(r.timedOut, true);
      assert.equal(await out('js-a', 'console.log(counter)'), '42');
    });

    test('a call that ends the interpreter makes the next call say so; a restore revives it', async () => {
      await k.createSession({ name: 'js-lost', language: 'javascript' });
      k.registerTool('js-lost', 'hang', {}, () => new Promise(() => {}));
      await out('js-lost', 'var before = "snap"');
      await k.snapshotSession('js-lost');
      await out('js-lost', 'before = "after snapshot"');
      // blocked in a host call, the guest cannot stop itself: the worker is killed at the deadline
      const r = await k.runInSession('js-lost', 'tools.hang()', { timeoutMs: 500 });
      assert.equal(r.exitCode, 124);
      assert.match(r.stderr, /state since the last snapshot is lost/);
      await assert.rejects(k.runInSession('js-lost', 'console.log(before)'), (e: any) => {
        assert.equal(e.code, 'CONFLICT');
        assert.match(e.message, /interpreter was lost: its call was stopped after its timeout of 500 ms/);
        return true;
      });
      await k.restoreSession('js-lost');
      assert.equal(await out('js-lost', 'console.log(before)'), 'snap');
      await k.closeSession('js-lost');
    });

    test('tools: JSON round trip, schema checks, errors as guest exceptions, nothing unregistered', async () => {
      await k.createSession({ name: 'js-tools', language: 'javascript' });
      const seen: unknown[] = [];
      k.registerTool('js-tools', 'echo', z.object({ value: z.unknown() }), (a: { value: unknown }) => {
        seen.push(a.value);
        return { got: a.value };
      });
      k.registerTool('js-tools', 'add', { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
        (a: { a: number; b: number }) => a.a + a.b);
      k.registerTool('js-tools', 'boom', {}, () => {
        throw new Error('kaboom');
      });
      const value = { s: 'ünï\n"q"', n: -1.5, big: 2 ** 53, nil: null, list: [1, 'two', { three: [true] }] };
      assert.equal(await out('js-tools', `console.log(JSON.stringify(tools.echo({ value: ${JSON.stringify(value)} })))`), JSON.stringify({ got: value }));
      assert.deepEqual(seen, [value]);
      assert.equal(await out('js-tools', 'console.log(tools.add({ a: 2, b: 40 }))'), '42');
      const bad = await out('js-tools', 'try { tools.add({ a: "2" }) } catch (e) { console.log(e.name + ": " + e.message) }');
      assert.match(bad, /^ToolError: invalid arguments for tool 'add': .*(a|b)/);
      assert.match(await out('js-tools', 'try { tools.boom() } catch (e) { console.log(e.name, e.message) }'), /^ToolError tool 'boom' failed: kaboom$/);
      const uncaught = await k.runInSession('js-tools', 'tools.boom()');
      assert.equal(uncaught.exitCode, 1);
      assert.equal(uncaught.error?.name, 'ToolError');
      assert.equal(await out('js-tools', 'console.log(typeof tools.readFile, Object.keys(tools).sort().join())'), 'undefined add,boom,echo');
      assert.equal(seen.length, 1, 'a rejected call never reached its function');
      await k.closeSession('js-tools');
    });
  });

  describe('python', () => {
    test('state persists, sessions are isolated, snapshot/restore and fork work', async () => {
      await k.createSession({ name: 'py-a', language: 'python' });
      await k.createSession({ name: 'py-b', language: 'python' });
      await out('py-a', 'import collections\nx = 1\ndef inc():\n    global x\n    x += 1\n    return x\nc = collections.Counter("aab")');
      assert.equal(await out('py-a', 'print(inc(), c["a"])'), '2 2');
      assert.equal(await out('py-b', 'print("x" in globals(), "inc" in globals())'), 'False False');
      await k.snapshotSession('py-a', 'two');
      await out('py-a', 'x = 100\nc["z"] = 5');
      await k.restoreSession('py-a', 'two');
      assert.equal(await out('py-a', 'print(x, sorted(c))'), "2 ['a', 'b']");
      await k.forkSession('py-a', { name: 'py-fork', snapshot: 'two' });
      await out('py-fork', 'x = -7');
      assert.equal(await out('py-a', 'print(inc())'), '3');
      assert.equal(await out('py-fork', 'print(x, inc())'), '-7 -6');
      await k.closeSession('py-b');
    });

    test('an interpreter that ended (os._exit) is reported as lost; a restore brings the snapshot back', async () => {
      const r = await k.runInSession('py-a', 'import os\nos._exit(3)');
      assert.equal(r.exitCode, 3);
      await assert.rejects(k.runInSession('py-a', 'print(x)'), (e: any) => {
        assert.equal(e.code, 'CONFLICT');
        assert.match(e.message, /interpreter was lost: its interpreter ended/);
        return true;
      });
      await k.restoreSession('py-a', 'two');
      assert.equal(await out('py-a', 'print(x)'), '2');
    });

    test('tools are called with keyword arguments; bad ones raise ToolError', async () => {
      k.registerTool('py-fork', 'lookup', z.object({ key: z.string(), default: z.number().optional() }), (a: { key: string; default?: number }) => (
        { key: a.key, found: a.key === 'k', value: a.key === 'k' ? [1, 2.5, null] : a.default ?? null }
      ));
      assert.equal(await out('py-fork', 'r = tools.lookup(key="k")\nprint(r["found"], r["value"])'), 'True [1, 2.5, None]');
      const bad = await out('py-fork', 'try:\n    tools.lookup(key=3)\nexcept ToolError as e:\n    print("ToolError", e)');
      assert.match(bad, /^ToolError invalid arguments for tool 'lookup': .*key/);
      assert.equal(await out('py-fork', 'try:\n    tools.shell(cmd="id")\nexcept AttributeError as e:\n    print(e)'), "no tool named 'shell' is registered");
      assert.deepEqual(k.listTools('py-fork').map((t) => t.name), ['lookup']);
    });
  });

  test('unsupported places say why', async () => {
    await assert.rejects(k.createSession({ language: 'shell' }), { code: 'UNSUPPORTED' });
    await assert.rejects(k.createSession({ language: 'shell', backend: 'hyperlight' }), (e: any) => {
      assert.equal(e.code, 'UNSUPPORTED');
      assert.match(e.message, /sessions on the hyperlight backend are for python and javascript, not shell/);
      return true;
    });
    await assert.rejects(k.createSession({ name: 'py-a', language: 'python' }), { code: 'CONFLICT' });
    await assert.rejects(k.restoreSession('py-a', 'nope'), { code: 'NOT_FOUND' });
    assert.throws(() => k.registerTool('py-a', 'bad name', {}, () => 1), { code: 'VALIDATION' });
  });
});
