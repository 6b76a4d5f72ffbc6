/**
 * The HTTP API on a socket. Binds 127.0.0.1 unless told otherwise; port 0 picks a free port (tests). `close()`
 * ends open streams too, so a stopping server never waits on a client that keeps a stream open.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Limits } from '../../core/types.js';
import type { AgentKernel } from '../../service/kernel.js';
import { createApp } from './app.js';
import { ownOrigins } from './security.js';

const REQUEST_RECEIVE_TIMEOUT_MS = 60_000;
const HEADERS_TIMEOUT_MS = 15_000;

export interface ServerOptions {
  kernel: AgentKernel;
  apiKey: string;
  /** Address to bind. @default '127.0.0.1' */
  host?: string;
  /** Port to bind; 0 picks a free one. @default 18888 */
  port?: number;
  /** Defaults and maxima of each run. @default kernel.settings.limits */
  limits?: Limits;
  /** Largest request body accepted. @default 10 MiB */
  maxBodyBytes?: number;
  /** Extra origins to accept besides the server's own (e.g. a local web UI served elsewhere). @default [] */
  allowedOrigins?: string[];
  /** Serve MCP at /mcp. @default true */
  mcp?: boolean;
}

export interface RunningServer {
  host: string;
  port: number;
  /** e.g. http://127.0.0.1:18888 */
  url: string;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  let origins: ReadonlySet<string> = new Set();
  const app = createApp({
    kernel: opts.kernel, apiKey: opts.apiKey, limits: opts.limits, maxBodyBytes: opts.maxBodyBytes, mcp: opts.mcp,
    origins: () => origins,
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: opts.port ?? 18888, overrideGlobalObjects: false }, () => resolve(s as Server)) as Server;
    s.once('error', reject);
  });
  // a client gets this long to send its whole request (headers and body); responses may stream for longer
  server.requestTimeout = REQUEST_RECEIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  const port = (server.address() as AddressInfo).port;
  origins = ownOrigins(host, port, opts.allowedOrigins);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    url: `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
