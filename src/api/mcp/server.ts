/**
 * The MCP server: every tool of tools.ts registered on one McpServer bound to an AgentKernel. The same server
 * definition runs over stdio (`agentkernel mcp-server`) and over streamable HTTP (/mcp under `agentkernel serve`).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ApiContext } from '../http/operations.js';
import { VERSION } from '../http/version.js';
import { TOOLS, errorResult, progressSender } from './tools.js';

export function createMcpServer(ctx: ApiContext): McpServer {
  const server = new McpServer(
    { name: 'agentkernel', title: 'agentkernel sandboxes', version: VERSION },
    {
      instructions: 'Run untrusted code in isolated sandboxes: run_code for snippets, sandbox_run for one-off commands, '
        + 'sandbox_create + sandbox_exec + sandbox_file_* for work that keeps files between steps. '
        + 'A non-zero exit_code is a result, not a failure.',
    },
  );
  for (const t of TOOLS) {
    server.registerTool(
      t.name,
      { title: t.title, description: t.description, inputSchema: t.input, outputSchema: t.output, annotations: t.annotations },
      async (args: unknown, extra) => {
        try {
          return await t.run(ctx, args as never, {
            signal: extra.signal,
            progress: progressSender(extra._meta?.progressToken, extra.sendNotification),
          });
        } catch (e) {
          return errorResult(e);
        }
      },
    );
  }
  return server;
}
