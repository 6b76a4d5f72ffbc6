/**
 * MCP over streamable HTTP at /mcp, behind the HTTP API's token and origin checks. Stateless: each request gets
 * its own server and transport, so nothing accumulates between clients and no session can be hijacked.
 */
import type { Context } from 'hono';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { ApiContext } from '../http/operations.js';
import { createMcpServer } from './server.js';

export function mcpHttpHandler(ctx: ApiContext, maxBodyBytes: number): (c: Context) => Promise<Response> {
  return async (c) => {
    const server = createMcpServer(ctx);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: false,
      maxRequestBodySize: maxBodyBytes,
    });
    await server.connect(transport);
    const res = await transport.handleRequest(c.req.raw);
    if (!res.body) {
      await server.close();
      return res;
    }
    // the answer may still be streaming: release the pair when it ends or the client goes away
    const release = () => void server.close().catch(() => undefined);
    c.req.raw.signal.addEventListener('abort', release, { once: true });
    const body = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: release }));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
