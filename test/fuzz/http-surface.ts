/**
 * Fuzzed surface: the HTTP API and its MCP endpoint, on a real server listening on loopback (the portable `wasm`
 * backend behind it). Requests mix every route with fuzzed methods, path segments (dot segments, bad
 * percent-encoding, long names), headers (token, content type, origin, accept) and bodies (valid templates with
 * fields replaced, arbitrary JSON, broken JSON, raw bytes, deep nesting), JSON-RPC messages to /mcp, and raw
 * garbage on the socket.
 *
 * Invariants: every answer arrives (no hung socket) with a status that is not a server failure (500 or
 * unknown 5xx; 501/503/504 only as typed JSON errors), a JSON body is well formed and an error body has
 * {name, code, message}; an event stream ends; the server still answers /health afterwards.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { HELLO_WAT } from '../api/fixtures.js';
import { Tally, type FuzzSurface, type OpenSurface } from './runner.js';

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

type Case = { t: 'http'; req: Req } | { t: 'raw'; bytes: Uint8Array };

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('fz1', 'fz2', 'a.b-c_d') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('..', '.', '%2e%2e', '%2E.', '%', '%zz', '%c0%af', 'a%00b', '%2F', '%2Fetc%2Fpasswd', '..%2F..%2Fx', 'x'.repeat(300), '%ff%fe', '~', '*', '%20'),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~%-]{0,24}$/) },
);

const pathArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('/health', '/backends', '/run', '/run/stream', '/code', '/code/stream', '/wasm', '/wasm/stream', '/sandboxes', '/openapi.json', '/mcp', '/', '/nope'),
  },
  {
    weight: 4,
    arbitrary: fc.tuple(segment, fc.constantFrom('', '/start', '/stop', '/exec', '/exec/stream', '/files', '/files/'), fc.array(segment, { maxLength: 3 }))
      .map(([name, tail, rest]) => `/sandboxes/${name}${tail}${tail === '/files/' ? rest.join('/') : ''}`),
  },
  { weight: 1, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`) },
).chain((p) => fc.oneof({ weight: 5, arbitrary: fc.constant(p) }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9=&%._-]{0,20}$/).map((q) => `${p}?${q}`) }));

/** Request bodies each route takes when valid; fuzzing replaces, drops and adds fields. */
const TEMPLATES: Record<string, unknown>[] = [
  { command: ['echo', 'hi'] },
  { command: ['sh', '-c', 'echo $A'], env: { A: 'b' }, timeout_ms: 2000 },
  { language: 'javascript', code: 'console.log(1 + 1)' },
  { language: 'shell', code: 'echo hi' },
  { wat: HELLO_WAT },
  { wat: HELLO_WAT, invoke: 'add', args: [2, 3] },
  { module: Buffer.from('\0asm\x01\0\0\0').toString('base64') },
  { name: 'fz1' },
  { name: 'fz2', memory_mb: 64, env: { X: 'y' } },
];
const FIELDS = ['command', 'language', 'code', 'wat', 'module', 'module_path', 'invoke', 'args', 'env', 'cwd', 'stdin', 'timeout_ms', 'memory_mb', 'output_bytes', 'backend', 'profile', 'name', 'image', 'cpus', 'network', '__proto__', 'constructor'];
const odd = fc.constantFrom<unknown>(
  -1, 0, 2 ** 53, 1e308, -0, 0.5, '', 'x'.repeat(5000), '\u0000', '\ud800', [], {}, null, true, ['\u0000'], { toString: 1 },
  'python', 'javascript', 'docker', 'hyperlight', 'wasm', '/etc/passwd.wasm', '../x', 'strict',
);
const value = fc.oneof({ weight: 2, arbitrary: odd }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });

/** The route each template is valid for. */
const TEMPLATE_PATHS = ['/run', '/run/stream', '/code', '/code/stream', '/wasm', '/wasm', '/wasm', '/sandboxes', '/sandboxes'];

