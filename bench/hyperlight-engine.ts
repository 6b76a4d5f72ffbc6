/**
 * Benchmark of the KVM micro-VM engine, next to `bwrap --ro-bind / / true` measured in the same run:
 *   - new VM from a snapshot (copy-on-write memfd mapping), p50/p99: cold (new KVM VM + vCPU) and with a recycled
 *     KVM VM + vCPU from the shell cache (what disposing a clean VM leaves behind)
 *   - pooled acquire + trivial call + release, p50/p99 (and a call with one host call)
 *   - the cost of one exit round trip through JavaScript (run() as seen by JS minus the time in KVM_RUN)
 *   - reset of a VM; stopping a spinning guest with cancel(); the pooled call and the reset again with resets that
 *     drop every private page (`vmmSetResetCopyLimit(0)`) instead of copying back the written ones
 *   - fresh sandboxes per second (create + trivial call + dispose, several in flight)
 *   - private memory per idle VM with 100 alive (/proc/self/smaps_rollup Private_*), and the machine's
 *     MemAvailable drop (which includes KVM's kernel-side memory)
 *
 * Run: npx tsc -p . && node dist/bench/hyperlight-engine.js [--json]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MicroVm, VmPool, vmmAvailability, vmmSetResetCopyLimit, vmmSetShellCache, type Snapshot } from '../src/backends/hyperlight/vmm.js';
import { bootToReady, call, cleanupGuests, skipReason } from '../test/hyperlight-vmm/helpers.js';

interface Dist {
  n: number;
  p50: number;
  p99: number;
  min: number;
}

function dist(samplesMs: number[]): Dist {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, p50: at(0.5), p99: at(0.99), min: s[0] };
}

const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);

function privateBytes(): number {
  const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
  let kb = 0;
  for (const m of text.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(m[1]);
  return kb * 1024;
}

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One trivial call: the spin guest asked to count to 1 ends with DONE at once (one exit). */
async function trivialCall(vm: MicroVm, dispatch: bigint): Promise<void> {
  const r = await call(vm, dispatch, [1]);
  if (r.exit.kind !== 'done') throw new Error(`trivial call ended with ${r.exit.kind}`);
}

async function newVmFromSnapshot(snap: Snapshot, n: number): Promise<Dist> {
  const samples: number[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const vm = snap.createVm();
    samples.push(performance.now() - t0);
    pending.push(vm.dispose());
    if (pending.length >= 16) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return dist(samples);
}

async function newVmAsync(snap: Snapshot, n: number): Promise<Dist> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const vm = await snap.createVmAsync();
    samples.push(performance.now() - t0);
    void vm.dispose();
  }
  await sleep(50);
  return dist(samples);
}

async function pooledCall(pool: VmPool, dispatch: bigint, n: number, args: number[]): Promise<Dist> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const vm = await pool.acquire();
    const r = await call(vm, dispatch, args);
    pool.release(vm);
    samples.push(performance.now() - t0);
    if (r.exit.kind !== 'done') throw new Error(`pooled call ended with ${r.exit.kind}`);
  }
  return dist(samples);
}

/** run() as JavaScript sees it, minus the time the runner thread spent in it: the cost of the hop. */
async function exitHop(snap: Snapshot, dispatch: bigint, n: number): Promise<{ run: Dist; hop: Dist }> {
  const vm = snap.createVm();
  const runs: number[] = [];
  const hops: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      vm.reset();
      vm.writeRequest({ op: 2, args: [1] });
      vm.enter(dispatch);
      const t0 = performance.now();
      const exit = await vm.run({ timeoutMs: 5000 });
      const ms = performance.now() - t0;
      runs.push(ms);
      hops.push(ms - exit.runNs / 1e6);
    }
  } finally {
    await vm.dispose();
  }
  return { run: dist(runs), hop: dist(hops) };
}

async function resetCost(snap: Snapshot, dispatch: bigint, n: number): Promise<Dist> {
  const vm = snap.createVm();
  const samples: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      await trivialCall(vm, dispatch);
      const t0 = performance.now();
      vm.reset();
      samples.push(performance.now() - t0);
    }
  } finally {
    await vm.dispose();
  }
  return dist(samples);
}

async function cancelLatency(snap: Snapshot, dispatch: bigint, n: number): Promise<Dist> {
  const vm = snap.createVm();
  const samples: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      vm.reset();
      vm.writeRequest({ op: 2, args: [0] });
      vm.enter(dispatch);
      const running = vm.run();
      await sleep(3);
      const t0 = performance.now();
      vm.cancel();
      const exit = await running;
      samples.push(performance.now() - t0);
      if (exit.kind !== 'cancelled') throw new Error(`spin ended with ${exit.kind}`);
    }
  } finally {
    await vm.dispose();
  }
  return dist(samples);
}

