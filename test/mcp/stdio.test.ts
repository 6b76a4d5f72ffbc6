/** `agentkernel mcp-server` over stdio, driven by the real MCP client, against the real `wasm` backend. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, REPO, tempHome } from '../helpers/cli.js';
import { wasmUnavailable, HELLO_WAT } from '../api/helpers.js';

const skip = await wasmUnavailable();

const TOOL_NAMES = ['run_code', 'run_component', 'run_wasm', 'sandbox_create', 'sandbox_exec', 'sandbox_file_read', 'sandbox_file_write', 'sandbox_list',
  'sandbox_remove', 'sandbox_run', 'sandbox_start', 'sandbox_stop', 'session_close', 'session_create', 'session_fork', 'session_list',
  'session_restore', 'session_run', 'session_snapshot'];

type ToolResult = { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: any };

describe('MCP over stdio', { skip }, () => {
  const home = tempHome();
  const env = { ...process.env, AGENTKERNEL_HOME: home, AGENTKERNEL_BACKEND: 'wasm' } as Record<string, string>;
  let client: Client;
  let stderr = '';
  const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as ToolResult;

  before(async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp-server'], env, cwd: REPO, stderr: 'pipe' });
    transport.stderr?.on('data', (d) => (stderr += d));
    client = new Client({ name: 'agentkernel-test', version: '1.0.0' });
    await client.connect(transport);
  });
  after(async () => {
    await client?.close();
  });

  test('lists every tool with a strict input schema; run tools declare their output schema', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', t.name);
      assert.equal((t.inputSchema as { additionalProperties?: boolean }).additionalProperties, false, t.name);
      assert.ok(t.description, t.name);
    }
    const runCode = tools.find((t) => t.name === 'run_code')!;
    assert.deepEqual(runCode.inputSchema.required, ['language', 'code']);
    assert.ok((runCode.inputSchema.properties as Record<string, unknown>).timeout_ms);
    assert.ok(runCode.outputSchema?.properties?.exit_code);
    assert.ok(!('module_path' in (tools.find((t) => t.name === 'run_wasm')!.inputSchema.properties ?? {})), 'no host paths over MCP');
    assert.ok(!('component_path' in (tools.find((t) => t.name === 'run_component')!.inputSchema.properties ?? {})), 'no host paths over MCP');
  });

  test('run_code returns structured output and a text summary; arguments are honoured', async () => {
    const r = await call('run_code', { language: 'javascript', code: 'console.log(6 * 7)' });
    assert.equal(r.isError, undefined);
    assert.equal(r.structuredContent.exit_code, 0);
    assert.equal(r.structuredContent.stdout, '42\n');
    assert.equal(r.structuredContent.stdout_truncated, false);
    assert.match(r.content[0]!.text, /exit_code: 0[\s\S]*42/);

    const env = await call('run_code', { language: 'shell', code: 'echo "$A"; cat', env: { A: 'b' }, stdin: 'in' });
    assert.equal(env.structuredContent.stdout, 'b\nin');
    const slow = await call('run_code', { language: 'javascript', code: 'for (;;) {}', timeout_ms: 300 });
    assert.equal(slow.structuredContent.exit_code, 124);
    assert.equal(slow.structuredContent.timed_out, true);
    const capped = await call('run_code', { language: 'javascript', code: 'console.log("y".repeat(1000))', output_bytes: 10 });
    assert.equal(capped.structuredContent.stdout, 'y'.repeat(10));
    assert.equal(capped.structuredContent.stdout_truncated, true);
  });

  test('run_wasm runs text modules and calls exports; sandbox_run runs a command', async () => {
    const hello = await call('run_wasm', { wat: HELLO_WAT });
    assert.equal(hello.structuredContent.stdout, 'hello from wasm\n');
    const add = await call('run_wasm', { module: Buffer.from(HELLO_WAT).toString('base64'), invoke: 'add', args: [2, 3] });
    assert.deepEqual(add.structuredContent.results, [5]);
    const run = await call('sandbox_run', { command: ['sh', '-c', 'echo hi; exit 2'] });
    assert.equal(run.isError, undefined, 'a non-zero exit is a result');
    assert.equal(run.structuredContent.exit_code, 2);
    assert.equal(run.structuredContent.stdout, 'hi\n');
  });

  test('a sandbox\'s life: create, write, exec, read (text, binary, directory), list, stop, start, remove', async () => {
    const created = await call('sandbox_create', { name: 'mcp-box' });
    assert.equal(created.structuredContent.name, 'mcp-box');
    try {
      assert.equal((await call('sandbox_file_write', { name: 'mcp-box', path: 'notes/a.txt', content: 'hello\n' })).structuredContent.size, 6);
      await call('sandbox_file_write', { name: 'mcp-box', path: '/workspace/bin.dat', content: Buffer.from([0xff, 0, 1]).toString('base64'), encoding: 'base64' });
      const ex = await call('sandbox_exec', { name: 'mcp-box', command: ['sh', '-c', 'cat notes/a.txt; echo "$X" >&2'], env: { X: 'z' }, cwd: '/workspace' });
      assert.equal(ex.structuredContent.stdout, 'hello\n');
      assert.equal(ex.structuredContent.stderr, 'z\n');
      const text = await call('sandbox_file_read', { name: 'mcp-box', path: 'notes/a.txt' });
      assert.deepEqual(text.structuredContent, { path: 'notes/a.txt', encoding: 'utf8', content: 'hello\n', size: 6 });
      const bin = await call('sandbox_file_read', { name: 'mcp-box', path: 'bin.dat' });
      assert.equal(bin.structuredContent.encoding, 'base64', 'bytes that are not UTF-8 come back as base64');
      assert.deepEqual([...Buffer.from(bin.structuredContent.content, 'base64')], [0xff, 0, 1]);
      const dir = await call('sandbox_file_read', { name: 'mcp-box', path: '.' });
      assert.deepEqual(dir.structuredContent.entries.map((e: { name: string }) => e.name).sort(), ['bin.dat', 'notes']);
      const list = await call('sandbox_list', {});
      assert.ok(list.structuredContent.sandboxes.some((b: { name: string }) => b.name === 'mcp-box'));
      assert.equal((await call('sandbox_stop', { name: 'mcp-box' })).structuredContent.status, 'stopped');
      assert.equal((await call('sandbox_start', { name: 'mcp-box' })).structuredContent.name, 'mcp-box');
    } finally {
      const removed = await call('sandbox_remove', { name: 'mcp-box' });
      assert.equal(removed.isError, undefined);
    }
    const gone = await call('sandbox_exec', { name: 'mcp-box', command: ['sh', '-c', 'true'] });
    assert.equal(gone.isError, true);
    assert.match(gone.content[0]!.text, /^NOT_FOUND: /);
  });

  test('bad arguments and refused paths are isError results with a clear message', async () => {
    const unknown = await call('run_code', { language: 'cobol', code: 'x' });
    assert.equal(unknown.isError, true);
    assert.match(unknown.content[0]!.text, /language/);
    const extra = await call('sandbox_list', { sneaky: true });
    assert.equal(extra.isError, true);
    const traversal = await call('sandbox_file_read', { name: 'whatever', path: '../../etc/passwd' });
    assert.equal(traversal.isError, true);
    assert.match(traversal.content[0]!.text, /^VALIDATION: .*\.\./);
    const badB64 = await call('sandbox_file_write', { name: 'whatever', path: 'x', content: '!!!', encoding: 'base64' });
    assert.match(badB64.content[0]!.text, /^VALIDATION: content is not valid base64/);
  });
});

describe('MCP stdio hygiene', { skip }, () => {
  test('stdout carries only JSON-RPC messages, even while backends start', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp-server'], {
      cwd: REPO, env: { ...process.env, AGENTKERNEL_HOME: tempHome(), AGENTKERNEL_BACKEND: 'wasm' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const rl = createInterface({ input: child.stdout! });
    const answered = new Promise<void>((resolve) => {
      rl.on('line', (l) => {
        lines.push(l);
        if (l.includes('"id":3')) resolve();
      });
    });
    const send = (m: object) => child.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/list' });
    send({ id: 3, method: 'tools/call', params: { name: 'run_code', arguments: { language: 'javascript', code: 'console.log("guest output")' } } });
    await answered;
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
    assert.ok(lines.length >= 3);
    for (const l of lines) assert.equal(JSON.parse(l).jsonrpc, '2.0', l);
    assert.equal(child.exitCode, 0);
  });
});
