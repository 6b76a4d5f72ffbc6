/**
 * The measuring loop of one row: warm-up iterations, then one caller for latency and runs per second, then N
 * concurrent callers for throughput, then memory where the row can measure it. Every iteration's output is checked
 * (untimed, after the clock stops); the first wrong output ends the row.
 */
import { NotFoundError, UnavailableError, throwIfAborted } from '../core/errors.js';
import { checkOutput } from './check.js';
import type { Plan, WorkloadTraits } from './plan.js';
import { summarize } from './stats.js';
import type { Expectation, LatencyStats, MemoryFigure, ProgressSink, Throughput } from './types.js';

export interface MeasureOptions {
  /** measured time of the row, warm-up excluded */
  durationMs: number;
  concurrency: number;
  warmup: number;
  signal?: AbortSignal;
  progress?: ProgressSink;
}

export interface Measurement {
  warmup: number;
  iterations: number;
  firstMs: number;
  latencyMs: LatencyStats;
  throughput: Throughput;
  memory?: MemoryFigure;
}

/**
 * The row's very first iteration could not run for a reason of this machine, not of the product: the engine is
 * unavailable or the configured container image is not present locally. The row is skipped with that reason.
 */
export class NotRunnableHere extends Error {}

export function isPrecondition(e: unknown): boolean {
  return e instanceof UnavailableError || (e instanceof NotFoundError && e.details?.image !== undefined);
}

/** Share of the row's duration given to the single-caller phase when a concurrent phase follows. */
const SEQUENTIAL_SHARE = 0.6;

export async function measure(rowId: string, traits: WorkloadTraits, plan: Plan, expect: Expectation, o: MeasureOptions): Promise<Measurement> {
  const max = traits.maxIterations ?? Infinity;
  let completed = 0;

  /** One timed iteration; returns its latency in ms. */
  const once = async (slot: number): Promise<number> => {
    let failed = true;
    try {
      const t0 = performance.now();
      let got;
      try {
        got = await plan.run(slot);
      } catch (e) {
        if (completed === 0 && isPrecondition(e)) throw new NotRunnableHere((e as Error).message);
        throw e;
      }
      const ms = performance.now() - t0;
      checkOutput(rowId, expect, got);
      await plan.verify?.(got, slot);
      failed = false;
      completed++;
      return ms;
    } finally {
      // cleanup runs even after a failure, but must not hide the failure's own error
      if (plan.afterEach) await plan.afterEach(slot).catch((e: unknown) => { if (!failed) throw e; });
    }
  };

  let firstMs: number | undefined;
  const warmupCount = traits.warmup ?? o.warmup;
  const warmStart = performance.now();
  let warmed = 0;
  // warm-up is bounded too: at most half the row's duration after the first iteration
  while (warmed < warmupCount && (warmed === 0 || performance.now() - warmStart < o.durationMs / 2)) {
    throwIfAborted(o.signal);
    const ms = await once(0);
    firstMs ??= ms;
    warmed++;
    // (counters are never updated inside an optional call: with no progress sink its arguments are not evaluated)
    o.progress?.iteration('warm-up', warmed);
  }

  const concurrent = traits.concurrent !== false && o.concurrency > 1;
  const seqBudget = concurrent ? o.durationMs * SEQUENTIAL_SHARE : o.durationMs;
  const samples: number[] = [];
  const seqStart = performance.now();
  const min = Math.min(traits.minIterations ?? 1, max);
  // at least `min` measured iterations, however slow
  while (samples.length < min || (performance.now() - seqStart < seqBudget && samples.length < max)) {
    throwIfAborted(o.signal);
    const ms = await once(0);
    firstMs ??= ms;
    samples.push(ms);
    o.progress?.iteration('measure', samples.length);
  }
  const throughput: Throughput = { sequentialPerSec: samples.length / ((performance.now() - seqStart) / 1000) };

  if (concurrent) {
    const deadline = performance.now() + o.durationMs - seqBudget;
    const start = performance.now();
    let done = 0;
    let stop = false;
    const caller = async (slot: number): Promise<void> => {
      do {
        throwIfAborted(o.signal);
        await once(slot);
        done++;
        o.progress?.iteration('concurrent', done);
      } while (!stop && performance.now() < deadline);
    };
    const settled = await Promise.allSettled(
      Array.from({ length: o.concurrency }, (_, slot) => caller(slot).catch((e: unknown) => { stop = true; throw e; })),
    );
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    throughput.concurrent = { callers: o.concurrency, perSec: done / ((performance.now() - start) / 1000), iterations: done };
  }

  let memory: MemoryFigure | undefined;
  if (plan.memory) {
    throwIfAborted(o.signal);
    o.progress?.iteration('memory', 0);
    memory = await plan.memory();
  }
  // no `memory: undefined` key: the report must survive a JSON round trip unchanged
  return { warmup: warmed, iterations: samples.length, firstMs: firstMs!, latencyMs: summarize(samples), throughput, ...(memory ? { memory } : {}) };
}
