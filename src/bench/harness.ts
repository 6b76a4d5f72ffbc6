/**
 * `runBench`: every requested backend x every requested workload, plus the reference rows, into one report.
 * Backends are reached only through the AgentKernel (and, for cold starts, through a fresh instance from the
 * backend registry), so a backend that lands in the registry is benchmarked without changes here. Unavailable
 * backends and missing capabilities become skipped rows with the reason; errors and wrong outputs become failed
 * rows, and a failed row makes the whole report `ok: false`.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortError, ValidationError, throwIfAborted } from '../core/errors.js';
import { parseBackendName } from '../core/config.js';
import type { BackendName } from '../core/types.js';
import type { AgentKernel } from '../service/kernel.js';
import { probe, type BackendStatus } from '../backends/detect.js';
import { BACKENDS, backendEntry, loadBackend } from '../backends/registry.js';
import { machineFacts } from './machine.js';
import { NotRunnableHere, isPrecondition, measure, type MeasureOptions } from './measure.js';
import { benchModules, type BenchModules } from './modules.js';
import { backendOps, kernelOps } from './ops.js';
import { isSkip, type Plan, type RowSpec, type Skip } from './plan.js';
import { QUOTED } from './quoted.js';
import { REFERENCES, REFERENCE_IDS } from './references.js';
import type { BenchOptions, BenchReport, BenchSettings, Expectation, RowResult } from './types.js';
import { WORKLOADS, WORKLOAD_IDS, type BackendTarget } from './workloads.js';

export const DEFAULTS = { durationS: 2, concurrency: 4, warmup: 3 } as const;

function pick(what: string, asked: readonly string[] | undefined, known: readonly string[]): string[] {
  if (asked === undefined) return [...known];
  const unknown = asked.filter((a) => !known.includes(a));
  if (unknown.length) throw new ValidationError(`unknown ${what} ${unknown.map((u) => `'${u}'`).join(', ')} (known: ${known.join(', ')})`);
  return known.filter((k) => asked.includes(k));
}

function positive(what: string, v: number, min: number, integer: boolean): number {
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new ValidationError(`${what} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${v}`);
  }
  return v;
}

export function benchSettings(o: BenchOptions): BenchSettings {
  const backends = o.backends?.map((b) => parseBackendName(b)) ?? BACKENDS.map((b) => b.name);
  return {
    durationS: positive('duration', o.durationS ?? DEFAULTS.durationS, 0.01, false),
    concurrency: positive('concurrency', o.concurrency ?? DEFAULTS.concurrency, 1, true),
    warmup: positive('warmup', o.warmup ?? DEFAULTS.warmup, 0, true),
    backends: [...new Set(backends)],
    workloads: pick('workload', o.workloads, WORKLOAD_IDS),
    references: pick('reference', o.references, REFERENCE_IDS),
  };
}

/** What a backend's workloads are given: built once per backend, on its first row. */
async function backendTarget(k: AgentKernel, name: BackendName, modules: BenchModules, tmpDir: string): Promise<BackendTarget> {
  const b = await loadBackend(name);
  const dir = join(tmpDir, name);
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return {
    name,
    caps: b.capabilities(),
    ops: kernelOps(k, name),
    async fresh() {
      // a new instance, not the registry's shared one: its pools start empty
      const load = backendEntry(name).load;
      if (!load) throw new ValidationError(`backend '${name}' is not implemented`);
      const inst = await load();
      return { ops: backendOps(inst, k.settings), close: () => inst.close() };
    },
    modules,
    tmpDir: dir,
    sandboxName: () => `bench-${process.pid}-${name}-${n++}`,
  };
}

function rowSpecs(k: AgentKernel, s: BenchSettings, status: Map<BackendName, BackendStatus>, modules: BenchModules, tmpDir: string): RowSpec[] {
  const specs: RowSpec[] = [];
  for (const name of s.backends) {
    let target: Promise<BackendTarget> | undefined;
    for (const w of WORKLOADS.filter((x) => s.workloads.includes(x.id))) {
      specs.push({
        ...w,
        kind: 'backend',
        target: name,
        async plan(expect: Expectation): Promise<Plan | Skip> {
          const st = status.get(name)!;
          if (!st.available) return { skip: `backend '${name}' is unavailable: ${st.reason ?? 'unknown reason'}` };
          target ??= backendTarget(k, name, modules, tmpDir);
          return w.plan(await target, expect);
        },
      });
    }
  }
  const refDir = join(tmpDir, 'reference');
  for (const r of REFERENCES.filter((x) => s.references.includes(x.id))) {
    specs.push({
      ...r,
      kind: 'reference',
      target: 'reference',
      plan: (expect) => {
        mkdirSync(refDir, { recursive: true });
        return r.plan({ modules, tmpDir: refDir }, expect);
      },
    });
  }
  return specs;
}

