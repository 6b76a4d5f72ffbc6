/**
 * JavaScript `1+1` in the KVM micro-VM (backend `hyperlight`, QuickJS restored from its snapshot for every run)
 * next to the `wasm` backend's JavaScript, on this machine, in one process:
 *   - micro-VM, runtime level: VM from the pool (reset to the snapshot) + one guest call + release, p50/p99
 *   - micro-VM, backend level: HyperlightBackend.runCode (limits, bounded output, result object), p50/p99
 *   both with each way of resetting guest memory: copying back the pages a run wrote (the default; pages copied
 *   per run reported) and dropping every private page (`vmmSetResetCopyLimit(0)`)
 *   - micro-VM cold: boot the guest, create QuickJS's runtime + context + prelude, snapshot (per memory cap, once)
 *   - wasm backend: WasmBackend.runCode (jailed worker, QuickJS context per run), p50/p99
 *   - runs per second: sequential, and with 4 runs in flight
 * with the published Hyperlight figures for reference (JavaScript: 97-120 ms cold, 0.7-1.3 ms restore + run).
 *
 * Needs the QuickJS guest compiled (`agentkernel setup`, or the first run here compiles it: minutes).
 * Run: npx tsc -p . && node dist/bench/code-microvm.js [--runs N] [--json]
 */
import { performance } from 'node:perf_hooks';
import { HyperlightBackend } from '../src/backends/hyperlight/backend.js';
import { MicroVmJavaScript } from '../src/backends/hyperlight/code/javascript.js';
import { vmmSetResetCopyLimit, vmmStats } from '../src/backends/hyperlight/vmm.js';
import { createWasmBackend } from '../src/backends/wasm/index.js';
import { summarize } from '../src/bench/stats.js';
import type { LatencyStats } from '../src/bench/types.js';
import type { CodeRequest, OutputSink } from '../src/runtimes/types.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 1000;
const WARMUP = 50;
const CODE = '1+1';
const PUBLISHED = { source: 'Hyperlight (hyperlight-dev) JavaScript figures', coldMs: '97-120', restoreAndRunMs: '0.7-1.3' };

const sink: OutputSink = { stdout: () => {}, stderr: () => {} };
const request = (): CodeRequest => ({ code: CODE, env: {}, stdin: new Uint8Array(0), mounts: [], memoryMb: 64, deadline: Date.now() + 10_000 });

async function timed(n: number, one: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await one();
    out.push(performance.now() - t);
  }
  return out;
}

/** Runs per second with `inFlight` runs at a time, over `n` runs. */
async function throughput(n: number, inFlight: number, one: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < n) await one();
  }));
  return n / ((performance.now() - t) / 1000);
}

interface Row {
  what: string;
  stats: LatencyStats;
  runsPerSecond: number;
  runsPerSecond4: number;
  /** Micro-VM rows: pages (4 KiB) a reset copied back, per run. */
  pagesPerRun?: number;
}

async function measure(what: string, n: number, one: () => Promise<unknown>, microVm = false): Promise<Row> {
  await timed(WARMUP, one);
  const before = microVm ? vmmStats() : undefined;
  const stats = summarize(await timed(n, one));
  const pagesPerRun = before ? (vmmStats().pagesRestored - before.pagesRestored) / n : undefined;
  const runsPerSecond = await throughput(n, 1, one);
  const runsPerSecond4 = await throughput(n, 4, one);
  return { what, stats, runsPerSecond, runsPerSecond4, ...(pagesPerRun !== undefined ? { pagesPerRun } : {}) };
}

const RESETS = [
  { name: 'copy back written pages', limit: 16 * 1024 * 1024 },
  { name: 'drop private pages', limit: 0 },
];

async function main(): Promise<void> {
  const hl = new HyperlightBackend();
  const a = await hl.availability();
  if (!a.available) {
    console.log(`skipped: hyperlight unavailable (${a.reason})`);
    return;
  }
  const rt = new MicroVmJavaScript();
  const t0 = performance.now();
  await rt.prepare((m) => process.stderr.write(`${m}\n`));
  const loadMs = performance.now() - t0;
  const c0 = performance.now();
  await rt.image(64);
  const coldMs = performance.now() - c0;

  const check = await hl.runCode('javascript', 'console.log(1+1)');
  if (check.stdout !== '2\n') throw new Error(`hyperlight printed ${JSON.stringify(check.stdout)}: ${check.stderr}`);
  const rows: Row[] = [];
  for (const reset of RESETS) {
    vmmSetResetCopyLimit(reset.limit);
    rows.push(await measure(`hyperlight, runtime (pool + snapshot reset + 1 guest call), ${reset.name}`, RUNS, () => rt.run(request(), sink), true));
    rows.push(await measure(`hyperlight, backend runCode, ${reset.name}`, RUNS, () => hl.runCode('javascript', CODE), true));
  }
  vmmSetResetCopyLimit(RESETS[0]!.limit);
  const wasm = createWasmBackend();
  try {
    const w = await wasm.runCode('javascript', 'console.log(1+1)');
    if (w.stdout !== '2\n') throw new Error(`wasm printed ${JSON.stringify(w.stdout)}: ${w.stderr}`);
    rows.push(await measure('wasm backend runCode', Math.min(RUNS, 300), () => wasm.runCode('javascript', CODE)));
  } finally {
    await wasm.close();
  }
  await rt.close();
  await hl.close();

  if (json) {
    console.log(JSON.stringify({ code: CODE, runs: RUNS, guestLoadMs: loadMs, coldSnapshotMs: coldMs, rows, published: PUBLISHED }, null, 2));
    return;
  }
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  console.log(`JavaScript '${CODE}', ${RUNS} runs after ${WARMUP} warm-up runs (load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`);
  console.log(`hyperlight cold: guest image loaded in ${ms(loadMs)}; boot + QuickJS runtime/context/prelude + snapshot ${ms(coldMs)}`);
  console.log('| what | p50 | p99 | runs/s (1 in flight) | runs/s (4 in flight) | pages copied back per run |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.what} | ${ms(r.stats.p50)} | ${ms(r.stats.p99)} | ${r.runsPerSecond.toFixed(0)} | ${r.runsPerSecond4.toFixed(0)} | ${r.pagesPerRun?.toFixed(1) ?? ''} |`);
  }
  console.log(`| published Hyperlight (reference, other hardware) | ${PUBLISHED.restoreAndRunMs} ms restore + run | | | cold ${PUBLISHED.coldMs} ms | |`);
}

await main();
