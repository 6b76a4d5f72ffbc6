/** Components through the interfaces: the SDK over a real HTTP server (POST /component), and the MCP tool. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { Client, ValidationError } from '../../src/sdk/index.js';
import { startTestServer, wasmUnavailable, type TestServer } from '../api/helpers.js';
import { ECHO, LIBRARY } from './fixtures.js';

const skip = await wasmUnavailable();

describe('components over HTTP, the SDK and MCP', { skip }, () => {
  let s: TestServer;
  let library: Uint8Array;
  before(async () => {
    s = await startTestServer();
    library = await parse(LIBRARY);
  });
  after(async () => {
    await s?.close();
  });

  it('the SDK runs a command component and invokes an export over HTTP', async () => {
    const client = new Client({ baseUrl: s.url, apiKey: s.key });
    const out: string[] = [];
    const r = await client.runComponent(await parse(ECHO), { args: ['a'], stdin: 'in', onStdout: (t) => out.push(t) });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^hello from component\narg:component\.wasm\narg:a\n/);
    assert.equal(out.join(''), r.stdout);
    const v = await client.runComponent(library, { invoke: 'area', args: [{ tag: 'square', val: 3 }] });
    assert.equal(v.value, 9);
    await assert.rejects(client.runComponent(library, { invoke: 'greet', args: [1] }), ValidationError);
  });

  it('the MCP tool run_component returns the value', async () => {
    const mcp = new McpClient({ name: 'agentkernel-test', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${s.key}` } } }));
    try {
      const r = (await mcp.callTool({ name: 'run_component', arguments: { wat: LIBRARY, invoke: 'checked-div', args: [9, 3] } })) as {
        structuredContent?: { exit_code: number; value: unknown }; content: { text: string }[];
      };
      assert.deepEqual(r.structuredContent?.value, { ok: 3 });
      assert.match(r.content[0]!.text, /value: \{"ok":3\}/);
    } finally {
      await mcp.close();
    }
  });
});
