/**
 * Code sessions through every interface: HTTP routes of a real server, MCP tools over its /mcp endpoint, the SDK
 * (over HTTP and in-process, with tools) and the CLI, whose separate processes share one session on the server.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TEST_HOME } from '../wasm-backend/helpers.js';
import { startTestServer, wasmUnavailable, postJson, closeKernel, type TestServer } from '../api/helpers.js';
import { cli, tempHome } from '../helpers/cli.js';
import { CodeSession } from '../../src/sdk/index.js';
import { AgentKernel } from '../../src/service/kernel.js';

void TEST_HOME; // shares the wasm backend tests' home
const skip = await wasmUnavailable();

describe('code sessions over HTTP, MCP, SDK and CLI', { skip }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
  });
  const call = (method: string, path: string) => fetch(`${s.url}${path}`, { method, headers: s.headers }).then(async (r) => ({ status: r.status, body: await r.json() as any }));

  test('HTTP: create, keep state, snapshot, restore, fork, list, close', async () => {
    const created = await postJson(s, '/sessions', { name: 'h1', language: 'javascript' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.data.name, 'h1');
    await postJson(s, '/sessions', { name: 'h2', language: 'javascript' });
    const run = async (name: string, code: string) => {
      const r = await postJson(s, `/sessions/${name}/run`, { code });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.data;
    };
    await run('h1', 'var n = 5');
    assert.equal((await run('h1', 'console.log(n * 2)')).stdout, '10\n');
    assert.equal((await run('h2', 'console.log(typeof n)')).stdout, 'undefined\n');
    const snap = await postJson(s, '/sessions/h1/snapshot', { snapshot: 'five' });
    assert.equal(snap.body.data.name, 'five');
    await run('h1', 'n = 6');
    assert.equal((await postJson(s, '/sessions/h1/restore', {})).body.data.name, 'five');
    assert.equal((await run('h1', 'console.log(n)')).stdout, '5\n');
    const fork = await postJson(s, '/sessions/h1/fork', { name: 'h1f' });
    assert.equal(fork.status, 201);
    assert.equal(fork.body.data.forked_from.session, 'h1');
    await run('h1f', 'n = 100');
    assert.equal((await run('h1', 'console.log(n)')).stdout, '5\n');
    const list = await call('GET', '/sessions');
    assert.deepEqual(list.body.data.map((x: any) => x.name).sort(), ['h1', 'h1f', 'h2']);
    assert.equal(list.body.data.find((x: any) => x.name === 'h1').snapshots[0].name, 'five');
    const doc = (await call('GET', '/openapi.json')).body;
    assert.ok(doc.paths['/sessions/{name}/run'].post && doc.paths['/sessions/{name}/fork'].post);
    for (const n of ['h1f', 'h2']) assert.equal((await call('DELETE', `/sessions/${n}`)).status, 200);
    assert.equal((await postJson(s, '/sessions/h2/run', { code: '1' })).status, 404);
    assert.equal((await postJson(s, '/sessions', { language: 'cobol' })).status, 400);
  });

  test('MCP: session tools keep state between calls', async () => {
    const client = new McpClient({ name: 'agentkernel-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${s.key}` } } }));
    try {
      const tool = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as any;
      assert.equal((await tool('session_create', { name: 'm1', language: 'javascript' })).structuredContent.name, 'm1');
      await tool('session_run', { name: 'm1', code: 'var items = [1, 2]' });
      await tool('session_snapshot', { name: 'm1' });
      await tool('session_run', { name: 'm1', code: 'items.push(3)' });
      assert.equal((await tool('session_run', { name: 'm1', code: 'console.log(items.length)' })).structuredContent.stdout, '3\n');
      await tool('session_restore', { name: 'm1' });
      assert.equal((await tool('session_run', { name: 'm1', code: 'console.log(items.length)' })).structuredContent.stdout, '2\n');
      assert.match((await tool('session_list', {})).content[0].text, /m1\tjavascript/);
      const missing = await tool('session_run', { name: 'nope', code: '1' });
      assert.equal(missing.isError, true);
      assert.match(missing.content[0].text, /NOT_FOUND: no session named 'nope'/);
      await tool('session_close', { name: 'm1' });
    } finally {
      await client.close();
    }
  });

  test('SDK: over HTTP (no tools there) and in-process with tools', async () => {
    const remote = await CodeSession.create('javascript', { baseUrl: s.url, apiKey: s.key });
    try {
      await remote.run('globalThis.k = "v"');
      assert.equal((await remote.run('console.log(k)')).stdout, 'v\n');
      assert.throws(() => remote.registerTool('t', {}, () => 1), { code: 'UNSUPPORTED' });
      const forked = await remote.fork();
      assert.equal((await forked.run('console.log(k)')).stdout, 'v\n');
      await forked.close();
    } finally {
      await remote.close();
    }
    const kernel = new AgentKernel({ overrides: { backend: 'wasm' } });
    try {
      const local = await CodeSession.local('javascript', { kernel });
      local.registerTool('weather', z.object({ city: z.string() }), ({ city }: { city: string }) => ({ city, tempC: 21.5 }));
      const r = await local.run('const w = tools.weather({ city: "Oslo" }); console.log(w.city, w.tempC)');
      assert.equal(r.stdout, 'Oslo 21.5\n', r.stderr);
      const bad = await local.run('tools.weather({ town: "Oslo" })');
      assert.equal(bad.exitCode, 1);
      assert.equal(bad.error?.name, 'ToolError');
      assert.match(bad.error?.message ?? '', /invalid arguments for tool 'weather'.*city/);
      assert.deepEqual(local.tools().map((t) => t.name), ['weather']);
      await local.close();
    } finally {
      await closeKernel(kernel);
    }
  });

  test('CLI: separate processes share a session on the server; without one it says so', async () => {
    const home = tempHome();
    const env = { AGENTKERNEL_API_KEY: s.key };
    const sh = (...args: string[]) => cli(['session', ...args, '--url', s.url], { home, env });
    const created = await sh('create', 'javascript', '--name', 'c1');
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'c1');
    assert.equal((await sh('run', 'c1', 'var total = 40')).code, 0);
    const r = await sh('run', 'c1', 'console.log(total + 2)');
    assert.equal(r.stdout, '42\n', r.stderr);
    assert.match((await sh('snapshot', 'c1', 'forty')).stdout, /^forty\t\d+ bytes/);
    assert.equal((await sh('fork', 'c1', '--name', 'c2')).stdout.trim(), 'c2');
    assert.match((await sh('list')).stdout, /c1\tjavascript\twasm\t\d+ calls\tforty/);
    assert.equal((await sh('rm', 'c2')).code, 0);
    assert.equal((await sh('rm', 'c1')).code, 0);
    const none = await cli(['session', 'list'], { home, env: { AGENTKERNEL_URL: '' } });
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no daemon is running: start one with `agentkernel daemon start`/);
  });
});