async function freshPerSecond(snap: Snapshot, dispatch: bigint, seconds: number, inFlight: number): Promise<number> {
  let count = 0;
  const end = performance.now() + seconds * 1000;
  const disposals: Promise<void>[] = [];
  const lane = async () => {
    while (performance.now() < end) {
      const vm = await snap.createVmAsync();
      await trivialCall(vm, dispatch);
      disposals.push(vm.dispose());
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  await Promise.all(disposals);
  return count / ((performance.now() - t0) / 1000);
}

async function idleMemory(snap: Snapshot, dispatch: bigint, n: number): Promise<{ privatePerVm: number; availablePerVm: number }> {
  await sleep(100);
  const p0 = privateBytes();
  const a0 = memAvailable();
  const vms: MicroVm[] = [];
  for (let i = 0; i < n; i++) {
    const vm = await snap.createVmAsync();
    await trivialCall(vm, dispatch);
    vm.reset(); // idle the way a pool keeps it
    vms.push(vm);
  }
  await sleep(100);
  const p1 = privateBytes();
  const a1 = memAvailable();
  await Promise.all(vms.map((vm) => vm.dispose()));
  return { privatePerVm: (p1 - p0) / n, availablePerVm: (a0 - a1) / n };
}

function bwrap(n: number): Dist | string {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = spawnSync('bwrap', ['--ro-bind', '/', '/', 'true'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `bwrap unavailable (${r.error?.message ?? `exit ${r.status}`})`;
    samples.push(performance.now() - t0);
  }
  return dist(samples);
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const skip = await skipReason();
  if (skip) {
    console.log(`hyperlight engine benchmark skipped: ${skip}`);
    return;
  }
  const spin = await bootToReady('spin');
  const hello = await bootToReady('hello');
  const results: Record<string, unknown> = { details: vmmAvailability().details };
  try {
    vmmSetShellCache(0); // cold: every VM gets a new KVM VM and vCPU, and closes them on dispose
    await newVmFromSnapshot(spin.snapshot, 30);
    const newVmCold = await newVmFromSnapshot(spin.snapshot, 300);
    const freshCold = await freshPerSecond(spin.snapshot, spin.dispatch, 2, 4);
    vmmSetShellCache(16);
    await newVmFromSnapshot(spin.snapshot, 50);
    const newVm = await newVmFromSnapshot(spin.snapshot, 500);
    const newVmOffThread = await newVmAsync(spin.snapshot, 200);
    const pool = new VmPool(spin.snapshot, { maxIdle: 4, minIdle: 1 });
    await pooledCall(pool, spin.dispatch, 100, [1]);
    const pooled = await pooledCall(pool, spin.dispatch, 1000, [1]);
    await pool.close();
    const helloPool = new VmPool(hello.snapshot, { maxIdle: 4 });
    const pooledHostcall = await pooledCall(helloPool, hello.dispatch, 500, [1]);
    await helloPool.close();
    const hop = await exitHop(spin.snapshot, spin.dispatch, 500);
    const reset = await resetCost(spin.snapshot, spin.dispatch, 300);
    const cancel = await cancelLatency(spin.snapshot, spin.dispatch, 100);
    const fresh = await freshPerSecond(spin.snapshot, spin.dispatch, 2, 4);
    const mem = await idleMemory(spin.snapshot, spin.dispatch, 100);
    vmmSetResetCopyLimit(0);
    const dropPool = new VmPool(spin.snapshot, { maxIdle: 4, minIdle: 1 });
    await pooledCall(dropPool, spin.dispatch, 100, [1]);
    const pooledDrop = await pooledCall(dropPool, spin.dispatch, 1000, [1]);
    await dropPool.close();
    const resetDrop = await resetCost(spin.snapshot, spin.dispatch, 300);
    vmmSetResetCopyLimit(16 * 1024 * 1024);
    const bw = bwrap(20);
    Object.assign(results, {
      newVmCold, newVm, newVmOffThread, pooled, pooledHostcall, hop, reset, cancel, freshCold, freshPerSecond: fresh, mem, bwrap: bw,
      pooledDrop, resetDrop,
    });

    if (json) {
      console.log(JSON.stringify(results, null, 2));
      return;
    }
    const row = (name: string, d: Dist, target?: string) =>
      console.log(`${name.padEnd(52)} p50 ${fmt(d.p50).padStart(9)}  p99 ${fmt(d.p99).padStart(9)}  min ${fmt(d.min).padStart(9)}${target ? `  (target ${target})` : ''}`);
    console.log('KVM micro-VM engine (backend hyperlight)');
    row('new VM from snapshot, cold (new KVM VM + vCPU)', newVmCold, 'p50 <= 0.5 ms');
    row('new VM from snapshot, recycled KVM VM + vCPU', newVm);
    row('  same, created on a runner thread (awaited)', newVmOffThread);
    row('pooled acquire + trivial call + release', pooled, 'p50 <= 0.2 ms');
    row('pooled acquire + call with one host call + release', pooledHostcall);
    row('run() to the next exit, as JS sees it', hop.run);
    row('  of which the hop runner thread <-> JS', hop.hop);
    row('reset() of a VM after a call', reset);
    row('  pooled trivial call, resets dropping private pages', pooledDrop);
    row('  reset() dropping private pages', resetDrop);
    row('cancel() of a spinning guest until run() resolves', cancel);
    console.log(`${'fresh sandboxes/s, cold (create+call+dispose, 4 in flight)'.padEnd(52)} ${freshCold.toFixed(0)} /s  (target >= 2000 /s)`);
    console.log(`${'fresh sandboxes/s, recycled KVM VM + vCPU'.padEnd(52)} ${fresh.toFixed(0)} /s`);
    console.log(`${'private memory per idle VM, 100 alive (smaps_rollup)'.padEnd(52)} ${(mem.privatePerVm / 1024).toFixed(1)} KiB  (target <= 256 KiB)`);
    console.log(`${'MemAvailable drop per idle VM (incl. kernel/KVM)'.padEnd(52)} ${(mem.availablePerVm / 1024).toFixed(1)} KiB`);
    if (typeof bw === 'string') console.log(bw);
    else {
      row('bwrap --ro-bind / / true', bw);
      console.log(`ratio (p50) bwrap / cold new VM: ${(bw.p50 / newVmCold.p50).toFixed(1)}x; bwrap / recycled new VM: ${(bw.p50 / newVm.p50).toFixed(0)}x; bwrap / pooled call: ${(bw.p50 / pooled.p50).toFixed(1)}x`);
    }
  } finally {
    spin.snapshot.dispose();
    hello.snapshot.dispose();
    await cleanupGuests();
  }
}

await main();