const editedTemplate = (base: fc.Arbitrary<number>): fc.Arbitrary<Record<string, unknown>> => fc.record({
  base,
  edits: fc.oneof(fc.constant([]), fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.option(value, { nil: undefined })), { minLength: 1, maxLength: 3 })),
}).map(({ base, edits }) => {
  const o: Record<string, unknown> = { ...TEMPLATES[base] };
  for (const [k, v] of edits) {
    if (v === undefined) delete o[k];
    else Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
});
const templateArb = editedTemplate(fc.nat(TEMPLATES.length - 1));

const TOOLS = ['run_code', 'run_wasm', 'run_component', 'sandbox_run', 'sandbox_create', 'sandbox_exec', 'sandbox_list', 'sandbox_remove', 'sandbox_file_read', 'sandbox_file_write', 'sandbox_start', 'sandbox_stop', 'nope'];
export const rpcArb: fc.Arbitrary<unknown> = fc.record({
  jsonrpc: fc.oneof({ weight: 8, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: value }),
  id: fc.oneof(fc.nat(1000), fc.string({ maxLength: 8 }), fc.constant(null), value),
  method: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('initialize', 'tools/list', 'tools/call', 'ping', 'notifications/initialized', 'resources/list', 'prompts/get', 'logging/setLevel') },
    { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
  ),
  params: fc.oneof(
    { weight: 4, arbitrary: fc.record({ name: fc.constantFrom(...TOOLS), arguments: fc.oneof(templateArb, value) }) },
    { weight: 1, arbitrary: fc.record({ protocolVersion: fc.constantFrom('2025-06-18', '2024-11-05', 'x'), capabilities: value, clientInfo: value }) },
    { weight: 1, arbitrary: value },
  ),
}, { requiredKeys: ['jsonrpc', 'method'] });

const bodyArb: fc.Arbitrary<Uint8Array | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 8, arbitrary: templateArb.map((o) => enc(JSON.stringify(o))) },
  { weight: 4, arbitrary: fc.oneof(rpcArb, fc.array(rpcArb, { maxLength: 3 })).map((o) => enc(JSON.stringify(o))) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((o) => enc(JSON.stringify(o))) },
  { weight: 1, arbitrary: fc.tuple(templateArb, fc.nat()).map(([o, n]) => { const s = JSON.stringify(o); return enc(s.slice(0, n % (s.length + 1))); }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map((n) => enc('['.repeat(n) + ']'.repeat(n % 3 === 0 ? n : 0))) },
);

const headersArb = (key: string, own: string): fc.Arbitrary<Record<string, string>> => fc.record({
  authorization: fc.oneof({ weight: 10, arbitrary: fc.constant(`Bearer ${key}`) }, { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer x', `bearer  ${key}  `, `Basic ${key}`, `Bearer ${key}x`) }),
  'content-type': fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 3, arbitrary: fc.constantFrom('application/octet-stream', 'text/plain', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', ';', 'application/json;;') },
  ),
  accept: fc.oneof({ weight: 3, arbitrary: fc.constant('application/json, text/event-stream') }, { weight: 1, arbitrary: fc.constantFrom('*/*', 'text/event-stream', 'application/json', 'x') }),
  origin: fc.oneof({ weight: 12, arbitrary: fc.constant('') }, { weight: 2, arbitrary: fc.constant(own) }, { weight: 1, arbitrary: fc.constantFrom('http://127.0.0.1', 'http://evil.example', 'null') }),
}).map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== '')));

const methodArb = fc.oneof({ weight: 6, arbitrary: fc.constant('POST') }, { weight: 3, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') });

/** A route with a body meant for it (edited or not): requests that pass validation and run. */
const matchedArb = (key: string, own: string): fc.Arbitrary<Req> => fc.nat(TEMPLATES.length - 1).chain((i) =>
  fc.record({
    method: fc.constant('POST'),
    path: fc.constant(TEMPLATE_PATHS[i]!),
    headers: headersArb(key, own),
    body: editedTemplate(fc.constant(i)).map((o) => enc(JSON.stringify(o))),
  }),
);

export const httpCaseArb = (key: string, own: string): fc.Arbitrary<Case> => fc.oneof(
  { weight: 10, arbitrary: matchedArb(key, own).map((req): Case => ({ t: 'http', req })) },
  {
    weight: 6,
    arbitrary: fc.record({
      method: fc.constant('POST'),
      path: fc.constant('/mcp'),
      headers: headersArb(key, own),
      body: fc.oneof(rpcArb, fc.array(rpcArb, { maxLength: 3 })).map((o) => enc(JSON.stringify(o))),
    }).map((req): Case => ({ t: 'http', req })),
  },
  { weight: 30, arbitrary: fc.record({ method: methodArb, path: pathArb, headers: headersArb(key, own), body: bodyArb }).map((req): Case => ({ t: 'http', req })) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom('GET / HTTP/1.1\r\n\r\n', 'POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{', 'GET /health HTTP/9.9\r\n\r\n', 'POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', '\r\n\r\n').map(enc),
    ).map((bytes): Case => ({ t: 'raw', bytes })),
  },
);

export interface Answer {
  status: number;
  type: string;
  body: Buffer;
}

/** One request exactly as generated (no URL normalisation), answered within `ms` or it is a hang. */
export function send(host: string, port: number, req: Req, ms: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host, port, method: req.method, path: req.path, headers: req.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      r.destroy();
      reject(new Error(`hang: ${req.method} ${req.path} got no complete answer within ${ms} ms`));
    }, ms);
    r.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (req.body) r.write(req.body);
    r.end();
  });
}

