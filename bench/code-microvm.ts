/**
 * JavaScript `1+1` and Python `print(1+1)` in the KVM micro-VM (backend `hyperlight`, QuickJS or CPython restored
 * from its snapshot for every run) next to the `wasm` backend's, on this machine, in one process:
 *   - micro-VM, runtime level: VM from the pool (reset to the snapshot) + one guest call + release, p50/p99
 *   - micro-VM, backend level: HyperlightBackend.runCode (limits, bounded output, result object), p50/p99
 *   both with each way of resetting guest memory: copying back the pages a run wrote (the default; pages copied
 *   per run reported) and dropping every private page (`vmmSetResetCopyLimit(0)`)
 *   - micro-VM cold: boot the guest, initialise the interpreter (QuickJS runtime + context + prelude; CPython +
 *     runner + preloaded modules), snapshot (per memory cap, once)
 *   - wasm backend: WasmBackend.runCode (jailed worker; QuickJS context per run, Pyodide reset per run), p50/p99
 *   - runs per second: sequential, and with 4 runs in flight
 * with the published Hyperlight figures for reference (JavaScript: 97-120 ms cold, 0.7-1.3 ms restore + run;
 * Python: 144 ms cold, 1.5 ms restore + run). Every measured run's output is checked.
 *
 * Needs the guests compiled (`agentkernel setup`, or the first run here builds them: minutes).
 * Run: npx tsc -p . && node dist/bench/code-microvm.js [--runs N] [--language javascript|python] [--json]
 */
import { performance } from 'node:perf_hooks';
import { HyperlightBackend } from '../src/backends/hyperlight/backend.js';
import { MicroVmJavaScript } from '../src/backends/hyperlight/code/javascript.js';
import { MicroVmPython } from '../src/backends/hyperlight/code/python.js';
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

interface Language {
  name: 'javascript' | 'python';
  code: string;
  /** What `code` + a print of 1+1 gives, to check each backend once before measuring. */
  check: string;
  runtime: MicroVmJavaScript | MicroVmPython;
  published: { source: string; coldMs: string; restoreAndRunMs: string };
  /** What the cold row covers. */
  cold: string;
}

const LANGUAGES: Language[] = [
  {
    name: 'javascript', code: CODE, check: 'console.log(1+1)', runtime: new MicroVmJavaScript(), published: PUBLISHED,
    cold: 'boot + QuickJS runtime/context/prelude + snapshot',
  },
  {
    name: 'python', code: 'print(1+1)', check: 'print(1+1)', runtime: new MicroVmPython(),
    published: { source: 'Hyperlight (hyperlight-dev) Python-in-Wasm figures', coldMs: '144', restoreAndRunMs: '1.5' },
    cold: 'boot + CPython init + runner setup + preloaded modules + snapshot',
  },
];

interface LanguageReport {
  language: string;
  code: string;
  guestLoadMs: number;
  coldSnapshotMs: number;
  rows: Row[];
  published: Language['published'];
}

async function measureLanguage(hl: HyperlightBackend, lang: Language): Promise<LanguageReport> {
  const rt = lang.runtime;
  const t0 = performance.now();
  await rt.prepare((m) => process.stderr.write(`${m}\n`));
  const loadMs = performance.now() - t0;
  const c0 = performance.now();
  await rt.image(64);
  const coldMs = performance.now() - c0;

  const check = await hl.runCode(lang.name, lang.check);
  if (check.stdout !== '2\n') throw new Error(`hyperlight ${lang.name} printed ${JSON.stringify(check.stdout)}: ${check.stderr}`);
  const want = lang.code === lang.check ? '2\n' : '';
  // every measured run's output is checked: a wrong answer stops the benchmark
  const checked = (got: { stdout: string }) => {
    if (got.stdout !== want) throw new Error(`${lang.name} printed ${JSON.stringify(got.stdout)}, expected ${JSON.stringify(want)}`);
  };
  const outSink = (): { sink: OutputSink; text: () => string } => {
    let text = '';
    return { sink: { stdout: (d) => { text += typeof d === 'string' ? d : Buffer.from(d).toString(); }, stderr: () => {} }, text: () => text };
  };
  const rows: Row[] = [];
  for (const reset of RESETS) {
    vmmSetResetCopyLimit(reset.limit);
    rows.push(await measure(`hyperlight, runtime (pool + snapshot reset + 1 guest call), ${reset.name}`, RUNS, async () => {
      const o = outSink();
      await rt.run({ ...request(), code: lang.code }, o.sink);
      checked({ stdout: o.text() });
    }, true));
    rows.push(await measure(`hyperlight, backend runCode, ${reset.name}`, RUNS, async () => checked(await hl.runCode(lang.name, lang.code)), true));
  }
  vmmSetResetCopyLimit(RESETS[0]!.limit);
  const wasm = createWasmBackend();
  try {
    const w = await wasm.runCode(lang.name, lang.check);
    if (w.stdout !== '2\n') throw new Error(`wasm ${lang.name} printed ${JSON.stringify(w.stdout)}: ${w.stderr}`);
    rows.push(await measure('wasm backend runCode', Math.min(RUNS, 300), async () => checked(await wasm.runCode(lang.name, lang.code))));
  } finally {
    await wasm.close();
  }
  await rt.close();
  return { language: lang.name, code: lang.code, guestLoadMs: loadMs, coldSnapshotMs: coldMs, rows, published: lang.published };
}

async function main(): Promise<void> {
  const hl = new HyperlightBackend();
  const a = await hl.availability();
  if (!a.available) {
    console.log(`skipped: hyperlight unavailable (${a.reason})`);
    return;
  }
  const only = args.includes('--language') ? args[args.indexOf('--language') + 1] : undefined;
  const reports: LanguageReport[] = [];
  for (const lang of LANGUAGES) {
    if (only && lang.name !== only) continue;
    process.stderr.write(`measuring ${lang.name}...\n`);
    reports.push(await measureLanguage(hl, lang));
  }
  await hl.close();

  if (json) {
    console.log(JSON.stringify({ runs: RUNS, reports }, null, 2));
    return;
  }
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  console.log(`${RUNS} runs after ${WARMUP} warm-up runs (load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`);
  for (const r of reports) {
    const lang = LANGUAGES.find((l) => l.name === r.language)!;
    console.log(`\n${r.language} '${r.code}'`);
    console.log(`hyperlight cold: guest image loaded in ${ms(r.guestLoadMs)}; ${lang.cold} ${ms(r.coldSnapshotMs)}`);
    console.log('| what | p50 | p99 | runs/s (1 in flight) | runs/s (4 in flight) | pages copied back per run |');
    console.log('|---|---|---|---|---|---|');
    for (const row of r.rows) {
      console.log(`| ${row.what} | ${ms(row.stats.p50)} | ${ms(row.stats.p99)} | ${row.runsPerSecond.toFixed(0)} | ${row.runsPerSecond4.toFixed(0)} | ${row.pagesPerRun?.toFixed(1) ?? ''} |`);
    }
    console.log(`| published ${r.published.source} (reference, other hardware) | ${r.published.restoreAndRunMs} ms restore + run | | | cold ${r.published.coldMs} ms | |`);
  }
}

await main();
