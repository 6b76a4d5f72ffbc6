// Fuzzing the HTTP API and its MCP endpoint on a real loopback server, and `agentkernel mcp-server` over stdio
// (skipped where the wasm backend cannot run).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

// before the server's kernel resolves its state directory: sandboxes the fuzzer creates land here
const home = mkdtempSync(join(tmpdir(), 'ak-fuzz-http-'));
process.env.AGENTKERNEL_HOME = home;
after(() => rmSync(home, { recursive: true, force: true }));

const { fuzzTest } = await import('./runner.js');
const { httpSurface } = await import('./http-surface.js');
const { mcpStdioSurface } = await import('./mcp-stdio-surface.js');

test('fuzzed requests get a well-formed answer, never a server failure or a hung socket', async (t) => {
  await fuzzTest(t, httpSurface);
});

test('fuzzed JSON-RPC lines to the stdio MCP server: answered, stdout stays JSON-RPC, the process lives', async (t) => {
  await fuzzTest(t, mcpStdioSurface);
});
