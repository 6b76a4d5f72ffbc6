/** The SDK against a running server (HTTP) and in-process (local), with the real `wasm` backend. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, Client, AbortError, NotFoundError, UnavailableError, ValidationError, AgentKernelError } from '../../src/sdk/index.js';
import { UnsupportedError } from '../../src/core/errors.js';
import { AgentKernel } from '../../src/service/kernel.js';
import { startTestServer, wasmUnavailable, closeKernel, HELLO_WAT, type TestServer } from '../api/helpers.js';

const skip = await wasmUnavailable();

/** The same checks for both ways of reaching sandboxes. */
interface Access {
  create: (o?: object) => Promise<Sandbox>;
  client: () => Promise<Client>;
  get: (name: string) => Promise<{ name: string }>;
}

function sandboxSuite(label: string, make: () => Access) {
  describe(`SDK ${label}`, { skip }, () => {
    test('Sandbox: commands (string and argv, live callbacks), files, runCode, stop/start, kill', async () => {
      const { create } = make();
      const sbx = await create({ env: { FROM_CREATE: 'yes' } });
      assert.match(sbx.name, /^sbx-[a-z0-9]+$/);
      assert.equal(sbx.info.backend, 'wasm');
      try {
        const r = await sbx.commands.run('echo hello; echo oops >&2; exit 5');
        assert.deepEqual([r.exitCode, r.stdout, r.stderr], [5, 'hello\n', 'oops\n']);
        const out: string[] = [];
        const err: string[] = [];
        const live = await sbx.commands.run(['sh', '-c', 'echo "$A"; echo e >&2'], { env: { A: 'b' }, onStdout: (t) => out.push(t), onStderr: (t) => err.push(t) });
        assert.equal(live.exitCode, 0);
        assert.deepEqual([out.join(''), err.join('')], ['b\n', 'e\n']);

        await sbx.files.write('data/in.txt', 'ünïcode\n');
        await sbx.files.write('/workspace/raw.bin', new Uint8Array([0, 255, 7]));
        assert.equal(await sbx.files.read('data/in.txt'), 'ünïcode\n');
        assert.deepEqual([...(await sbx.files.read('raw.bin', { format: 'bytes' }))], [0, 255, 7]);
        assert.deepEqual((await sbx.files.list()).map((e) => e.name).sort(), ['data', 'raw.bin']);
        assert.deepEqual(await sbx.files.list('data'), [{ name: 'in.txt', type: 'file', size: 10 }]);
        const code = await sbx.runCode('javascript', 'console.log(1 + 1)');
        assert.equal(code.stdout, '2\n');
        const sh = await sbx.runCode('shell', 'cat data/in.txt');
        assert.equal(sh.stdout, 'ünïcode\n');
        await sbx.files.remove('data/in.txt');
        await assert.rejects(sbx.files.read('data/in.txt'), NotFoundError);
        await assert.rejects(sbx.files.read('../escape'), ValidationError);

        assert.equal((await sbx.stop()).status, 'stopped');
        assert.equal((await sbx.start()).name, sbx.name);
        assert.equal((await sbx.getInfo()).name, sbx.name);
      } finally {
        await sbx.kill();
      }
      await sbx.kill(); // a second kill is not an error
      await assert.rejects(sbx.commands.run('true'), NotFoundError);
    });

    test('await using removes the sandbox at the end of the block', async () => {
      const { create, get } = make();
      let name: string;
      {
        await using sbx = await create();
        name = sbx.name;
        assert.equal((await sbx.commands.run('echo in')).stdout, 'in\n');
        assert.equal((await get(name)).name, name);
      }
      await assert.rejects(get(name), NotFoundError);
    });

    test('Client: runCode, runWasm (text, bytes, invoke), run; typed errors', async () => {
      const client = await make().client();
      assert.equal((await client.runCode('javascript', 'console.log("js")')).stdout, 'js\n');
      const wat = new TextEncoder().encode(HELLO_WAT);
      assert.equal((await client.runWasm(wat)).stdout, 'hello from wasm\n');
      assert.deepEqual((await client.runWasm(wat, { invoke: 'add', args: [20, 22] })).results, [42]);
      const chunks: string[] = [];
      const r = await client.run('echo streamed', { onStdout: (t) => chunks.push(t) });
      assert.equal(chunks.join(''), 'streamed\n');
      assert.equal(r.exitCode, 0);
      const t = await client.runCode('javascript', 'for (;;) {}', { timeoutMs: 300 });
      assert.deepEqual([t.exitCode, t.timedOut], [124, true]);
      // a backend that cannot run code says so with a typed error, over HTTP as in-process
      await assert.rejects(client.runCode('javascript', '1', { backend: 'firecracker' }), (e: unknown) => e instanceof UnsupportedError && /firecracker/.test((e as Error).message));
      assert.ok((await client.backends()).some((b) => b.name === 'wasm' && b.available));
    });

    test('AbortSignal stops a run in progress, streaming or not', async () => {
      const client = await make().client();
      for (const streaming of [false, true]) {
        const ac = new AbortController();
        // the guest keeps writing, so its first line is delivered while it runs (the backend batches output)
        const p = client.runCode('javascript', 'for (;;) { const t = Date.now(); while (Date.now() - t < 20) {} console.log("tick"); }', {
          timeoutMs: 20_000, signal: ac.signal, ...(streaming ? { onStdout: () => ac.abort() } : {}),
        });
        if (!streaming) setImmediate(() => ac.abort());
        await assert.rejects(p, (e: unknown) => e instanceof AbortError, `streaming=${streaming}`);
      }
      const pre = new AbortController();
      pre.abort();
      await assert.rejects(client.backends({ signal: pre.signal }), AbortError);
    });
  });
}

let server: TestServer | undefined;
const kernel = skip ? undefined : new AgentKernel({ overrides: { backend: 'wasm' } });

before(async () => {
  if (!skip) server = await startTestServer({ kernel });
});
after(async () => {
  await server?.close();
  if (kernel) await closeKernel(kernel);
});

sandboxSuite('over HTTP', () => ({
  create: (o = {}) => Sandbox.create({ baseUrl: server!.url, apiKey: server!.key, ...o }),
  client: async () => new Client({ baseUrl: server!.url, apiKey: server!.key }),
  get: async (name) => (await Sandbox.connect(name, { baseUrl: server!.url, apiKey: server!.key })).info,
}));

sandboxSuite('in-process', () => ({
  create: (o = {}) => Sandbox.local({ kernel, ...o }),
  client: () => Client.local({ kernel }),
  get: (name) => kernel!.get(name),
}));

describe('SDK connection errors', () => {
  test('a wrong key is UNAUTHORIZED; no server is UnavailableError; Sandbox.connect to a missing sandbox is NotFoundError', { skip }, async () => {
    const bad = new Client({ baseUrl: server!.url, apiKey: 'x'.repeat(24) });
    await assert.rejects(bad.runCode('javascript', '1'), (e: unknown) => e instanceof AgentKernelError && e.code === ('UNAUTHORIZED' as string));
    await assert.rejects(Sandbox.connect('no-such-box', { baseUrl: server!.url, apiKey: server!.key }), NotFoundError);
    const info = await Sandbox.list({ baseUrl: server!.url, apiKey: server!.key });
    assert.ok(Array.isArray(info));
  });

  test('nothing listening is a clear UnavailableError', async () => {
    const c = new Client({ baseUrl: 'http://127.0.0.1:9', apiKey: 'x'.repeat(24) });
    await assert.rejects(c.runCode('javascript', '1'), (e: unknown) => e instanceof UnavailableError && /agentkernel serve/.test((e as Error).message));
  });
});
