/**
 * The fast lane: the plain run routes (POST /run, /code, /wasm, /component: the routes with a `direct` form)
 * answered straight from node's request and response, without hono's Request, Context, middleware chain and
 * Response, which on a small run cost about as much CPU as the run itself. The defences are the same checks as
 * hono's middleware (security.ts, body.ts) in the same order, and the answers (status, headers, envelope) are
 * the ones hono gives. Anything else (another method or path, even one hono would route to the same handler
 * after decoding it) is left to hono.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { ApiContext } from './operations.js';
import { ROUTES, type RouteSpec } from './routes.js';
import { JSON_RESPONSE_HEADERS, bearerCheck, checkMediaType, checkOrigin } from './security.js';
import { checkDeclaredLength, parseJson, tooLarge } from './body.js';
import { errorAnswer } from './errors.js';
import { nodeHeader, readIncoming, responseSignal } from './node-request.js';

export interface FastLaneOptions {
  ctx: ApiContext;
  apiKey: string;
  /** The origins that count as this server's own (as for the app). */
  origins: () => ReadonlySet<string>;
  maxBodyBytes: number;
}

/** True when the lane took the request (it then answers it); false leaves it to the next listener. */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => boolean;

export function fastLane(o: FastLaneOptions, routes: readonly RouteSpec[] = ROUTES): FastLane {
  const direct = new Map<string, RouteSpec>();
  for (const r of routes) if (r.direct && r.method === 'post' && r.body && r.body !== 'bytes') direct.set(r.path, r);
  const bearer = bearerCheck(o.apiKey);
  const tooBig = () => tooLarge(o.maxBodyBytes);

  async function answer(req: IncomingMessage, res: ServerResponse, route: RouteSpec): Promise<void> {
    let reading = false;
    try {
      checkOrigin(nodeHeader(req, 'origin'), o.origins());
      bearer(nodeHeader(req, 'authorization'));
      checkDeclaredLength(nodeHeader(req, 'content-length'), o.maxBodyBytes);
      checkMediaType(nodeHeader(req, 'content-type'), 'application/json');
      reading = true;
      const body = parseJson(await readIncoming(req, o.maxBodyBytes, tooBig), route.body as z.ZodType);
      send(res, 200, { success: true, data: await route.direct!(o.ctx, body, { signal: responseSignal(res) }) });
    } catch (e) {
      const a = errorAnswer(e);
      // the rest of a body left unread cannot be skipped to reach the next request on this connection
      send(res, a.status, a.body, reading && !req.complete ? { ...a.headers, Connection: 'close' } : a.headers);
    }
  }

  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const route = direct.get(q < 0 ? url : url.slice(0, q));
    if (!route) return false;
    answer(req, res, route).catch(() => res.destroy());
    return true;
  };
}

function send(res: ServerResponse, status: number, payload: unknown, extra?: Record<string, string>): void {
  const json = JSON.stringify(payload);
  const headers: Record<string, string | number> = { ...JSON_RESPONSE_HEADERS, 'Content-Length': Buffer.byteLength(json) };
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(json);
}
