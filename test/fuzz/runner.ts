/**
 * What every fuzzed surface looks like to the short CI runs (test/fuzz/*.test.ts) and to the long run
 * (bench/fuzz.ts): a name, a number of executions for CI, and an open() that starts the real parts and hands back
 * a fast-check property over them.
 */
import fc from 'fast-check';

export interface OpenSurface {
  property: fc.IAsyncProperty<any>;
  /** Checks, after the runs, that the surface still works (a server answers, a VM still runs a call). */
  healthy?(): Promise<void>;
  /** How the executions ended, by kind (printed by the CI runs and the long run). */
  stats?(): Record<string, number>;
  close(): Promise<void>;
}

export interface FuzzSurface {
  name: string;
  /** Executions of the short CI run (scaled by FUZZ_RUNS). */
  ciRuns: number;
  /** Starts what the property needs, or says why it cannot run here. */
  open(): Promise<OpenSurface | { skip: string }>;
}

/** The fixed seed of the CI runs (FUZZ_SEED overrides it, e.g. to replay a failure the long run found). */
export const DEFAULT_SEED = 20261129;

export function fuzzSeed(): number {
  const s = process.env.FUZZ_SEED;
  return s === undefined || s === '' ? DEFAULT_SEED : Number(s) | 0;
}

/** FUZZ_RUNS multiplies every surface's CI executions (default 1). */
/** Counts how executions ended, by kind. */
export class Tally {
  readonly counts: Record<string, number> = {};
  add(kind: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }
  get(kind: string): number {
    return this.counts[kind] ?? 0;
  }
  total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}

export function scaledRuns(base: number): number {
  const f = Number(process.env.FUZZ_RUNS ?? 1);
  return Math.max(1, Math.round(base * (Number.isFinite(f) && f > 0 ? f : 1)));
}

/** Rejects if `p` has not settled after `ms`: a hang is a finding, not a stuck test. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hang: ${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunFigures {
  executions: number;
  failures: { seed: number; counterexample: string; error: string }[];
  durationMs: number;
}

/**
 * Runs a property in rounds of `chunk` executions with fresh seeds until `budgetMs` has passed or `maxRuns`
 * were made; a failing round is recorded (seed, shrunk counterexample) and the run goes on with the next seed.
 */
export async function runFor(open: OpenSurface, opts: { budgetMs: number; maxRuns: number; chunk: number; firstSeed: number }): Promise<RunFigures> {
  const start = Date.now();
  const figures: RunFigures = { executions: 0, failures: [], durationMs: 0 };
  let seed = opts.firstSeed;
  while (Date.now() - start < opts.budgetMs && figures.executions < opts.maxRuns) {
    const numRuns = Math.min(opts.chunk, opts.maxRuns - figures.executions);
    const d = await fc.check(open.property, { numRuns, seed, endOnFailure: false });
    figures.executions += d.numRuns + d.numShrinks;
    if (d.failed) {
      figures.failures.push({
        seed,
        counterexample: fc.stringify(d.counterexample),
        error: String((d.errorInstance as Error | undefined)?.message ?? d.errorInstance).slice(0, 2000),
      });
    }
    seed = (seed + 0x9e3779b9) | 0;
  }
  figures.durationMs = Date.now() - start;
  return figures;
}

/** The short CI run of a surface inside a node:test test: fixed seed, FUZZ_RUNS-scaled executions. */
export async function fuzzTest(t: { skip(msg?: string): void; diagnostic(msg: string): void }, surface: FuzzSurface, runs = surface.ciRuns): Promise<void> {
  const o = await surface.open();
  if ('skip' in o) {
    t.skip(o.skip);
    return;
  }
  const seed = fuzzSeed();
  const numRuns = scaledRuns(runs);
  t.diagnostic(`${surface.name}: ${numRuns} executions, seed ${seed} (replay with FUZZ_SEED=${seed})`);
  try {
    await fc.assert(o.property, { numRuns, seed });
    await o.healthy?.();
    if (o.stats) t.diagnostic(`${surface.name} endings: ${JSON.stringify(o.stats())}`);
  } finally {
    await o.close();
  }
}