/** Raw bytes on a fresh connection: the server must answer or close it (after our half-close) in time. */
function sendRaw(host: string, port: number, bytes: Uint8Array, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`hang: raw bytes got neither an answer nor a close within ${ms} ms: ${JSON.stringify(Buffer.from(bytes).toString('latin1'))}`));
    }, ms);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => undefined); // a reset is a close
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got.split('\r\n')[0] ?? '');
    });
    s.write(bytes);
    s.end();
  });
}

const TYPED_5XX = new Set([501, 503, 504]);

/** Checks one answer; returns a short kind for the tally. */
export function checkAnswer(req: Req, a: Answer): string {
  const what = `${req.method} ${req.path} -> ${a.status} ${a.body.toString('utf8').slice(0, 300)}`;
  assert.ok(a.status >= 200 && a.status < 600 && a.status !== 500 && (a.status < 500 || TYPED_5XX.has(a.status) || a.status === 499), `server failure: ${what}`);
  const kind = `${req.path.startsWith('/mcp') ? 'mcp ' : ''}${a.status}`;
  if (req.method === 'HEAD' || a.body.byteLength === 0) return kind;
  if (a.type.startsWith('application/json')) {
    let body: any;
    assert.doesNotThrow(() => (body = JSON.parse(a.body.toString('utf8'))), `malformed JSON: ${what}`);
    if (body?.success === false || (a.status >= 400 && !req.path.startsWith('/mcp'))) {
      // the API's own refusals (token, origin, body size) come before /mcp too
      assert.equal(body?.success, false, `error without success: false: ${what}`);
      for (const k of ['name', 'code', 'message']) assert.equal(typeof body?.error?.[k], 'string', `error body lacks ${k}: ${what}`);
      assert.notEqual(body.error.code, 'INTERNAL', `internal error: ${what}`);
    } else if (req.path.startsWith('/mcp')) {
      const msgs = Array.isArray(body) ? body : [body];
      for (const m of msgs) assert.equal(m?.jsonrpc, '2.0', `not a JSON-RPC message: ${what}`);
      assert.ok(a.status < 500, `MCP server failure: ${what}`);
    } else if (!req.path.startsWith('/openapi.json')) {
      assert.equal(body?.success, true, `a success without success: true: ${what}`);
    }
  } else if (a.type.startsWith('text/event-stream')) {
    // the stream ended (send() waited for its end); its events carry JSON
    for (const line of a.body.toString('utf8').split('\n')) {
      if (line.startsWith('data:')) assert.doesNotThrow(() => JSON.parse(line.slice(5)), `malformed event data: ${what}`);
    }
  } else {
    assert.ok(a.status < 300 && a.type.startsWith('application/octet-stream'), `unexpected answer type ${a.type}: ${what}`);
  }
  return kind;
}

export const httpSurface: FuzzSurface = {
  name: 'http',
  ciRuns: 150,
  async open(): Promise<OpenSurface | { skip: string }> {
    const { startTestServer, wasmUnavailable } = await import('../api/helpers.js');
    const why = await wasmUnavailable();
    if (why) return { skip: why };
    const { AgentKernel } = await import('../../src/service/kernel.js');
    const kernel = new AgentKernel({ overrides: { backend: 'wasm' } });
    const s = await startTestServer({ kernel, limits: { ...kernel.settings.limits, timeoutMs: 3000 }, maxBodyBytes: 1 << 20 });
    const tally = new Tally();
    const healthy = async (): Promise<void> => {
      const a = await send(s.host, s.port, { method: 'GET', path: '/health', headers: {} }, 30_000);
      assert.equal(a.status, 200, 'the server no longer answers /health');
    };
    return {
      property: fc.asyncProperty(httpCaseArb(s.key, s.url), async (c) => {
        if (c.t === 'raw') {
          tally.add(`raw ${(await sendRaw(s.host, s.port, c.bytes, 30_000)).split(' ')[1] ?? 'closed'}`);
          return;
        }
        tally.add(checkAnswer(c.req, await send(s.host, s.port, c.req, 60_000)));
      }),
      async healthy() {
        await healthy();
        if (tally.total() >= 100) assert.ok(tally.get('200') > 0 && tally.get('400') > 0, JSON.stringify(tally.counts));
      },
      stats: () => tally.counts,
      async close() {
        await s.close();
        const { closeKernel } = await import('../api/helpers.js');
        await closeKernel(kernel);
      },
    };
  },
};
