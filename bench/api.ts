/**
 * What the interfaces cost on top of the kernel: the round trip of runCode JavaScript `console.log(1+1)` and of a
 * WASI hello module, in-process (AgentKernel), over HTTP (node:http with keep-alive), through the SDK (HTTP, on
 * fetch), and through MCP (streamable HTTP and stdio), against warm servers running in their own processes. Then
 * requests per second of HTTP WASI hello with a few concurrent keep-alive clients, next to the same concurrency
 * in-process.
 *
 * The clients share the machine with the server, so the throughput report says what they cost: CPU time per
 * request of this process (the clients) and of the server (all its threads and worker processes, from /proc),
 * and the load average before and after (other work on the machine lowers every figure).
 *
 * Every call's output is checked; a wrong answer stops the benchmark.
 *
 * Run: npx tsc -p . && node dist/bench/api.js [--backend wasm] [--iterations 200] [--duration 5] [--concurrency 4]
 *      [--http-only] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
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
    warmup: { type: 'string', default: '200' },
    duration: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '4' },
    'http-only': { type: 'boolean', default: false },
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

interface Throughput {
  rps: number;
  requests: number;
  /** CPU time of this process and its worker processes (the clients, or the in-process kernel) per request. */
  clientCpuMs: number;
  /** CPU time of the server process (all threads, and its worker processes) per request (Linux only). */
  serverCpuMs?: number;
}

/** utime + stime of one /proc/PID/stat line in ms (clock ticks of 10 ms: USER_HZ is 100 on Linux), and its parent. */
function statCpu(pid: number): { cpuMs: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpuMs: (Number(f[11]) + Number(f[12])) * 10, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) used so far by a process, all its threads and its live descendants (the wasm backend runs guests
 * in worker processes of the server); undefined where /proc is missing.
 */
function processTreeCpuMs(root: number): number | undefined {
  if (!statCpu(root)) return undefined;
  const procs = new Map<number, { cpuMs: number; ppid: number }>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    const s = Number.isInteger(pid) ? statCpu(pid) : undefined;
    if (s) procs.set(pid, s);
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, depth = 0; p !== undefined && p > 1 && depth < 64; p = procs.get(p)?.ppid, depth++) {
      if (p === root) return true;
    }
    return false;
  };
  let total = 0;
  for (const [pid, s] of procs) if (inTree(pid)) total += s.cpuMs;
  return total;
}

/** CPU time (ms) so far of this process and its worker processes, the server's process tree left out. */
function clientCpuMs(serverPid: number): number {
  const self = processTreeCpuMs(process.pid);
  const server = processTreeCpuMs(serverPid);
  if (self === undefined || server === undefined) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  return self - server;
}

async function throughput(f: Call, want: string, serverPid: number): Promise<Throughput> {
  const end = performance.now() + DURATION_S * 1000;
  let n = 0;
  const server0 = processTreeCpuMs(serverPid);
  const client0 = clientCpuMs(serverPid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      check(await f(), want, 'throughput');
      n++;
    }
  }));
  const elapsed = performance.now() - t0;
  const client1 = clientCpuMs(serverPid);
  const server1 = processTreeCpuMs(serverPid);
  return {
    rps: n / (elapsed / 1000),
    requests: n,
    clientCpuMs: (client1 - client0) / n,
    ...(server0 !== undefined && server1 !== undefined ? { serverCpuMs: (server1 - server0) / n } : {}),
  };
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
const serverUrl = new URL(url);
// keep-alive, one socket per concurrent client: what a client that cares about latency does (fetch costs this
// process about twice the CPU per request; the SDK rows show it)
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const post = (path: string, body: unknown): Promise<string> => new Promise((resolve, reject) => {
  const data = JSON.stringify(body);
  const req = request({
    host: serverUrl.hostname, port: serverUrl.port, path, method: 'POST', agent,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
  }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      try {
        const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { stdout: string } };
        if (res.statusCode !== 200 || !answer.data) throw new Error(`${path}: HTTP ${res.statusCode} ${JSON.stringify(answer)}`);
        resolve(answer.data.stdout);
      } catch (e) {
        reject(e);
      }
    });
    res.on('error', reject);
  });
  req.on('error', reject);
  req.end(data);
});
const sdk = new Client({ baseUrl: url, apiKey: KEY });

