/**
 * The HTTP API on a socket. Binds 127.0.0.1 unless told otherwise; port 0 picks a free port (tests). `close()`
 * ends open streams too, so a stopping server never waits on a client that keeps a stream open.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { getRequestListener } from '@hono/node-server';
import { ConflictError, ValidationError } from '../../core/errors.js';
import type { Limits } from '../../core/types.js';
import type { AgentKernel } from '../../service/kernel.js';
import { DEFAULT_MAX_BODY_BYTES, apiContext, createApp } from './app.js';
import { fastLane } from './fast-lane.js';
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
  /**
   * Listen on this unix socket instead of host/port. The socket is made readable and writable by its owner only
   * (mode 0600); a stale socket file left by a dead server is replaced, a live one is an error.
   */
  socketPath?: string;
}

export interface RunningServer {
  host: string;
  port: number;
  /** e.g. http://127.0.0.1:18888, or unix:/path/to/socket */
  url: string;
  socketPath?: string;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  let origins: ReadonlySet<string> = new Set();
  const listener = requestListener(opts, () => origins, opts.socketPath ? undefined : host);
  if (opts.socketPath) return listenOnSocket(listener, opts.socketPath);
  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 18888, host, () => resolve());
  });
  setTimeouts(server);
  const port = (server.address() as AddressInfo).port;
  origins = ownOrigins(host, port, opts.allowedOrigins);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    url: `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`,
    close: () => closeServer(server),
  };
}

/** The fast lane first (plain runs), hono for everything else. */
function requestListener(opts: ServerOptions, origins: () => ReadonlySet<string>, hostname?: string): RequestListener {
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = createApp({ kernel: opts.kernel, apiKey: opts.apiKey, limits: opts.limits, maxBodyBytes, mcp: opts.mcp, origins });
  const fast = fastLane({ ctx: apiContext(opts.kernel, opts.limits), apiKey: opts.apiKey, origins, maxBodyBytes });
  // overrideGlobalObjects: @hono/node-server's lighter Request/Response let a JSON answer be written without a
  // body stream; measured ~15% less CPU per small request here
  const viaHono = getRequestListener(app.fetch, { hostname, overrideGlobalObjects: true });
  return (req, res) => {
    if (!fast(req, res)) void viaHono(req, res);
  };
}

function setTimeouts(server: Server): void {
  // a client gets this long to send its whole request (headers and body); responses may stream for longer
  server.requestTimeout = REQUEST_RECEIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** True when something accepts connections on the socket. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/**
 * Browsers cannot reach a unix socket, so no Origin is this server's own: any request that carries one is refused
 * by the same origin check as on TCP.
 */
async function listenOnSocket(listener: RequestListener, path: string): Promise<RunningServer> {
  try {
    if (!lstatSync(path).isSocket()) throw new ValidationError(`${path} exists and is not a socket: refusing to replace it`, { path });
    if (await socketAnswers(path)) throw new ConflictError(`another server already listens on ${path}`, { path });
    unlinkSync(path); // left behind by a server that died
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  // between listen and chmod only the 0700 directory protects it: the state directory is created that way
  chmodSync(path, 0o600);
  setTimeouts(server);
  return {
    host: 'localhost',
    port: 0,
    url: `unix:${path}`,
    socketPath: path,
    close: async () => {
      await closeServer(server);
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
