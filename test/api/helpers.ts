/**
 * A real agentkernel HTTP server for tests: 127.0.0.1, port 0, its own AGENTKERNEL_HOME, the portable `wasm`
 * backend. Tests that need guest code skip (with the reason) where that backend cannot run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { AgentKernel } from '../../src/service/kernel.js';
import { probe } from '../../src/backends/detect.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/api/http/server.js';
import type { SettingsOverrides } from '../../src/core/config.js';

// before anything resolves a state or config directory
process.env.AGENTKERNEL_HOME ??= mkdtempSync(join(tmpdir(), 'ak-api-home-'));
delete process.env.AGENTKERNEL_API_KEY;

export const KEY = 'test-key-0123456789abcdef';

export interface TestServer extends RunningServer {
  kernel: AgentKernel;
  key: string;
  /** Headers with the token and a JSON content type. */
  headers: Record<string, string>;
}

export async function startTestServer(opts: Partial<ServerOptions> & { overrides?: SettingsOverrides; kernel?: AgentKernel } = {}): Promise<TestServer> {
  const kernel = opts.kernel ?? new AgentKernel({ overrides: { backend: 'wasm', ...opts.overrides } });
  const server = await startServer({ kernel, apiKey: KEY, port: 0, ...opts });
  return {
    ...server,
    kernel,
    key: KEY,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    close: async () => {
      await server.close();
      if (!opts.kernel) await closeKernel(kernel);
    },
  };
}

/** Release a kernel's pools; a ref'd timer keeps the test process alive until the workers are gone. */
export async function closeKernel(kernel: AgentKernel): Promise<void> {
  const alive = setInterval(() => undefined, 1000);
  try {
    await kernel.close();
  } finally {
    clearInterval(alive);
  }
}

let wasmReason: Promise<string | undefined> | undefined;

/** Why guest code cannot run here (undefined when the wasm backend is available). */
export function wasmUnavailable(): Promise<string | undefined> {
  wasmReason ??= probe('wasm').then((s) => (s.available ? undefined : `wasm backend unavailable: ${s.reason ?? 'unknown reason'}`));
  return wasmReason;
}

export async function postJson(s: TestServer, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { ...s.headers, ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A request exactly as written, bypassing fetch's URL normalisation (for traversal tests). */
export function rawRequest(s: TestServer, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string):
  Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: s.host, port: s.port, method, path, headers: { authorization: `Bearer ${s.key}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Server-Sent Events of a response, parsed (data as JSON). */
export async function* sseEvents(res: Response): AsyncGenerator<{ event: string; data: any }> {
  const { readSse } = await import('../../src/sdk/transport/sse.js');
  for await (const ev of readSse(res.body!)) yield { event: ev.event, data: JSON.parse(ev.data) };
}

export { HELLO_WAT } from './fixtures.js';
