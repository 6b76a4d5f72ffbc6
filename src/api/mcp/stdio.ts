/**
 * MCP over stdio. stdout belongs to the protocol: anything else that would print there (a stray console.log in a
 * dependency) is sent to stderr instead, where logs belong.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { ApiContext } from '../http/operations.js';
import { createMcpServer } from './server.js';

/** Serve until stdin closes; resolves then. */
export async function serveStdio(ctx: ApiContext): Promise<void> {
  for (const level of ['log', 'info', 'debug'] as const) console[level] = (...args: unknown[]) => console.error(...args);
  const server = createMcpServer(ctx);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = () => resolve();
  });
  await server.connect(new StdioServerTransport());
  process.stdin.once('end', () => void server.close());
  await closed;
}
