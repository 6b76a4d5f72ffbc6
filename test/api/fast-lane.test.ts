/**
 * The fast lane (plain runs answered without hono) against a real socket: it takes exactly the routes with a
 * `direct` form, and answers them as hono's app does, defences included. Also the body reader both paths use.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, Agent, type Server, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { AgentKernel } from '../../src/service/kernel.js';
import { apiContext, createApp } from '../../src/api/http/app.js';
import { fastLane } from '../../src/api/http/fast-lane.js';
import { ownOrigins } from '../../src/api/http/security.js';
import { readIncoming } from '../../src/api/http/node-request.js';
import { AbortError } from '../../src/core/errors.js';
import { compileWat } from '../../src/runtimes/wasm/wabt.js';
import { KEY, closeKernel, wasmUnavailable, HELLO_WAT } from './helpers.js';

/** What the lane did not take is answered with this status, so a test can tell who answered. */
const NOT_TAKEN = 599;
const MAX_BODY = 4096;

interface Answer { status: number; headers: IncomingHttpHeaders; body: any }

const skipRun = await wasmUnavailable();

describe('HTTP fast lane', () => {
  let kernel: AgentKernel;
  let server: Server;
  let base: string;
  let port: number;
  let hono: ReturnType<typeof createApp>;
  let helloB64: string;

  before(async () => {
    kernel = new AgentKernel({ overrides: { backend: 'wasm' } });
    let origins: ReadonlySet<string> = new Set();
    const lane = fastLane({ ctx: apiContext(kernel), apiKey: KEY, origins: () => origins, maxBodyBytes: MAX_BODY });
    server = createServer((req, res) => {
      if (lane(req, res)) return;
      req.resume();
      res.writeHead(NOT_TAKEN);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    origins = ownOrigins('127.0.0.1', port);
    hono = createApp({ kernel, apiKey: KEY, origins: () => origins, maxBodyBytes: MAX_BODY });
    helloB64 = Buffer.from(await compileWat(HELLO_WAT)).toString('base64');
  });
  after(async () => {
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      server?.closeAllConnections();
    });
    if (kernel) await closeKernel(kernel);
  });

  const json = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

  function viaLane(method: string, path: string, headers: Record<string, string>, body?: string | Buffer, agent?: Agent): Promise<Answer & { reused: boolean }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent: agent ?? false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined, reused: req.reusedSocket });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async function viaHono(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    // bytes, not a string: a string body would give the request a text/plain type the socket request lacks
    const res = await hono.fetch(new Request(`${base}${path}`, { method, headers, body: body === undefined ? undefined : Buffer.from(body) }));
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.json() };
  }

  /** Status, the headers that carry meaning, and the body: the lane's must be hono's. */
  function assertSameAnswer(lane: Answer, ref: Answer, what: string): void {
    assert.notEqual(lane.status, NOT_TAKEN, `${what}: the lane did not take it`);
    assert.equal(lane.status, ref.status, what);
    for (const h of ['content-type', 'cache-control', 'x-content-type-options', 'www-authenticate']) {
      assert.equal(lane.headers[h], ref.headers[h], `${what}: ${h}`);
    }
    assert.equal(lane.headers['access-control-allow-origin'], undefined, what);
    assert.deepEqual(lane.body, ref.body, what);
  }

  test('refusals and invalid requests get the same answers as through hono', async () => {
    const cases: [string, string, Record<string, string>, string][] = [
      ['no token', '/wasm', { 'content-type': 'application/json' }, '{}'],
      ['wrong token', '/wasm', { ...json, authorization: `Bearer ${KEY}x` }, '{}'],
      ['not a bearer token', '/code', { ...json, authorization: `Basic ${KEY}` }, '{}'],
      ['foreign origin', '/run', { ...json, origin: 'http://evil.example' }, '{"command":["true"]}'],
      ['form body', '/run', { ...json, 'content-type': 'application/x-www-form-urlencoded' }, 'command=true'],
      ['no content type', '/code', { authorization: json.authorization }, '{}'],
      ['broken JSON', '/wasm', json, '{"module":'],
      ['unknown field', '/run', json, '{"command":["true"],"sudo":true}'],
      ['schema violation', '/code', json, '{"language":"cobol","code":""}'],
      ['two module sources', '/wasm', json, '{"wat":"(module)","module":"AGFzbQEAAAA="}'],
      ['over a server limit', '/code', json, JSON.stringify({ language: 'javascript', code: '1', timeout_ms: kernel.settings.limits.timeoutMs + 1 })],
      ['declared body too large', '/component', json, JSON.stringify({ wat: 'x'.repeat(MAX_BODY) })],
    ];
    for (const [what, path, headers, body] of cases) {
      const lane = await viaLane('POST', path, headers, body);
      assert.ok(lane.status >= 400 && lane.status < 500, `${what}: ${lane.status}`);
      assertSameAnswer(lane, await viaHono('POST', path, headers, body), what);
    }
  });

  test('a run answers as through hono, and keep-alive connections are reused', { skip: skipRun }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = JSON.stringify({ module: helloB64 });
      const ref = await viaHono('POST', '/wasm', json, body);
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await viaLane('POST', i === 2 ? '/wasm?trace=1' : '/wasm', json, body, agent));
      for (const a of answers) {
        assert.equal(a.body.data.stdout, 'hello from wasm\n');
        // the run's duration differs from call to call; everything else is the same
        assertSameAnswer({ ...a, body: { ...a.body, data: { ...a.body.data, duration_ms: 0 } } },
          { ...ref, body: { ...ref.body, data: { ...ref.body.data, duration_ms: 0 } } }, 'hello');
      }
      assert.deepEqual(answers.map((a) => a.reused), [false, true, true]);
      const compat = await viaLane('POST', '/code', json, JSON.stringify({ language: 'javascript', code: 'console.log(1)' }));
      assert.equal(compat.status, 200);
      assert.equal(compat.body.data.output, undefined, '/code has no compatibility `output` field');
    } finally {
      agent.destroy();
    }
  });

  test('a chunked body over the limit is refused mid-way and its connection closed', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = JSON.stringify({ language: 'javascript', code: 'x'.repeat(MAX_BODY * 4) });
      const refused = await viaLane('POST', '/code', { ...json, 'transfer-encoding': 'chunked' }, big, agent);
      assert.equal(refused.status, 413);
      assert.equal(refused.body.error.code, 'LIMIT');
      assert.equal(refused.headers.connection, 'close');
      // the next request gets a fresh connection and a normal answer
      const next = await viaLane('POST', '/wasm', json, '{}', agent);
      assert.equal(next.reused, false);
      assert.equal(next.status, 400);
    } finally {
      agent.destroy();
    }
  });

  test('everything else is left to hono: other methods, paths, spellings and routes', async () => {
    for (const [method, path] of [
      ['GET', '/wasm'], ['PUT', '/run'], ['OPTIONS', '/code'], ['POST', '/wasm/'], ['POST', '//wasm'], ['POST', '/WASM'],
      ['POST', '/%77asm'], ['POST', '/wasm/stream'], ['POST', '/sandboxes/box/exec'], ['POST', '/sessions'], ['POST', '/mcp'],
      ['GET', '/health'],
    ]) {
      const a = await viaLane(method!, path!, json, method === 'GET' ? undefined : '{}');
      assert.equal(a.status, NOT_TAKEN, `${method} ${path}`);
    }
  });
});

describe('request bodies read from node', () => {
  /** A server whose one request's body is read by readIncoming, `late` meaning only once the client has gone. */
  async function partialBody(late: boolean): Promise<unknown> {
    let settled!: (outcome: unknown) => void;
    const outcome = new Promise<unknown>((resolve) => (settled = resolve));
    const server = createServer((req) => {
      const read = () => readIncoming(req, 1 << 20, () => new Error('too large')).then((b) => b, (e: unknown) => e).then(settled);
      if (late) req.once('close', read);
      else read();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
      await once(sock, 'connect');
      sock.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"partial":');
      // the server has the headers and part of the body before the client goes
      await new Promise((r) => setTimeout(r, 50));
      sock.destroy();
      return await outcome;
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  test('a client that leaves mid-body ends the read with an AbortError, whenever the read began', { timeout: 20_000 }, async () => {
    for (const late of [false, true]) {
      const got = await partialBody(late);
      assert.ok(got instanceof AbortError, `late=${late}: ${String(got)}`);
    }
  });
});
