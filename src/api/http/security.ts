/**
 * The HTTP API's defences: a bearer token on everything but /health (compared in constant time), refusal of
 * cross-origin browser requests (no CORS, ever), and strict content types so that a browser's "simple" requests
 * (text/plain, form posts) can never reach a handler. Each is a plain check on a header value, used by the hono
 * middleware and by the fast lane alike.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { HttpRefusal } from './errors.js';
import { header } from './node-request.js';

/** On every response: nothing sniffs a JSON answer into HTML, nothing caches results or errors. */
export const SECURITY_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' } as const;

/** Every JSON answer's headers (hono's c.json adds the same Content-Type). */
export const JSON_RESPONSE_HEADERS = { ...SECURITY_HEADERS, 'Content-Type': 'application/json' } as const;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time: both sides are hashed to equal-length digests first, so neither length nor content leaks. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The bearer check for one key: throws the 401 refusal unless `authorization` carries it. The key's digest is
 * taken once; each request's token is hashed and compared in constant time as in tokenMatches.
 */
export function bearerCheck(key: string): (authorization: string | undefined) => void {
  const expected = digest(key);
  return (authorization) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) throw new HttpRefusal('UNAUTHORIZED', 'missing bearer token: send "Authorization: Bearer <key>" (the key is in AGENTKERNEL_API_KEY or the api-key file written by `agentkernel serve`)', { 'WWW-Authenticate': 'Bearer' });
    if (!timingSafeEqual(digest(m[1]!), expected)) throw new HttpRefusal('UNAUTHORIZED', 'invalid bearer token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  };
}

export function bearerAuth(key: string, publicPaths: ReadonlySet<string>): MiddlewareHandler {
  const check = bearerCheck(key);
  return async (c, next) => {
    if (!publicPaths.has(c.req.path)) check(header(c, 'authorization'));
    await next();
  };
}

/**
 * Browsers send Origin on cross-origin requests (and on every POST). Anything other than the server's own
 * origin is refused, which also defeats DNS rebinding: the allowed list is built from the address the server
 * listens on, never from the request's Host header.
 */
export function checkOrigin(origin: string | undefined, allowed: ReadonlySet<string>): void {
  if (origin !== undefined && !allowed.has(origin.toLowerCase())) {
    throw new HttpRefusal('FORBIDDEN', `cross-origin requests are refused (Origin: ${origin})`);
  }
}

export function sameOriginOnly(allowed: () => ReadonlySet<string>): MiddlewareHandler {
  return async (c, next) => {
    checkOrigin(header(c, 'origin'), allowed());
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

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

/** JSON bodies only: a text/plain or form body (what a browser may send without a preflight) is refused. */
export function checkMediaType(contentType: string | undefined, expected: 'application/json' | 'application/octet-stream'): void {
  const t = mediaType(contentType);
  if (t !== expected) {
    throw new HttpRefusal('UNSUPPORTED_MEDIA_TYPE', `expected Content-Type: ${expected}${t ? `, got ${t}` : ''}`);
  }
}

export function requireMediaType(c: Context, expected: 'application/json' | 'application/octet-stream'): void {
  checkMediaType(header(c, 'content-type'), expected);
}

/** For routes without a body: none may come, or it must be JSON (an empty object). */
export function refuseForeignBody(c: Context): void {
  const t = mediaType(header(c, 'content-type'));
  if (t !== undefined && t !== 'application/json') {
    throw new HttpRefusal('UNSUPPORTED_MEDIA_TYPE', `this endpoint takes no body (got Content-Type: ${t})`);
  }
}
