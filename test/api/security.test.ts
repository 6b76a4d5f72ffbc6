/** The HTTP API's defences, against a real server: token, origin, media types, body size, traversal. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync, rmSync } from 'node:fs';
import { loadOrCreateApiKey, apiKeyPath, readLocalApiKey } from '../../src/api/http/api-key.js';
import { tokenMatches, ownOrigins } from '../../src/api/http/security.js';
import { ConfigError } from '../../src/core/errors.js';
import { startTestServer, rawRequest, type TestServer } from './helpers.js';

describe('API key', () => {
  test('generated once with mode 0600, then read back; the environment wins', () => {
    rmSync(apiKeyPath(), { force: true });
    const first = loadOrCreateApiKey({});
    assert.equal(first.source, 'generated');
    assert.ok(first.key.length >= 32);
    assert.equal(statSync(apiKeyPath()).mode & 0o777, 0o600);
    const again = loadOrCreateApiKey({});
    assert.deepEqual([again.source, again.key], ['file', first.key]);
    assert.equal(readLocalApiKey({}), first.key);
    assert.equal(loadOrCreateApiKey({ AGENTKERNEL_API_KEY: 'x'.repeat(20) }).key, 'x'.repeat(20));
    assert.throws(() => loadOrCreateApiKey({ AGENTKERNEL_API_KEY: 'short' }), ConfigError);
    assert.equal(readFileSync(apiKeyPath(), 'utf8').trim(), first.key);
  });

  test('tokens compare by digest, whatever their lengths', () => {
    assert.equal(tokenMatches('abc', 'abc'), true);
    assert.equal(tokenMatches('abd', 'abc'), false);
    assert.equal(tokenMatches('', 'abc'), false);
    assert.equal(tokenMatches('abc'.repeat(100), 'abc'), false);
  });

  test('own origins are derived from the bound address, loopback names included', () => {
    const o = ownOrigins('127.0.0.1', 8080, ['http://ui.local:3000']);
    for (const ok of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'http://ui.local:3000']) assert.ok(o.has(ok), ok);
    assert.ok(!o.has('http://evil.example:8080'));
    assert.ok(!ownOrigins('10.0.0.5', 80).has('http://localhost:80'));
  });
});

describe('HTTP defences', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxBodyBytes: 64 * 1024 });
  });
  after(async () => {
    await s?.close();
  });

  test('/health needs no token and names the server process', async () => {
    const res = await fetch(`${s.url}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { success: true, data: 'ok' });
    assert.equal(res.headers.get('x-agentkernel-pid'), String(process.pid));
  });

  test('every other endpoint refuses a missing or wrong token with 401', async () => {
    for (const [path, init] of [
      ['/sandboxes', {}],
      ['/openapi.json', {}],
      ['/backends', {}],
      ['/run', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"command":["true"]}' }],
      ['/mcp', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' }],
    ] as [string, RequestInit][]) {
      const none = await fetch(`${s.url}${path}`, init);
      assert.equal(none.status, 401, path);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const body = (await none.json()) as any;
      assert.equal(body.success, false);
      assert.equal(body.error.code, 'UNAUTHORIZED');
      for (const wrong of ['Bearer wrong', `Bearer ${s.key}x`, `Basic ${s.key}`, s.key]) {
        const res = await fetch(`${s.url}${path}`, { ...init, headers: { ...(init.headers as object), authorization: wrong } });
        assert.equal(res.status, 401, `${path} with ${wrong}`);
        await res.body?.cancel();
      }
    }
  });

  test('a foreign Origin is refused with 403 and no CORS headers; the server\'s own origin passes', async () => {
    const foreign = await fetch(`${s.url}/sandboxes`, { headers: { authorization: `Bearer ${s.key}`, origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as any).error.code, 'FORBIDDEN');
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    const rebinding = await fetch(`${s.url}/sandboxes`, { headers: { authorization: `Bearer ${s.key}`, origin: `http://evil.example:${s.port}`, host: `evil.example:${s.port}` } });
    assert.equal(rebinding.status, 403);
    await rebinding.body?.cancel();
    const preflight = await fetch(`${s.url}/run`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    await preflight.body?.cancel();
    const own = await fetch(`${s.url}/sandboxes`, { headers: { authorization: `Bearer ${s.key}`, origin: s.url } });
    assert.equal(own.status, 200);
    await own.body?.cancel();
  });

  test('CSRF-style bodies (text/plain, forms, no type) are refused with 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const headers: Record<string, string> = { authorization: `Bearer ${s.key}` };
      if (type) headers['content-type'] = type;
      const res = await fetch(`${s.url}/run`, { method: 'POST', headers, body: '{"command":["sh","-c","echo pwned"]}' });
      assert.equal(res.status, 415, String(type));
      assert.equal(((await res.json()) as any).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    }
    const stop = await fetch(`${s.url}/sandboxes/x/stop`, { method: 'POST', headers: { authorization: `Bearer ${s.key}`, 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(stop.status, 415);
    await stop.body?.cancel();
    const put = await fetch(`${s.url}/sandboxes/x/files/a.txt`, { method: 'PUT', headers: s.headers, body: '"x"' });
    assert.equal(put.status, 415);
    await put.body?.cancel();
  });

  test('bodies above the limit get 413, declared or chunked', async () => {
    const big = 'x'.repeat(65 * 1024);
    const declared = await fetch(`${s.url}/code`, { method: 'POST', headers: s.headers, body: JSON.stringify({ language: 'javascript', code: big }) });
    assert.equal(declared.status, 413);
    assert.equal(((await declared.json()) as any).error.code, 'LIMIT');
    const chunked = await rawRequest(s, 'POST', '/code', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, JSON.stringify({ language: 'javascript', code: big }));
    assert.equal(chunked.status, 413);
    const file = await rawRequest(s, 'PUT', '/sandboxes/x/files/big', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, Buffer.alloc(65 * 1024));
    assert.equal(file.status, 413);
  });

  test('bad JSON, unknown fields and values above the server\'s limits are 400 with the field named', async () => {
    const broken = await fetch(`${s.url}/run`, { method: 'POST', headers: s.headers, body: '{"command":' });
    assert.equal(broken.status, 400);
    assert.match(((await broken.json()) as any).error.message, /invalid JSON/);
    const unknown = await fetch(`${s.url}/run`, { method: 'POST', headers: s.headers, body: JSON.stringify({ command: ['true'], sudo: true }) });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as any).error.message, /unknown field sudo/);
    const empty = await fetch(`${s.url}/run`, { method: 'POST', headers: s.headers, body: JSON.stringify({ command: [] }) });
    assert.equal(empty.status, 400);
    assert.match(((await empty.json()) as any).error.message, /^invalid request: command/);
    const over = await fetch(`${s.url}/code`, { method: 'POST', headers: s.headers, body: JSON.stringify({ language: 'python', code: '1', timeout_ms: s.kernel.settings.limits.timeoutMs + 1 }) });
    assert.equal(over.status, 400);
    assert.match(((await over.json()) as any).error.message, /timeout_ms .* above this server's limit/);
    const wasm = await fetch(`${s.url}/wasm`, { method: 'POST', headers: s.headers, body: JSON.stringify({ wat: '(module)', module: 'AGFzbQEAAAA=' }) });
    assert.equal(wasm.status, 400);
    assert.match(((await wasm.json()) as any).error.message, /exactly one of module/);
  });

  test('path traversal in file routes is refused, however it is spelled', async () => {
    for (const path of [
      '/sandboxes/box/files/../../../etc/passwd',
      '/sandboxes/box/files/%2e%2e/%2e%2e/etc/passwd',
      '/sandboxes/box/files/a/..%2F..%2F..%2Fetc%2Fpasswd',
      '/sandboxes/box/files/a/%2E%2E/b',
      '/sandboxes/../sandboxes/box/files/x',
    ]) {
      const res = await rawRequest(s, 'GET', path);
      assert.equal(res.status, 400, path);
      assert.equal(JSON.parse(res.text).error.code, 'VALIDATION', path);
    }
    const nul = await rawRequest(s, 'GET', '/sandboxes/box/files/a%00b');
    assert.equal(nul.status, 400);
    const badName = await rawRequest(s, 'GET', '/sandboxes/bad%20name!/files/x');
    assert.equal(badName.status, 400);
  });

  test('unknown endpoints are 404 in the usual envelope', async () => {
    const res = await fetch(`${s.url}/nope`, { headers: s.headers });
    assert.equal(res.status, 404);
    assert.deepEqual(Object.keys((await res.json()) as object), ['success', 'error']);
  });
});
