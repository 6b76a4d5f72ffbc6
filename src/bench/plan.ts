/**
 * How a row is described before it runs. A RowSpec names the row and, when asked, produces a Plan (how this target
 * runs the workload) or a Skip (why it cannot run here). The measuring loop only ever sees Plans.
 */
import type { Expectation, MemoryFigure, Observed } from './types.js';

export interface Plan {
  /** how this target runs the workload, shown in reports */
  method: string;
  setup?(): Promise<void>;
  /** one timed iteration; `slot` is the caller's index (0 with one caller), for per-caller state */
  run(slot: number): Promise<Observed>;
  /** checks beyond the output comparison, untimed (e.g. the file really reached the host) */
  verify?(got: Observed, slot: number): Promise<void> | void;
  /** untimed cleanup after each iteration */
  afterEach?(slot: number): Promise<void>;
  teardown?(): Promise<void>;
  /** memory per live sandbox, measured after the timed phases */
  memory?(): Promise<MemoryFigure>;
}

export interface Skip {
  skip: string;
}

export function isSkip(p: Plan | Skip): p is Skip {
  return typeof (p as Skip).skip === 'string';
}

/** Shared by backend workloads and references. */
export interface WorkloadTraits {
  id: string;
  title: string;
  expect: Expectation;
  /** false: no concurrent phase (the work is itself heavy or process-wide, e.g. a cold start) */
  concurrent?: boolean;
  /** at most this many measured iterations (slow rows such as a full interpreter load) */
  maxIterations?: number;
  /** at least this many measured iterations, past the duration if need be (default 1) */
  minIterations?: number;
  /** warm-up iterations, when the run's default does not suit the row */
  warmup?: number;
}

export interface RowSpec extends WorkloadTraits {
  kind: 'backend' | 'reference';
  target: string;
  plan(expect: Expectation): Promise<Plan | Skip>;
}
