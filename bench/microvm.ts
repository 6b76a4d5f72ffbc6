/**
 * Latency of `run -- echo hi` on the microVM backends — cold (a VM booted for the run) and from the warm pool (a
 * booted VM taken, destroyed after) — plus exec into a running persistent microVM sandbox, next to the container
 * backends' pooled run and `ENGINE exec` measured in the same process and run. Every sample checks its output.
 *
 *   npx tsc -p . && node dist/bench/microvm.js [--iterations N] [--cold N] [--json]
 *
 * Under software emulation (TCG) each boot is seconds, so the cold rows take few samples. Pooled samples wait,
 * untimed, for the pool to hold a booted VM again. Nothing is downloaded: the guest is built from host packages
 * (`agentkernel setup`), the container image offline (test/helpers/images.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize } from '../src/bench/stats.js';
import type { LatencyStats } from '../src/bench/types.js';
import type { MicroVmBackend, MicroVmBackendOptions } from '../src/backends/microvm/backend.js';
import { buildGuestImage } from '../src/backends/microvm/guest-image.js';
import { createQemuBackend } from '../src/backends/qemu/index.js';
import { createFirecrackerBackend } from '../src/backends/firecracker/index.js';
import { createDockerBackend } from '../src/backends/docker/index.js';
import { createPodmanBackend } from '../src/backends/podman/index.js';
import { SandboxStore } from '../src/service/store.js';
import { ensureTestImage, TEST_IMAGE } from '../test/helpers/images.js';

interface Row {
  id: string;
  method: string;
  n: number;
  stats: LatencyStats;
}

const args = process.argv.slice(2);
const num = (flag: string, dflt: number) => (args.includes(flag) && Number(args[args.indexOf(flag) + 1]) > 0 ? Number(args[args.indexOf(flag) + 1]) : dflt);
const ITERATIONS = num('--iterations', 10);
const COLD = num('--cold', 3);
const JSON_OUT = args.includes('--json');
/** restrictive: no network device, 256 MiB, like the container rows' --network none. */
const PROFILE = 'restrictive';
const RUN = { profile: PROFILE, timeoutMs: 120_000 };

function expectHi(stdout: string, what: string): void {
  if (stdout !== 'hi\n') throw new Error(`${what}: expected "hi\\n", got ${JSON.stringify(stdout)}`);
}

async function sample(n: number, fn: () => Promise<void>, between?: () => Promise<void>, warmup = 1): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    if (between) await between();
    const t = performance.now();
    await fn();
    if (i >= warmup) out.push(performance.now() - t);
  }
  return out;
}

