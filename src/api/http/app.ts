/**
 * The HTTP application: the route table wired into hono behind the defences (origin, token, body size, media
 * type), plus the MCP endpoint and the OpenAPI document. Transport-free: server.ts puts it on a socket, tests and
 * embedders may call `app.fetch` directly.
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { Limits } from '../../core/types.js';
import type { AgentKernel } from '../../service/kernel.js';
import { validateSandboxName } from '../../service/store.js';
import { ROUTES, type RouteSpec } from './routes.js';
import { openApiDocument } from './openapi.js';
import { errorResponse } from './errors.js';
import { checkDeclaredLength, parseJson, tooLarge } from './body.js';
import { SECURITY_HEADERS, bearerAuth, refuseForeignBody, requireMediaType, sameOriginOnly } from './security.js';
import type { ApiContext } from './operations.js';
import { mcpHttpHandler } from '../mcp/http.js';
import { VERSION } from './version.js';
import { bodyBytes, header } from './node-request.js';

import { DEFAULT_MAX_BODY_BYTES } from './defaults.js';

export { DEFAULT_MAX_BODY_BYTES };

export interface AppOptions {
  kernel: AgentKernel;
  /** The bearer token every endpoint but /health requires. */
  apiKey: string;
  /** Defaults and maxima of each run. @default kernel.settings.limits */
  limits?: Limits;
  /** Largest request body accepted (413 above it). @default 10 MiB */
  maxBodyBytes?: number;
  /** The origins that count as this server's own (see ownOrigins); a browser request from any other is refused. */
  origins: () => ReadonlySet<string>;
  /** Serve the MCP endpoint at /mcp. @default true */
  mcp?: boolean;
}

/**
 * The request body, read up to `max` bytes (413 beyond). A declared Content-Length above the limit is refused
 * before anything is read; a chunked body is counted as it arrives.
 */
async function readBody(c: Context, max: number): Promise<Uint8Array> {
  checkDeclaredLength(header(c, 'content-length'), max);
  return bodyBytes(c, max, () => tooLarge(max));
}

/** Validate a JSON body: 415 for another media type, 400 for broken JSON or a schema violation. */
async function readJson<T>(c: Context, schema: z.ZodType<T>, max: number): Promise<T> {
  requireMediaType(c, 'application/json');
  return parseJson(await readBody(c, max), schema);
}

/**
 * The URL as the client sent it: URL parsing folds `..` segments away (even %2e%2e), which would silently turn
 * a traversal attempt into a request for another resource. Refuse those outright instead.
 */
function refuseDotSegments(c: Context): void {
  const raw = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url ?? new URL(c.req.url).pathname;
  const path = raw.split('?')[0]!;
  for (const seg of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      throw new ValidationError('malformed percent-encoding in the URL');
    }
    if (decoded === '..' || decoded === '.' || decoded.split(/[/\\]/).includes('..')) {
      throw new ValidationError(`path traversal refused: ${JSON.stringify(raw)}`);
    }
  }
}

function honoPattern(r: RouteSpec): string {
  return r.pattern ?? r.path.replace(/\{(\w+)\}/g, ':$1');
}

/** What the operations see: the kernel and the server's limits (the kernel's own unless given). */
export function apiContext(kernel: AgentKernel, limits?: Limits): ApiContext {
  return { kernel, limits: limits ?? kernel.settings.limits };
}

export function createApp(opts: AppOptions): Hono {
  const ctx = apiContext(opts.kernel, opts.limits);
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = new Hono();
  const publicPaths = new Set(ROUTES.filter((r) => r.public).map((r) => r.path));

  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => errorResponse(c, new NotFoundError(`no such endpoint: ${c.req.method} ${c.req.path}`)));

  // set before the handler runs: hono puts them on the response it builds (c.json, streams, errors); setting them
  // afterwards would copy the finished response once more per request
  app.use('*', async (c, next) => {
    c.header('X-Content-Type-Options', SECURITY_HEADERS['X-Content-Type-Options']);
    c.header('Cache-Control', SECURITY_HEADERS['Cache-Control']);
    await next();
    // a response built by hand (new Response) did not see them
    if (!c.res.headers.has('X-Content-Type-Options')) c.header('X-Content-Type-Options', SECURITY_HEADERS['X-Content-Type-Options']);
  });
  app.use('*', sameOriginOnly(opts.origins));
  app.use('*', bearerAuth(opts.apiKey, publicPaths));
  app.use('*', async (c, next) => {
    refuseDotSegments(c);
    await next();
  });
  // declared oversize bodies are refused before routing, whatever the endpoint (MCP included)
  app.use('*', async (c, next) => {
    checkDeclaredLength(header(c, 'content-length'), maxBody);
    await next();
  });

  for (const r of ROUTES) {
    app.on(r.method.toUpperCase(), honoPattern(r), async (c) => {
      const name = c.req.param('name');
      if (name !== undefined) validateSandboxName(name);
      let body: unknown;
      if (r.body === 'bytes') {
        requireMediaType(c, 'application/octet-stream');
        body = await readBody(c, maxBody);
      } else if (r.body) body = await readJson(c, r.body, maxBody);
      else if (r.method !== 'get') refuseForeignBody(c);
      return r.handler(c, ctx, body);
    });
  }

  app.get('/openapi.json', (c) => c.json(openApiDocument(ROUTES, { version: VERSION, serverUrl: new URL(c.req.url).origin })));

  if (opts.mcp !== false) {
    app.post('/mcp', mcpHttpHandler(ctx, maxBody));
    // stateless MCP: no standalone event stream to GET and no session to DELETE
    app.on(['GET', 'DELETE'], '/mcp', (c) => c.json(
      { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless; POST JSON-RPC messages' }, id: null },
      405, { Allow: 'POST' },
    ));
  }

  return app;
}
