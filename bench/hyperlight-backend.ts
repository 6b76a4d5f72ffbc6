/**
 * The hyperlight backend next to the wasm backend, in one run: a new sandbox from a snapshot, a pooled VM + a
 * trivial invoke, WASI hello end to end through each backend, and fresh sandboxes per second. Every answer is
 * checked; a wrong one stops the benchmark.
 *
 * Run: npx tsc -p . && node dist/bench/hyperlight-backend.js [--iterations 300] [--duration 3] [--json]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { HyperlightBackend } from '../src/backends/hyperlight/backend.js';
import { MicroVmSandbox } from '../src/backends/hyperlight/sandbox.js';
import { createWasmBackend } from '../src/backends/wasm/index.js';
import { summarize } from '../src/bench/stats.js';
import type { Backend } from '../src/core/types.js';
import { loadModuleBytes } from '../src/runtimes/wasm/module.js';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '30' },
    duration: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const ITER = Number(args.iterations);
const WARMUP = Number(args.warmup);
const DURATION_MS = Number(args.duration) * 1000;

process.env.AGENTKERNEL_HOME ??= mkdtempSync(join(tmpdir(), 'ak-bench-hl-'));

const MODULE = await loadModuleBytes(`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`);

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wrong answer: ${what}`);
}

async function latency(fn: () => Promise<void>): Promise<ReturnType<typeof summarize>> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

async function perSecond(fn: () => Promise<void>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < DURATION_MS) {
    await fn();
    n++;
  }
  return (n * 1000) / (performance.now() - t0);
}

const invoke = (b: Backend) => async () => {
  const r = await b.invoke({ module: MODULE, export: 'add', args: [20, 22], memoryMb: 16 });
  check(r.results?.[0] === 42, `${b.name} add`);
};
const hello = (b: Backend) => async () => {
  const r = await b.runWasm({ module: MODULE, memoryMb: 16 });
  check(r.stdout === 'hello\n', `${b.name} hello`);
};

const hyper = new HyperlightBackend();
const avail = await hyper.availability();
if (!avail.available) {
  console.log(`hyperlight unavailable: ${avail.reason}`);
  process.exit(0);
}
const wasm = createWasmBackend({ poolSize: 1 });
const base = await MicroVmSandbox.create(MODULE, { memoryMb: 16 });
const snap = await base.snapshot();

const results: Record<string, unknown> = {};
try {
  results.restoreMs = await latency(async () => {
    const sb = await MicroVmSandbox.restore(snap);
    await sb.dispose();
  });
  results.invokeMs = { hyperlight: await latency(invoke(hyper)), wasm: await latency(invoke(wasm)) };
  results.helloMs = { hyperlight: await latency(hello(hyper)), wasm: await latency(hello(wasm)) };
  results.freshPerSecond = {
    // a new sandbox from the snapshot, one call, disposed
    hyperlight: await perSecond(async () => {
      const sb = await MicroVmSandbox.restore(snap);
      check((await sb.invoke('add', [1, 2])).results?.[0] === 3, 'sandbox add');
      await sb.dispose();
    }),
    // every wasm backend invoke is a fresh instance in a pooled worker
    wasm: await perSecond(invoke(wasm)),
  };
} finally {
  snap.dispose();
  await base.dispose();
  await Promise.allSettled([hyper.close(), wasm.close()]);
}

if (args.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const f = (s: { p50: number; p99: number }) => `p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms`;
  const r = results as {
    restoreMs: { p50: number; p99: number };
    invokeMs: Record<string, { p50: number; p99: number }>;
    helloMs: Record<string, { p50: number; p99: number }>;
    freshPerSecond: Record<string, number>;
  };
  console.log(`iterations ${ITER} (warmup ${WARMUP}), throughput over ${DURATION_MS / 1000} s`);
  console.log(`new sandbox from snapshot (hyperlight)   ${f(r.restoreMs)}`);
  for (const b of ['hyperlight', 'wasm']) {
    console.log(`pooled invoke add(20,22)  ${b.padEnd(10)}  ${f(r.invokeMs[b]!)}`);
    console.log(`WASI hello end to end     ${b.padEnd(10)}  ${f(r.helloMs[b]!)}`);
    console.log(`fresh sandboxes/s         ${b.padEnd(10)}  ${r.freshPerSecond[b]!.toFixed(0)}`);
  }
}
