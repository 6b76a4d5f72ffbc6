import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuickJsRuntime } from '../../src/runtimes/javascript/quickjs.js';
import { CollectingSink } from '../../src/runtimes/shell/capture.js';
import type { CodeRequest, RuntimeOutcome } from '../../src/runtimes/types.js';

const rt = new QuickJsRuntime();

async function js(code: string, extra: Partial<CodeRequest> = {}): Promise<{ r: RuntimeOutcome; out: string; err: string }> {
  const sink = new CollectingSink();
  const r = await rt.run({ env: {}, stdin: new Uint8Array(0), mounts: [], memoryMb: 64, deadline: Date.now() + 10_000, code, ...extra }, sink);
  return { r, out: sink.stdoutText, err: sink.stderrText };
}

test('quickjs: prints, with stdout and stderr kept apart', async () => {
  await rt.prepare();
  const { r, out, err } = await js('console.log(1 + 1); console.error("oops"); console.warn("w"); process.stdout.write("raw")');
  assert.equal(r.exitCode, 0);
  assert.equal(out, '2\nraw');
  assert.equal(err, 'oops\nw\n');
});

test('quickjs: console formats values like Node', async () => {
  const { out } = await js('console.log({ a: 1, b: "s", c: [1, 2] }, [1, "x"], null, undefined, new Map([[1, 2]]), new Set(["a"]))');
  assert.equal(out, "{ a: 1, b: 's', c: [ 1, 2 ] } [ 1, 'x' ] null undefined Map(1) { 1 => 2 } Set(1) { 'a' }\n");
  const fmt = await js('console.log("%s=%d %j %%", "n", 42, { k: [1] }, "rest")');
  assert.equal(fmt.out, 'n=42 {"k":[1]} % rest\n');
});

test('quickjs: an uncaught exception gives exit 1, the error and its stack on stderr', async () => {
  const { r, err } = await js('function f() { throw new TypeError("bad thing") }\nf()');
  assert.equal(r.exitCode, 1);
  assert.equal(r.error?.name, 'TypeError');
  assert.equal(r.error?.message, 'bad thing');
  assert.match(err, /^TypeError: bad thing\n    at f \(\[eval\]:1:/);
  assert.match(r.error?.traceback ?? '', /at f/);
  const thrown = await js('throw 42');
  assert.equal(thrown.r.exitCode, 1);
  assert.match(thrown.err, /Uncaught 42/);
  const syntax = await js('let = ;');
  assert.equal(syntax.r.exitCode, 1);
  assert.equal(syntax.r.error?.name, 'SyntaxError');
});

test('quickjs: process.exit(n) and process.exitCode set the exit code', async () => {
  const a = await js('console.log("before"); process.exit(3); console.log("after")');
  assert.equal(a.r.exitCode, 3);
  assert.equal(a.out, 'before\n');
  const b = await js('try { process.exit(4) } catch (e) { console.log("caught") } for (;;) {}');
  assert.equal(b.r.exitCode, 4, 'catching the exit does not keep the run alive');
  assert.equal(b.out, '');
  assert.equal((await js('process.exitCode = 5')).r.exitCode, 5);
});

test('quickjs: argv, env and cwd are exactly the request', async () => {
  const { out } = await js('console.log(JSON.stringify([process.argv.slice(2), process.env, process.cwd()]))', {
    args: ['a', 'b c'],
    env: { ONLY: 'this' },
    mounts: [{ hostPath: '/nonexistent', guestPath: '/work', readOnly: true }],
  });
  assert.equal(out, '[["a","b c"],{"ONLY":"this"},"/work"]\n');
  const script = await js('console.log(process.argv[1])', { scriptPath: '/work/app.js' });
  assert.equal(script.out, '/work/app.js\n');
});

test('quickjs: stdin as data events and as read()', async () => {
  const ev = await js('let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => console.log(JSON.stringify(s)))', {
    stdin: Buffer.from('hello\nworld'),
  });
  assert.equal(ev.out, '"hello\\nworld"\n');
  const rd = await js('console.log(process.stdin.read(), process.stdin.read())', { stdin: Buffer.from('abc') });
  assert.equal(rd.out, 'abc null\n');
});

test('quickjs: nothing a run defines is visible to the next one', async () => {
  await js('globalThis.leak = 1; var v = 2; Object.prototype.polluted = 3; console.log = () => {}');
  const { out } = await js('console.log(typeof leak, typeof v, ({}).polluted)');
  assert.equal(out, 'undefined undefined undefined\n');
});

test('quickjs: no host objects are reachable', async () => {
  const { out } = await js('console.log(typeof require, typeof module, typeof fetch, typeof Buffer, typeof process.binding, Object.keys(globalThis).length)');
  assert.equal(out, 'undefined undefined undefined undefined undefined 0\n');
});

test('quickjs: promises, async functions and timers run in order', async () => {
  const { r, out } = await js(
    'setTimeout(() => console.log("t2"), 20); setTimeout(() => console.log("t1"), 5);' +
      'Promise.resolve().then(() => console.log("micro")); (async () => { await null; console.log("async") })(); console.log("sync")',
  );
  assert.equal(r.exitCode, 0);
  assert.equal(out, 'sync\nmicro\nasync\nt1\nt2\n');
  const rejected = await js('async function main() { await null; throw new Error("async boom") }\nmain()');
  assert.equal(rejected.r.exitCode, 1);
  assert.equal(rejected.r.error?.message, 'async boom');
  const tla = await js('const x = await Promise.resolve(7); console.log(x)');
  assert.equal(tla.out, '7\n');
});

test('quickjs: a memory bomb under a cap ends with exit 137 memory_limit', async () => {
  const a = await js('const keep = []; for (;;) keep.push(new ArrayBuffer(1 << 20))', { memoryMb: 16 });
  assert.equal(a.r.exitCode, 137);
  assert.equal(a.r.trap?.kind, 'memory_limit');
  const b = await js('const keep = []; for (let i = 0; ; i++) keep.push({ i, s: "x" + i })', { memoryMb: 8 });
  assert.equal(b.r.exitCode, 137);
  assert.equal(b.r.trap?.kind, 'memory_limit');
  assert.equal((await js('console.log("fine")')).out, 'fine\n', 'the runtime keeps working');
});

test('quickjs: an infinite loop is stopped at the deadline with exit 124', async () => {
  const { r, err } = await js('while (true) {}', { deadline: Date.now() + 150 });
  assert.equal(r.exitCode, 124);
  assert.match(err, /deadline/);
  const timer = await js('setInterval(() => {}, 10)', { deadline: Date.now() + 150 });
  assert.equal(timer.r.exitCode, 124, 'a never-ending timer is stopped too');
});

test('quickjs: deep recursion is a catchable error, not a host crash', async () => {
  const { r } = await js('function f() { return f() } f()');
  assert.equal(r.exitCode, 1);
  assert.equal(r.error?.message, 'stack overflow');
  const caught = await js('function f() { return f() } try { f() } catch (e) { console.log("caught", e.message) }');
  assert.equal(caught.out, 'caught stack overflow\n');
});
