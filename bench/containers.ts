/**
 * Latency of `run -- echo hi` through the docker and podman backends, cold (a container started for the run) and
 * pooled (a warm container taken from the pool), next to the engines' own CLIs measured in the same process and
 * run: `ENGINE run --rm`, and `ENGINE exec` into a running container. Every sample checks its output.
 *
 *   npx tsc -p . && node dist/bench/containers.js [--iterations N] [--json]
 *
 * Images are never pulled: the offline test image (test/helpers/images.ts) is built when missing.
 */
import { spawn } from 'node:child_process';
import { summarize } from '../src/bench/stats.js';
import type { LatencyStats } from '../src/bench/types.js';
import type { ContainerBackend } from '../src/backends/container/backend.js';
import { createDockerBackend } from '../src/backends/docker/index.js';
import { createPodmanBackend } from '../src/backends/podman/index.js';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/images.js';

interface Row {
  id: string;
  method: string;
  n: number;
  stats: LatencyStats;
}

const args = process.argv.slice(2);
const ITERATIONS = Number(args[args.indexOf('--iterations') + 1]) > 0 && args.includes('--iterations') ? Number(args[args.indexOf('--iterations') + 1]) : 20;
const JSON_OUT = args.includes('--json');
const WARMUP = 2;
/** restrictive has no network, like the raw rows' --network none (attaching a bridge costs ~100 ms more). */
const PROFILE = 'restrictive';

/** Runs `fn` WARMUP + ITERATIONS times, one at a time; returns the timed samples (ms). */
async function sample(fn: () => Promise<void>, between?: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    if (between) await between();
    const t = performance.now();
    await fn();
    const dt = performance.now() - t;
    if (i >= WARMUP) out.push(dt);
  }
  return out;
}

function expectHi(stdout: string, what: string): void {
  if (stdout !== 'hi\n') throw new Error(`${what}: expected "hi\\n", got ${JSON.stringify(stdout)}`);
}

/** One engine CLI process to completion, stdout checked. */
function cliRun(binary: string, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${binary} ${argv.join(' ')}: exit ${code}: ${err.trim()}`));
      else {
        try {
          expectHi(out, binary);
          resolve();
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}

/** Between samples: the previous run's container removed and the pool refilled, so samples do not overlap. */
async function quiet(be: ContainerBackend): Promise<void> {
  await be.pool.settle();
}

async function benchEngine(make: typeof createDockerBackend): Promise<Row[] | string> {
  const probe = make({ poolSize: 0 });
  const skip = await ensureTestImage(probe);
  if (skip) return skip;
  const e = probe.name;
  const engine = probe.engine;
  const rows: Row[] = [];
  const opts = { image: TEST_IMAGE, profile: PROFILE };

  const cold = make({ poolSize: 0 });
  try {
    const s = await sample(async () => expectHi((await cold.run(['echo', 'hi'], opts)).stdout, 'cold run'), () => quiet(cold));
    rows.push({ id: `${e}: agentkernel run (cold)`, method: `ContainerBackend.run(['echo','hi'], {profile:'${PROFILE}'}), pool off: run -d + exec (removal after, not timed)`, n: s.length, stats: summarize(s) });
  } finally {
    await cold.close();
  }

  const pooled = make({ poolSize: 1 });
  try {
    await pooled.prewarm(opts);
    const s = await sample(async () => expectHi((await pooled.run(['echo', 'hi'], opts)).stdout, 'pooled run'), () => quiet(pooled));
    rows.push({ id: `${e}: agentkernel run (pooled)`, method: 'same, pool of 1 refilled between samples: exec into a warm container, replaced after (not timed)', n: s.length, stats: summarize(s) });
    // back to back: the next run starts while the previous container is removed and its replacement started
    const b2b = await sample(async () => expectHi((await pooled.run(['echo', 'hi'], opts)).stdout, 'pooled run'), async () => {
      while (pooled.pool.stats().ready < 1) await new Promise((r) => setTimeout(r, 10));
    });
    rows.push({ id: `${e}: agentkernel run (pooled, busy)`, method: 'same, next sample as soon as a warm container is ready (removal and refill overlap it)', n: b2b.length, stats: summarize(b2b) });
  } finally {
    await pooled.close();
  }

  // the engine's own CLI, with the flags this host needs (podman: runtime and rlimits) and no network
  const runArgv = [...engine.argv(['run', '--rm', '--network', 'none', '--pull', 'never', ...engine.profile.createArgs(), '--', TEST_IMAGE, 'echo', 'hi'])];
  const s1 = await sample(() => cliRun(engine.profile.binary, runArgv));
  rows.push({ id: `${e}: ${e} run --rm`, method: `${e} ${runArgv.join(' ')}`, n: s1.length, stats: summarize(s1) });

  const name = `agentkernel-bench-${process.pid}`;
  await engine.check(['run', '--detach', '--name', name, ...engine.profile.createArgs(), '--entrypoint', '/bin/sh', '--', TEST_IMAGE, '-c', 'sleep 3600']);
  try {
    const execArgv = engine.argv(['exec', name, 'echo', 'hi']);
    const s2 = await sample(() => cliRun(engine.profile.binary, execArgv));
    rows.push({ id: `${e}: ${e} exec`, method: `${e} ${execArgv.join(' ')} (container already running)`, n: s2.length, stats: summarize(s2) });
  } finally {
    await engine.call([...engine.profile.removeNow, '--', name]);
  }
  return rows;
}

function fmt(n: number): string {
  return n.toFixed(1).padStart(8);
}

const results: Row[] = [];
const skipped: string[] = [];
for (const make of [createDockerBackend, createPodmanBackend]) {
  const r = await benchEngine(make);
  if (typeof r === 'string') skipped.push(r);
  else results.push(...r);
}

if (JSON_OUT) {
  console.log(JSON.stringify({ iterations: ITERATIONS, warmup: WARMUP, rows: results, skipped }, null, 2));
} else {
  console.log(`container backends: echo hi, ${ITERATIONS} samples after ${WARMUP} warm-up runs each (ms)\n`);
  console.log(`${'row'.padEnd(40)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'min'.padStart(8)}${'mean'.padStart(8)}`);
  for (const r of results) console.log(`${r.id.padEnd(40)}${fmt(r.stats.p50)}${fmt(r.stats.p99)}${fmt(r.stats.min)}${fmt(r.stats.mean)}`);
  for (const s of skipped) console.log(`skipped: ${s}`);
  console.log('\nmethods:');
  for (const r of results) console.log(`  ${r.id}: ${r.method}`);
}
