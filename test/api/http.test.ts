/** Every endpoint of the HTTP API against a real server and the real `wasm` backend. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, wasmUnavailable, postJson, HELLO_WAT, type TestServer } from './helpers.js';

const skip = await wasmUnavailable();

describe('HTTP API', { skip }, () => {
  let s: TestServer;
  const auth = () => ({ authorization: `Bearer ${s.key}` });
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
  });

  test('GET /backends lists every backend with its availability', async () => {
    const res = await fetch(`${s.url}/backends`, { headers: auth() });
    assert.equal(res.status, 200);
    const { success, data } = (await res.json()) as { success: boolean; data: { name: string; available: boolean }[] };
    assert.equal(success, true);
    assert.equal(data.find((b) => b.name === 'wasm')?.available, true);
  });

  test('GET /openapi.json is OpenAPI 3.1 generated from the request schemas', async () => {
    const res = await fetch(`${s.url}/openapi.json`, { headers: auth() });
    const doc = (await res.json()) as any;
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/health', '/run', '/run/stream', '/code', '/code/stream', '/wasm', '/backends', '/sandboxes', '/sandboxes/{name}',
      '/sandboxes/{name}/start', '/sandboxes/{name}/stop', '/sandboxes/{name}/exec', '/sandboxes/{name}/exec/stream', '/sandboxes/{name}/files/{path}']) {
      assert.ok(doc.paths[p], p);
    }
    const run = doc.paths['/run'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(run.required, ['command']);
    assert.equal(run.additionalProperties, false);
    assert.equal(run.properties.timeout_ms.type, 'integer');
    assert.deepEqual(doc.paths['/code'].post.requestBody.content['application/json'].schema.properties.language.enum, ['javascript', 'python', 'shell']);
    assert.ok(doc.paths['/run'].post.responses['200'].content['application/json'].schema.properties.data.properties.exit_code);
    assert.deepEqual(doc.paths['/health'].get.security, []);
    assert.ok(doc.paths['/sandboxes/{name}/files/{path}'].put.requestBody.content['application/octet-stream']);
  });

  test('POST /code runs JavaScript; an uncaught exception is a result (200) with exit code 1', async () => {
    const ok = await postJson(s, '/code', { language: 'javascript', code: 'console.log(6 * 7)' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.success, true);
    assert.equal(ok.body.data.exit_code, 0);
    assert.equal(ok.body.data.stdout, '42\n');
    assert.equal(ok.body.data.backend, 'wasm');
    const thrown = await postJson(s, '/code', { language: 'javascript', code: 'throw new TypeError("boom")' });
    assert.equal(thrown.status, 200);
    assert.equal(thrown.body.data.exit_code, 1);
    assert.equal(thrown.body.data.error.name, 'TypeError');
  });

  test('POST /code honours env, stdin, timeout_ms and output_bytes', async () => {
    const env = await postJson(s, '/code', { language: 'shell', code: 'echo "$GREETING"; cat', env: { GREETING: 'hi' }, stdin: 'from stdin\n' });
    assert.equal(env.body.data.stdout, 'hi\nfrom stdin\n');
    const slow = await postJson(s, '/code', { language: 'javascript', code: 'for (;;) {}', timeout_ms: 300 });
    assert.equal(slow.status, 200);
    assert.equal(slow.body.data.exit_code, 124);
    assert.equal(slow.body.data.timed_out, true);
    const flood = await postJson(s, '/code', { language: 'javascript', code: 'console.log("x".repeat(5000))', output_bytes: 100 });
    assert.equal(flood.body.data.stdout.length, 100);
    assert.equal(flood.body.data.stdout_truncated, true);
  });

  test('POST /run: a non-zero exit is a 200 result, with `output` for clients of the original API', async () => {
    const r = await postJson(s, '/run', { command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
    assert.equal(r.status, 200);
    assert.equal(r.body.data.exit_code, 3);
    assert.equal(r.body.data.stdout, 'out\n');
    assert.equal(r.body.data.stderr, 'err\n');
    assert.equal(r.body.data.output, 'out\n');
  });

  test('POST /run names a program the backend cannot run with 501', async () => {
    const r = await postJson(s, '/run', { command: ['gcc', '--version'] });
    assert.equal(r.status, 501);
    assert.equal(r.body.error.code, 'UNSUPPORTED');
  });

  test('POST /wasm runs a module given as text or base64, and calls exports', async () => {
    const wat = await postJson(s, '/wasm', { wat: HELLO_WAT });
    assert.equal(wat.status, 200);
    assert.equal(wat.body.data.stdout, 'hello from wasm\n');
    const b64 = await postJson(s, '/wasm', { module: Buffer.from(HELLO_WAT).toString('base64') });
    assert.equal(b64.body.data.stdout, 'hello from wasm\n');
    const add = await postJson(s, '/wasm', { wat: HELLO_WAT, invoke: 'add', args: [40, '2'] });
    assert.equal(add.status, 200);
    assert.deepEqual(add.body.data.results, [42]);
    const bad = await postJson(s, '/wasm', { module: Buffer.from('not wasm').toString('base64') });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VALIDATION');
  });

  test('sandboxes: create (201), conflict (409), get, list, exec, stop, start, remove, then 404', async () => {
    const created = await postJson(s, '/sandboxes', { name: 'api-box', env: { FROM_SPEC: 'yes' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.data.name, 'api-box');
    assert.equal(created.body.data.backend, 'wasm');
    assert.ok(created.body.data.created_at);
    try {
      const dup = await postJson(s, '/sandboxes', { name: 'api-box' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'CONFLICT');

      const got = await (await fetch(`${s.url}/sandboxes/api-box`, { headers: auth() })).json() as any;
      assert.equal(got.data.name, 'api-box');
      const list = await (await fetch(`${s.url}/sandboxes`, { headers: auth() })).json() as any;
      assert.ok(list.data.some((b: { name: string }) => b.name === 'api-box'));

      const ex = await postJson(s, '/sandboxes/api-box/exec', { command: ['sh', '-c', 'echo made > made.txt; pwd; echo "$X"'], env: { X: 'y' } });
      assert.equal(ex.status, 200);
      assert.equal(ex.body.data.stdout, '/workspace\ny\n');
      assert.equal(ex.body.data.output, '/workspace\ny\n');

      const stopped = await postJson(s, '/sandboxes/api-box/stop', {});
      assert.equal(stopped.status, 200);
      assert.equal(stopped.body.data.status, 'stopped');
      const started = await fetch(`${s.url}/sandboxes/api-box/start`, { method: 'POST', headers: auth() });
      assert.equal(started.status, 200);
      assert.equal(((await started.json()) as any).data.name, 'api-box');
      const kept = await postJson(s, '/sandboxes/api-box/exec', { command: ['sh', '-c', 'cat made.txt'] });
      assert.equal(kept.body.data.stdout, 'made\n');
    } finally {
      const del = await fetch(`${s.url}/sandboxes/api-box`, { method: 'DELETE', headers: auth() });
      assert.equal(del.status, 200);
      assert.deepEqual(await del.json(), { success: true });
    }
    const gone = await fetch(`${s.url}/sandboxes/api-box`, { headers: auth() });
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as any).error.code, 'NOT_FOUND');
    const execGone = await postJson(s, '/sandboxes/api-box/exec', { command: ['true'] });
    assert.equal(execGone.status, 404);
    const badName = await postJson(s, '/sandboxes', { name: '-bad' });
    assert.equal(badName.status, 400);
  });

  test('files: raw bytes in and out, directories listed as JSON, absolute paths with %2F, remove', async () => {
    await postJson(s, '/sandboxes', { name: 'files-box' });
    try {
      const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10]);
      const put = await fetch(`${s.url}/sandboxes/files-box/files/dir/data.bin`, { method: 'PUT', headers: { ...auth(), 'content-type': 'application/octet-stream' }, body: bytes });
      assert.equal(put.status, 200);
      assert.deepEqual(await put.json(), { success: true, data: { path: 'dir/data.bin', size: 6 } });

      const get = await fetch(`${s.url}/sandboxes/files-box/files/dir/data.bin`, { headers: auth() });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('content-type'), 'application/octet-stream');
      assert.deepEqual(Buffer.from(await get.arrayBuffer()), bytes);
      const abs = await fetch(`${s.url}/sandboxes/files-box/files/%2Fworkspace/dir/data.bin`, { headers: auth() });
      assert.deepEqual(Buffer.from(await abs.arrayBuffer()), bytes);

      const seen = await postJson(s, '/sandboxes/files-box/exec', { command: ['sh', '-c', 'wc -c < dir/data.bin'] });
      assert.equal(seen.body.data.stdout.trim(), '6');

      const dir = await fetch(`${s.url}/sandboxes/files-box/files/dir`, { headers: auth() });
      assert.match(dir.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await dir.json(), { success: true, data: { path: 'dir', entries: [{ name: 'data.bin', type: 'file', size: 6 }] } });
      const root = await fetch(`${s.url}/sandboxes/files-box/files`, { headers: auth() });
      assert.deepEqual(((await root.json()) as any).data.entries.map((e: { name: string }) => e.name), ['dir']);

      const outside = await fetch(`${s.url}/sandboxes/files-box/files/%2Fetc/passwd`, { headers: auth() });
      assert.equal(outside.status, 400);
      await outside.body?.cancel();

      const del = await fetch(`${s.url}/sandboxes/files-box/files/dir/data.bin`, { method: 'DELETE', headers: auth() });
      assert.equal(del.status, 200);
      await del.body?.cancel();
      const missing = await fetch(`${s.url}/sandboxes/files-box/files/dir/data.bin`, { headers: auth() });
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as any).error.code, 'NOT_FOUND');
    } finally {
      await fetch(`${s.url}/sandboxes/files-box`, { method: 'DELETE', headers: auth() });
    }
  });
});