async function runRow(spec: RowSpec, expect: Expectation, o: MeasureOptions): Promise<RowResult> {
  const id = `${spec.target}/${spec.id}`;
  const base = { id, kind: spec.kind, target: spec.target, workload: spec.id, title: spec.title, warmup: 0, iterations: 0 };
  const t0 = performance.now();
  const elapsed = () => Math.round(performance.now() - t0);
  let plan: Plan | Skip;
  try {
    plan = await spec.plan(expect);
  } catch (e) {
    return { ...base, status: 'failed', error: `${id}: could not prepare: ${(e as Error).message}`, elapsedMs: elapsed() };
  }
  if (isSkip(plan)) return { ...base, status: 'skipped', reason: plan.skip, elapsedMs: elapsed() };
  const method = plan.method;
  let row: RowResult;
  try {
    try {
      await plan.setup?.();
    } catch (e) {
      throw isPrecondition(e) ? new NotRunnableHere((e as Error).message) : e;
    }
    const m = await measure(id, spec, plan, expect, o);
    row = { ...base, method, status: 'ok', ...m, elapsedMs: 0 };
  } catch (e) {
    if (e instanceof AbortError) throw e;
    const msg = (e as Error).message ?? String(e);
    row = e instanceof NotRunnableHere
      ? { ...base, method, status: 'skipped', reason: `${spec.target} cannot run this here: ${msg}`, elapsedMs: 0 }
      : { ...base, method, status: 'failed', error: msg.startsWith(id) ? msg : `${id}: ${msg}`, elapsedMs: 0 };
  }
  try {
    await plan.teardown?.();
  } catch (e) {
    if (row.status === 'ok') row = { ...base, method, status: 'failed', error: `${id}: cleanup failed: ${(e as Error).message}`, elapsedMs: 0 };
  }
  return { ...row, elapsedMs: elapsed() };
}

/** Ratios to the fastest reference: the figure that survives a noisy machine. */
function addRatios(rows: RowResult[]): BenchReport['fastestReference'] {
  const refs = rows.filter((r) => r.kind === 'reference' && r.status === 'ok' && r.latencyMs);
  if (refs.length === 0) return undefined;
  const fastest = refs.reduce((a, b) => (b.latencyMs!.p50 < a.latencyMs!.p50 ? b : a));
  const p50 = fastest.latencyMs!.p50;
  for (const r of rows) if (r.latencyMs) r.ratioToFastestReference = r.latencyMs.p50 / p50;
  return { id: fastest.id, p50Ms: p50 };
}

export async function runBench(k: AgentKernel, opts: BenchOptions = {}): Promise<BenchReport> {
  const settings = benchSettings(opts);
  const started = new Date();
  const machine = machineFacts(started);
  throwIfAborted(opts.signal);
  const modules = await benchModules();
  const statuses = await Promise.all(settings.backends.map((b) => probe(b)));
  const status = new Map(statuses.map((s) => [s.name, s]));
  const tmpDir = mkdtempSync(join(tmpdir(), 'ak-bench-'));
  const rows: RowResult[] = [];
  try {
    const specs = rowSpecs(k, settings, status, modules, tmpDir);
    const mo: MeasureOptions = {
      durationMs: settings.durationS * 1000,
      concurrency: settings.concurrency,
      warmup: settings.warmup,
      signal: opts.signal,
      progress: opts.progress,
    };
    for (const [i, spec] of specs.entries()) {
      throwIfAborted(opts.signal);
      opts.progress?.rowStarted(`${spec.target}/${spec.id}`, i, specs.length);
      const expect = { ...spec.expect, ...opts.expect?.[spec.id] };
      const row = await runRow(spec, expect, mo);
      rows.push(row);
      opts.progress?.rowFinished(row);
    }
  } finally {
    opts.progress?.done();
    rmSync(tmpDir, { recursive: true, force: true });
  }
  const fastestReference = addRatios(rows);
  return {
    schema: 'agentkernel-bench/1',
    ok: rows.every((r) => r.status !== 'failed'),
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    settings,
    backends: statuses.map((s) => ({ name: s.name, available: s.available, ...(s.reason ? { reason: s.reason } : {}) })),
    rows,
    ...(fastestReference ? { fastestReference } : {}),
    quoted: [...QUOTED],
  };
}
