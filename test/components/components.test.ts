/**
 * WASI 0.2 components on the wasm backend: commands (stdout/stderr, args, env, stdin, exit codes), typed --invoke,
 * refusals (malformed input, files outside the mounts, sockets), the run limits (timeout, output flood), and the
 * CLI once. The components are written in the component text format and built with wasm-tools here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { tempDir } from '../wasm-backend/helpers.js';
import { WasmBackend } from '../../src/backends/wasm/backend.js';
import { NotFoundError, UnsupportedError, ValidationError } from '../../src/core/errors.js';
import { wasmKind } from '../../src/runtimes/component/binary.js';
import { parseWorld } from '../../src/runtimes/component/wit.js';
import { transpileComponent } from '../../src/runtimes/component/transpile.js';
import { AgentKernel } from '../../src/service/kernel.js';
import { cli } from '../helpers/cli.js';
import { ECHO, EXIT_ERR, FLOOD, LIBRARY, LOOP, MEMORY_HOG, OPEN_FILES, RUN_ERR, SOCKET, TRAP } from './fixtures.js';
import { createHost } from '../../src/runtimes/component/wasi-host.js';

describe('WASI 0.2 components on the wasm backend', () => {
  const backend = new WasmBackend({ poolSize: 1, prewarm: [] });
  const built: Record<string, Uint8Array> = {};
  before(async () => {
    for (const [k, wat] of Object.entries({ ECHO, EXIT_ERR, FLOOD, LIBRARY, LOOP, MEMORY_HOG, OPEN_FILES, RUN_ERR, SOCKET, TRAP })) built[k] = await parse(wat);
  });
  after(() => backend.close());

  it('tells components from core modules by the header', () => {
    assert.equal(wasmKind(built.ECHO!), 'component');
    assert.equal(wasmKind(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), 'module');
    assert.equal(wasmKind(new Uint8Array([1, 2, 3])), undefined);
  });

  it('runs a command: stdout, stderr, arguments, environment, stdin, exit 0', async () => {
    const r = await backend.runComponent({ component: built.ECHO!, args: ['one', 'two words'], env: { GREETING: 'hi there' }, stdin: 'piped input' });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'hello from component\narg:component.wasm\narg:one\narg:two words\nenv:GREETING=hi there\nstdin:piped input');
    assert.equal(r.stderr, 'to stderr\n');
    assert.equal(r.stdoutTruncated, false);
    assert.equal(r.backend, 'wasm');
  });

  it('wasi:cli/exit ends the run with its code, not the worker', async () => {
    const r = await backend.runComponent({ component: built.EXIT_ERR! });
    assert.equal(r.exitCode, 1);
    assert.equal(r.stdout, 'bye\n');
    const again = await backend.runComponent({ component: built.ECHO! });
    assert.equal(again.exitCode, 0);
    assert.equal((await backend.runComponent({ component: built.RUN_ERR! })).exitCode, 1);
  });

  it('a trap is exit 134 with the trap kind', async () => {
    const r = await backend.runComponent({ component: built.TRAP! });
    assert.equal(r.exitCode, 134);
    assert.equal(r.trap?.kind, 'unreachable');
  });

  it('invokes exported functions with component-model values from JSON', async () => {
    const call = async (name: string, ...args: unknown[]): Promise<unknown> => {
      const r = await backend.runComponent({ component: built.LIBRARY!, invoke: name, invokeArgs: args });
      assert.equal(r.exitCode, 0, r.stderr);
      return r.value;
    };
    assert.equal(await call('add', 2, 40), 42);
    assert.equal(await call('api#add', 1, 2), 3);
    assert.equal(await call('greet', 'Ada'), 'hello, Ada');
    assert.equal(await call('sum-bytes', [1, 2, 250]), 253);
    assert.deepEqual(await call('swap', { x: 1, y: -2 }), { x: -2, y: 1 });
    assert.equal(await call('area', { tag: 'circle', val: 2 }), 12);
    assert.equal(await call('area', { tag: 'none' }), null);
    assert.deepEqual(await call('checked-div', 7, 2), { ok: 3 });
    assert.deepEqual(await call('checked-div', 1, 0), { err: 'division by zero' });
    assert.equal(await call('big', '9007199254740993'), '18014398509481986');
  });

  it('a JSON argument of the wrong type is a ValidationError naming the parameter', async () => {
    await assert.rejects(backend.runComponent({ component: built.LIBRARY!, invoke: 'greet', invokeArgs: [5] }),
      (e: unknown) => e instanceof ValidationError && /argument 'name'.*string/.test(e.message));
    await assert.rejects(backend.runComponent({ component: built.LIBRARY!, invoke: 'swap', invokeArgs: [{ x: 1 }] }),
      (e: unknown) => e instanceof ValidationError && /missing field 'y'/.test(e.message));
    await assert.rejects(backend.runComponent({ component: built.LIBRARY!, invoke: 'add', invokeArgs: [1, -1] }),
      (e: unknown) => e instanceof ValidationError && /argument 'b'.*u32/.test(e.message));
    await assert.rejects(backend.runComponent({ component: built.LIBRARY!, invoke: 'nope' }), NotFoundError);
  });

  it('reads the exported functions and their types from the WIT', async () => {
    const t = await transpileComponent(built.LIBRARY!);
    const fns = parseWorld(t.wit).functions.map((f) => f.path);
    assert.deepEqual(fns.sort(), ['add', 'api#add', 'api#area', 'api#big', 'api#checked-div', 'api#greet', 'api#sum-bytes', 'api#swap']);
  });

  it('a malformed component, or a core module, is a ValidationError', async () => {
    await assert.rejects(backend.runComponent({ component: new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 0xff, 0xff]) }), ValidationError);
    await assert.rejects(backend.runComponent({ component: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]) }), /core WebAssembly module/);
    await assert.rejects(backend.runComponent({ component: '(component (core module $m (func (export "x") (i32.add))))' }), ValidationError);
  });

  it('sees only the mounts: a file inside opens, one outside (../) is refused; no mount, no preopen', async (t) => {
    const root = tempDir(t, 'ak-comp-');
    mkdirSync(join(root, 'box'));
    writeFileSync(join(root, 'box', 'inside.txt'), 'in');
    writeFileSync(join(root, 'outside.txt'), 'secret');
    const r = await backend.runComponent({ component: built.OPEN_FILES!, mounts: [{ hostPath: join(root, 'box'), guestPath: '/data', readOnly: true }] });
    assert.equal(r.exitCode, 0, r.stderr);
    // 31 is not-permitted in wasi:filesystem's error-code
    assert.equal(r.stdout, 'inside:ok\noutside:31\n');
    const none = await backend.runComponent({ component: built.OPEN_FILES! });
    assert.equal(none.stdout, 'no-preopens\n');
  });

  it('a guest that runs out of its memory cap is exit 137', async () => {
    const r = await backend.runComponent({ component: built.MEMORY_HOG!, memoryMb: 16 });
    assert.equal(r.exitCode, 137, r.stderr);
    assert.equal(r.trap?.kind, 'memory_limit');
  });

  it('the host refuses sockets, name lookups and outgoing HTTP, and offers no process-wide state', async () => {
    const host = await createHost({ args: ['p'], env: { A: 'b' }, stdin: new Uint8Array(), cwd: '/', mounts: [], out: { stdout() {}, stderr() {} } });
    const imp = host.imports as Record<string, Record<string, (...a: unknown[]) => unknown>>;
    assert.throws(() => imp['wasi:sockets/tcp-create-socket']!.createTcpSocket!('ipv4'), (e: unknown) => e === 'not-supported');
    assert.throws(() => imp['wasi:sockets/udp-create-socket']!.createUdpSocket!('ipv4'), (e: unknown) => e === 'not-supported');
    assert.throws(() => imp['wasi:sockets/ip-name-lookup']!.resolveAddresses!({}, 'example.com'), (e: unknown) => e === 'not-supported');
    assert.throws(() => imp['wasi:http/outgoing-handler']!.handle!({}, undefined), (e: unknown) => (e as { tag?: string }).tag === 'HTTP-request-denied');
    assert.deepEqual(imp['wasi:cli/environment']!.getEnvironment!(), [['A', 'b']]);
    assert.deepEqual(imp['wasi:filesystem/preopens']!.getDirectories!(), []);
    host.close();
  });

  it('sockets are refused', async () => {
    const r = await backend.runComponent({ component: built.SOCKET! });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'socket:refused\n');
  });

  it('an endless loop is stopped at the timeout: exit 124', async () => {
    const r = await backend.runComponent({ component: built.LOOP!, timeoutMs: 1500 });
    assert.equal(r.exitCode, 124);
    assert.equal(r.timedOut, true);
  });

  it('an output flood is cut at the limit and flagged', async () => {
    const r = await backend.runComponent({ component: built.FLOOD!, outputBytes: 10_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.length, 10_000);
    assert.equal(r.stdoutTruncated, true);
  });

  it('hyperlight answers with what it lacks', async () => {
    const k = new AgentKernel();
    try {
      await assert.rejects(k.runComponent({ component: built.ECHO!, backend: 'hyperlight' }),
        (e: unknown) => e instanceof UnsupportedError && /wasm2c/.test(e.message));
    } finally {
      await k.close();
    }
  });

  it('the CLI runs a component file and invokes an export with --args', async (t) => {
    const d = tempDir(t, 'ak-comp-cli-');
    writeFileSync(join(d, 'echo.wasm'), built.ECHO!);
    writeFileSync(join(d, 'lib.wasm'), built.LIBRARY!);
    const r = await cli(['run', '-B', 'wasm', '--wasm-component', join(d, 'echo.wasm'), '--', 'x']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hello from component\narg:echo\.wasm\narg:x\n/);
    const inv = await cli(['run', '-B', 'wasm', '--wasm-component', join(d, 'lib.wasm'), '--invoke', 'swap', '--args', '[{"x":1,"y":2}]']);
    assert.equal(inv.code, 0, inv.stderr);
    assert.deepEqual(JSON.parse(inv.stdout), { x: 2, y: 1 });
  });
});
