/**
 * The HTTP API's defences, each a small middleware: a bearer token on everything but /health (compared in
 * constant time), refusal of cross-origin browser requests (no CORS, ever), and strict content types so that a
 * browser's "simple" requests (text/plain, form posts) can never reach a handler.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { HttpRefusal } from './errors.js';
import { header } from './node-request.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time: both sides are hashed to equal-length digests first, so neither length nor content leaks. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function bearerAuth(key: string, publicPaths: ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    if (!publicPaths.has(c.req.path)) {
      const h = header(c, 'authorization') ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      if (!m) throw new HttpRefusal('UNAUTHORIZED', 'missing bearer token: send "Authorization: Bearer <key>" (the key is in AGENTKERNEL_API_KEY or the api-key file written by `agentkernel serve`)', { 'WWW-Authenticate': 'Bearer' });
      if (!tokenMatches(m[1]!, key)) throw new HttpRefusal('UNAUTHORIZED', 'invalid bearer token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    }
    await next();
  };
}

/**
 * Browsers send Origin on cross-origin requests (and on every POST). Anything other than the server's own
 * origin is refused, which also defeats DNS rebinding: the allowed list is built from the address the server
 * listens on, never from the request's Host header.
 */
export function sameOriginOnly(allowed: () => ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    const origin = header(c, 'origin');
    if (origin !== undefined && !allowed().has(origin.toLowerCase())) {
      throw new HttpRefusal('FORBIDDEN', `cross-origin requests are refused (Origin: ${origin})`);
    }
    await next();
  };
}

/** Origins that are this server itself: its host and port, plus the loopback names when bound to loopback. */
export function ownOrigins(host: string, port: number, extra: readonly string[] = []): Set<string> {
  const hosts = new Set([host.includes(':') && !host.startsWith('[') ? `[${host}]` : host]);
  if (['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) for (const h of ['127.0.0.1', 'localhost', '[::1]']) hosts.add(h);
  const out = new Set<string>();
  for (const h of hosts) out.add(`http://${h}:${port}`.toLowerCase());
  for (const o of extra) out.add(o.toLowerCase());
  return out;
}

function mediaType(c: Context): string | undefined {
  return header(c, 'content-type')?.split(';')[0]?.trim().toLowerCase();
}

/** JSON bodies only: a text/plain or form body (what a browser may send without a preflight) is refused. */
export function requireMediaType(c: Context, expected: 'application/json' | 'application/octet-stream'): void {
  const t = mediaType(c);
  if (t !== expected) {
    throw new HttpRefusal('UNSUPPORTED_MEDIA_TYPE', `expected Content-Type: ${expected}${t ? `, got ${t}` : ''}`);
  }
}

/** For routes without a body: none may come, or it must be JSON (an empty object). */
export function refuseForeignBody(c: Context): void {
  const t = mediaType(c);
  if (t !== undefined && t !== 'application/json') {
    throw new HttpRefusal('UNSUPPORTED_MEDIA_TYPE', `this endpoint takes no body (got Content-Type: ${t})`);
  }
}
