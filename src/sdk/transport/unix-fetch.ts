/**
 * `fetch` over a unix socket. The daemon listens on a socket in the user's private state directory (file
 * permissions are its first lock, the API key the second), and Node 20's built-in fetch cannot dial one, so this
 * gives HttpTransport the same fetch shape over node:http with `socketPath`, streaming bodies included (SSE).
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';

const NO_BODY = new Set([101, 204, 205, 304]);

export function unixSocketFetch(socketPath: string): typeof fetch {
  return ((input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
    return new Promise<Response>((resolve, reject) => {
      if (init.signal?.aborted) return reject(init.signal.reason ?? new DOMException('aborted', 'AbortError'));
      const req = request({ socketPath, path: `${url.pathname}${url.search}`, method, headers, signal: init.signal ?? undefined }, (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v === undefined) continue;
          for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
        }
        const status = res.statusCode ?? 502;
        const body = NO_BODY.has(status) || method === 'HEAD' ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        if (!body) res.resume();
        resolve(new Response(body, { status, statusText: res.statusMessage, headers: h }));
      });
      // the same shape as fetch's own network failure: a TypeError whose cause says what happened
      req.once('error', (e) => reject(init.signal?.aborted ? e : Object.assign(new TypeError('fetch failed'), { cause: e })));
      const b = init.body;
      if (b === undefined || b === null) req.end();
      else if (typeof b === 'string' || b instanceof Uint8Array) req.end(b);
      else reject(new TypeError('unixSocketFetch sends string or byte bodies only'));
    });
  }) as typeof fetch;
}