const HTTP_ONLY = args['http-only']!;
const mcpHttp = new McpClient({ name: 'bench', version: '1' });
const mcpStdio = new McpClient({ name: 'bench', version: '1' });
if (!HTTP_ONLY) {
  await mcpHttp.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${KEY}` } } }));
  await mcpStdio.connect(new StdioClientTransport({
    command: process.execPath, args: [BIN, 'mcp-server', '--backend', BACKEND], env: { ...process.env } as Record<string, string>, stderr: 'inherit',
  }));
}
const tool = (c: McpClient, name: string, a: Record<string, unknown>) => async () =>
  ((await c.callTool({ name, arguments: a })) as unknown as { structuredContent: { stdout: string } }).structuredContent.stdout;

const allCalls: [string, string, string, Call][] = [
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
const calls = HTTP_ONLY ? allCalls.filter(([iface]) => iface === 'in-process' || iface === 'HTTP') : allCalls;

const rows: Row[] = [];
try {
  for (const [iface, workload, want, f] of calls) {
    rows.push(await latency(iface, workload, want, f));
    process.stderr.write(`measured ${iface} ${workload}\n`);
  }
  const p50 = (iface: string, workload: string) => rows.find((r) => r.interface === iface && r.workload === workload)!.p50Ms;
  const httpAdds = Object.fromEntries(['runCode js', 'WASI hello'].map((w) => [w, p50('HTTP', w) - p50('in-process', w)]));
  const loadBefore = loadavg()[0]!;
  const httpRps = await throughput(() => post('/wasm', { module: HELLO_B64 }), HELLO_OUT, child.pid!);
  const localRps = await throughput(async () => (await kernel.runWasm({ module: HELLO })).stdout, HELLO_OUT, child.pid!);
  const report = {
    backend: BACKEND,
    iterations: ITER,
    concurrency: CONCURRENCY,
    durationS: DURATION_S,
    latency: rows,
    httpAddsP50Ms: httpAdds,
    throughput: { 'HTTP WASI hello': httpRps, 'in-process WASI hello': localRps },
    loadAverage: { before: loadBefore, after: loadavg()[0]!, cpus: availableParallelism() },
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const f = (ms: number) => ms.toFixed(2).padStart(8);
    process.stdout.write(`backend ${BACKEND}; ${ITER} calls each after ${WARMUP} warm-up calls; latency in ms\n\n`);
    process.stdout.write(`${'interface'.padEnd(12)} ${'workload'.padEnd(11)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'mean'.padStart(8)}\n`);
    for (const r of rows) process.stdout.write(`${r.interface.padEnd(12)} ${r.workload.padEnd(11)} ${f(r.p50Ms)} ${f(r.p99Ms)} ${f(r.meanMs)}\n`);
    process.stdout.write(`\nHTTP adds at p50: ${Object.entries(httpAdds).map(([w, ms]) => `${w} ${ms.toFixed(2)} ms`).join(', ')}\n`);
    const cpu = (t: Throughput) => `client CPU ${t.clientCpuMs.toFixed(3)} ms/request${t.serverCpuMs === undefined ? '' : `, server CPU ${t.serverCpuMs.toFixed(3)} ms/request`}`;
    process.stdout.write(`\nWASI hello, ${CONCURRENCY} concurrent clients for ${DURATION_S} s:\n`);
    process.stdout.write(`  HTTP        ${httpRps.rps.toFixed(1)} requests/s (${httpRps.requests} requests; ${cpu(httpRps)})\n`);
    process.stdout.write(`  in-process  ${localRps.rps.toFixed(1)} runs/s (${localRps.requests} runs; CPU ${localRps.clientCpuMs.toFixed(3)} ms/run)\n`);
    const { before, after, cpus } = report.loadAverage;
    process.stdout.write(`  load average ${before.toFixed(2)} before, ${after.toFixed(2)} after, on ${cpus} CPUs\n`);
  }
} finally {
  agent.destroy();
  await mcpHttp.close();
  await mcpStdio.close();
  child.kill('SIGTERM');
  const alive = setInterval(() => undefined, 1000);
  await kernel.close();
  await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  clearInterval(alive);
  rmSync(process.env.AGENTKERNEL_HOME!, { recursive: true, force: true });
}