function cliExec(binary: string, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${binary} ${argv.join(' ')}: exit ${code}`));
      try {
        expectHi(out, binary);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  });
}

async function benchMicroVm(make: (o: MicroVmBackendOptions) => MicroVmBackend, store: SandboxStore): Promise<Row[] | string> {
  const probe = make({ store, poolSize: 0 });
  const a = await probe.availability();
  if (!a.available) return `${probe.name}: ${a.reason}`;
  const accel = String(a.details?.acceleration ?? '?');
  const name = probe.name;
  const rows: Row[] = [];
  const s0 = await sample(COLD, async () => expectHi((await probe.run(['echo', 'hi'], RUN)).stdout, 'cold run'), undefined, 0);
  rows.push({ id: `${name} (${accel}): run (cold)`, method: 'pool off: copy-on-write disk + VMM start + kernel boot + agent answer + exec; VM destroyed after (not timed)', n: s0.length, stats: summarize(s0) });

  const pooled = make({ store, poolSize: 1 });
  try {
    await pooled.prewarm({ profile: PROFILE });
    const s = await sample(ITERATIONS, async () => expectHi((await pooled.run(['echo', 'hi'], RUN)).stdout, 'pooled run'), async () => {
      while (pooled.pool.ready() < 1) await new Promise((r) => setTimeout(r, 50));
    });
    rows.push({ id: `${name} (${accel}): run (warm pool)`, method: 'a booted VM from the pool (refilled between samples, not timed): EXEC over the agent connection; VM destroyed after', n: s.length, stats: summarize(s) });

    const sb = `bench-${process.pid}`;
    await pooled.create({ name: sb, profile: PROFILE });
    try {
      const s2 = await sample(ITERATIONS, async () => expectHi((await pooled.exec(sb, ['echo', 'hi'], RUN)).stdout, 'exec'));
      rows.push({ id: `${name} (${accel}): exec in a sandbox`, method: 'persistent sandbox already booted: connect to its agent socket, PING, EXEC', n: s2.length, stats: summarize(s2) });
    } finally {
      await pooled.remove(sb);
    }
  } finally {
    await pooled.close();
    await probe.close();
  }
  return rows;
}

async function benchContainers(make: typeof createDockerBackend): Promise<Row[] | string> {
  const be = make({ poolSize: 1 });
  const skip = await ensureTestImage(be);
  if (skip) return skip;
  const rows: Row[] = [];
  const opts = { image: TEST_IMAGE, profile: PROFILE };
  try {
    await be.prewarm(opts);
    const s = await sample(ITERATIONS, async () => expectHi((await be.run(['echo', 'hi'], opts)).stdout, 'pooled run'), () => be.pool.settle());
    rows.push({ id: `${be.name}: run (warm pool)`, method: 'exec into a warm container, replaced after (not timed)', n: s.length, stats: summarize(s) });
  } finally {
    await be.close();
  }
  const engine = be.engine;
  const cname = `agentkernel-bench-vm-${process.pid}`;
  await engine.check(['run', '--detach', '--name', cname, ...engine.profile.createArgs(), '--entrypoint', '/bin/sh', '--', TEST_IMAGE, '-c', 'sleep 3600']);
  try {
    const argv = engine.argv(['exec', cname, 'echo', 'hi']);
    const s = await sample(ITERATIONS, () => cliExec(engine.profile.binary, argv));
    rows.push({ id: `${be.name}: ${be.name} exec`, method: `${be.name} ${argv.join(' ')} (container already running)`, n: s.length, stats: summarize(s) });
  } finally {
    await engine.call([...engine.profile.removeNow, '--', cname]);
  }
  return rows;
}

const home = process.env.AGENTKERNEL_HOME ? undefined : mkdtempSync(join(tmpdir(), 'ak-bench-microvm-'));
if (home) process.env.AGENTKERNEL_HOME = home;
const storeDir = mkdtempSync(join(tmpdir(), 'ak-bench-store-'));
const results: Row[] = [];
const skipped: string[] = [];
try {
  try {
    await buildGuestImage();
  } catch (e) {
    skipped.push(`microVM guest: ${(e as Error).message}`);
  }
  for (const make of [createQemuBackend, createFirecrackerBackend]) {
    const r = await benchMicroVm(make, new SandboxStore(storeDir));
    if (typeof r === 'string') skipped.push(r);
    else results.push(...r);
  }
  for (const make of [createDockerBackend, createPodmanBackend]) {
    const r = await benchContainers(make);
    if (typeof r === 'string') skipped.push(r);
    else results.push(...r);
  }
} finally {
  rmSync(storeDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
}

const fmt = (n: number) => n.toFixed(1).padStart(9);
if (JSON_OUT) {
  console.log(JSON.stringify({ iterations: ITERATIONS, cold: COLD, rows: results, skipped }, null, 2));
} else {
  console.log(`microVM and container backends: echo hi (ms)\n`);
  console.log(`${'row'.padEnd(42)}${'n'.padStart(4)}${'p50'.padStart(9)}${'p99'.padStart(9)}${'min'.padStart(9)}${'mean'.padStart(9)}`);
  for (const r of results) console.log(`${r.id.padEnd(42)}${String(r.n).padStart(4)}${fmt(r.stats.p50)}${fmt(r.stats.p99)}${fmt(r.stats.min)}${fmt(r.stats.mean)}`);
  for (const s of skipped) console.log(`skipped: ${s}`);
  console.log('\nmethods:');
  for (const r of results) console.log(`  ${r.id}: ${r.method}`);
}
