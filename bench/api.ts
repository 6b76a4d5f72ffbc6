/**
 * What the interfaces cost on top of the kernel: the round trip of runCode JavaScript `console.log(1+1)` and of a
 * WASI hello module, in-process (AgentKernel), over HTTP (plain fetch), through the SDK (HTTP), and through MCP
 * (streamable HTTP and stdio), against warm servers running in their own processes. Then requests per second of
 * HTTP WASI hello with a few concurrent clients, next to the same concurrency in-process.
 *
 * Every call's output is checked; a wrong answer stops the benchmark.
 *
 * Run: npx tsc -p . && node dist/bench/api.js [--backend wasm] [--iterations 200] [--duration 5] [--concurrency 4] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { summarize } from '../src/bench/stats.js';
import { compileWat } from '../src/runtimes/wasm/wabt.js';
import { HELLO_WAT } from '../test/api/fixtures.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    iterations: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    duration: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
});
const ITER = Number(args.iterations);
const WARMUP = Number(args.warmup);
const DURATION_S = Number(args.duration);
const CONCURRENCY = Number(args.concurrency);
const BACKEND = args.backend!;

// a home of its own: nothing of the user's state, a fresh key
process.env.AGENTKERNEL_HOME = mkdtempSync(join(tmpdir(), 'ak-bench-api-'));
const KEY = `bench-${Math.random().toString(36).slice(2)}-key-0123456789`;
process.env.AGENTKERNEL_API_KEY = KEY;
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'agentkernel.js');

const { AgentKernel } = await import('../src/service/kernel.js');
const { Client } = await import('../src/sdk/index.js');

const JS = 'console.log(1+1)';
const JS_OUT = '2\n';
const HELLO_OUT = 'hello from wasm\n';
const HELLO = await compileWat(HELLO_WAT);
const HELLO_B64 = Buffer.from(HELLO).toString('base64');

type Call = () => Promise<string>;

function check(got: string, want: string, what: string): void {
  if (got !== want) throw new Error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

interface Row {
  interface: string;
  workload: string;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  n: number;
}

async function latency(iface: string, workload: string, want: string, f: Call): Promise<Row> {
  for (let i = 0; i < WARMUP; i++) check(await f(), want, `${iface} ${workload}`);
  const samples: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t = performance.now();
    const out = await f();
    samples.push(performance.now() - t);
    check(out, want, `${iface} ${workload}`);
  }
  const s = summarize(samples);
  return { interface: iface, workload, p50Ms: s.p50, p99Ms: s.p99, meanMs: s.mean, n: samples.length };
}

async function throughput(f: Call, want: string): Promise<{ rps: number; requests: number }> {
  const end = performance.now() + DURATION_S * 1000;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      check(await f(), want, 'throughput');
      n++;
    }
  }));
  return { rps: n / ((performance.now() - t0) / 1000), requests: n };
}

/** `agentkernel serve` in its own process, warm: the URL once it listens. */
async function startServe(): Promise<{ child: ChildProcess; url: string }> {
  const pidFile = join(process.env.AGENTKERNEL_HOME!, 'serve.json');
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--backend', BACKEND, '--pid-file', pidFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 300 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(pidFile)) throw new Error('the server did not start');
  return { child, url: (JSON.parse(readFileSync(pidFile, 'utf8')) as { url: string }).url };
}

const kernel = new AgentKernel({ overrides: { backend: BACKEND } });
const { child, url } = await startServe();
const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const post = async (path: string, body: unknown): Promise<string> => {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return ((await res.json()) as { data: { stdout: string } }).data.stdout;
};
const sdk = new Client({ baseUrl: url, apiKey: KEY });

const mcpHttp = new McpClient({ name: 'bench', version: '1' });
await mcpHttp.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${KEY}` } } }));
const mcpStdio = new McpClient({ name: 'bench', version: '1' });
await mcpStdio.connect(new StdioClientTransport({
  command: process.execPath, args: [BIN, 'mcp-server', '--backend', BACKEND], env: { ...process.env } as Record<string, string>, stderr: 'inherit',
}));
const tool = (c: McpClient, name: string, a: Record<string, unknown>) => async () =>
  ((await c.callTool({ name, arguments: a })) as unknown as { structuredContent: { stdout: string } }).structuredContent.stdout;

const calls: [string, string, string, Call][] = [
  ['in-process', 'runCode js', JS_OUT, async () => (await kernel.runCode('javascript', JS)).stdout],
  ['in-process', 'WASI hello', HELLO_OUT, async () => (await kernel.runWasm({ module: HELLO })).stdout],
  ['HTTP', 'runCode js', JS_OUT, () => post('/code', { language: 'javascript', code: JS })],
  ['HTTP', 'WASI hello', HELLO_OUT, () => post('/wasm', { module: HELLO_B64 })],
  ['SDK (HTTP)', 'runCode js', JS_OUT, async () => (await sdk.runCode('javascript', JS)).stdout],
  ['SDK (HTTP)', 'WASI hello', HELLO_OUT, async () => (await sdk.runWasm(HELLO)).stdout],
  ['MCP (HTTP)', 'runCode js', JS_OUT, tool(mcpHttp, 'run_code', { language: 'javascript', code: JS })],
  ['MCP (HTTP)', 'WASI hello', HELLO_OUT, tool(mcpHttp, 'run_wasm', { module: HELLO_B64 })],
  ['MCP (stdio)', 'runCode js', JS_OUT, tool(mcpStdio, 'run_code', { language: 'javascript', code: JS })],
  ['MCP (stdio)', 'WASI hello', HELLO_OUT, tool(mcpStdio, 'run_wasm', { module: HELLO_B64 })],
];

const rows: Row[] = [];
try {
  for (const [iface, workload, want, f] of calls) {
    rows.push(await latency(iface, workload, want, f));
    process.stderr.write(`measured ${iface} ${workload}\n`);
  }
  const httpRps = await throughput(() => post('/wasm', { module: HELLO_B64 }), HELLO_OUT);
  const localRps = await throughput(async () => (await kernel.runWasm({ module: HELLO })).stdout, HELLO_OUT);
  const report = {
    backend: BACKEND,
    iterations: ITER,
    concurrency: CONCURRENCY,
    durationS: DURATION_S,
    latency: rows,
    throughput: { 'HTTP WASI hello': httpRps, 'in-process WASI hello': localRps },
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const f = (ms: number) => ms.toFixed(2).padStart(8);
    process.stdout.write(`backend ${BACKEND}; ${ITER} calls each after ${WARMUP} warm-up calls; latency in ms\n\n`);
    process.stdout.write(`${'interface'.padEnd(12)} ${'workload'.padEnd(11)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'mean'.padStart(8)}\n`);
    for (const r of rows) process.stdout.write(`${r.interface.padEnd(12)} ${r.workload.padEnd(11)} ${f(r.p50Ms)} ${f(r.p99Ms)} ${f(r.meanMs)}\n`);
    process.stdout.write(`\nWASI hello, ${CONCURRENCY} concurrent clients for ${DURATION_S} s:\n`);
    process.stdout.write(`  HTTP        ${httpRps.rps.toFixed(1)} requests/s (${httpRps.requests} requests)\n`);
    process.stdout.write(`  in-process  ${localRps.rps.toFixed(1)} runs/s (${localRps.requests} runs)\n`);
  }
} finally {
  await mcpHttp.close();
  await mcpStdio.close();
  child.kill('SIGTERM');
  const alive = setInterval(() => undefined, 1000);
  await kernel.close();
  clearInterval(alive);
}
