/** MCP over streamable HTTP at /mcp of a real server: same tools, behind the same token, with live progress. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestServer, wasmUnavailable, type TestServer } from '../api/helpers.js';

const skip = await wasmUnavailable();

type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: any };

describe('MCP over streamable HTTP', { skip }, () => {
  let s: TestServer;
  const connect = async (key: string) => {
    const client = new Client({ name: 'agentkernel-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    return client;
  };
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
  });

  test('a client with the token lists the tools and runs code', async () => {
    const client = await connect(s.key);
    try {
      assert.equal((await client.listTools()).tools.length, 19);
      const r = (await client.callTool({ name: 'run_code', arguments: { language: 'javascript', code: 'console.log([1,2,3].length)' } })) as ToolResult;
      assert.equal(r.structuredContent.exit_code, 0);
      assert.equal(r.structuredContent.stdout, '3\n');
    } finally {
      await client.close();
    }
  });

  test('guest output is forwarded as progress notifications when the client asks for progress', async () => {
    const client = await connect(s.key);
    try {
      const progress: string[] = [];
      const r = (await client.callTool(
        { name: 'sandbox_run', arguments: { command: ['sh', '-c', 'echo first; echo second >&2'] } },
        undefined,
        { onprogress: (p) => progress.push(p.message ?? '') },
      )) as ToolResult;
      assert.equal(r.structuredContent.exit_code, 0);
      assert.equal(progress.join(''), 'first\nsecond\n');
    } finally {
      await client.close();
    }
  });

  test('the endpoint is stateless: GET and DELETE are 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${s.url}/mcp`, { method, headers: { authorization: `Bearer ${s.key}`, accept: 'text/event-stream' } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
      await res.body?.cancel();
    }
  });

  test('a wrong token is refused before the MCP handshake', async () => {
    await assert.rejects(connect('not-the-key-at-all'), /401|Unauthorized|invalid bearer token/i);
  });
});
