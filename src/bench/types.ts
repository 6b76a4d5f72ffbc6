/**
 * The shapes of a benchmark run: what is asked (BenchOptions), what one row measures (RowResult) and the report
 * that every writer (text, JSON, HTML) renders. The JSON report is exactly `BenchReport`.
 */
import type { BackendName } from '../core/types.js';

/** What every iteration of a workload must produce; anything else fails the row. */
export interface Expectation {
  /** default 0 */
  exitCode?: number;
  stdout?: string;
  /** invoke(): the export's results, compared as decimal strings */
  results?: (number | string)[];
}

/** What one iteration produced (an ExecResult satisfies this). */
export interface Observed {
  exitCode: number;
  stdout: string;
  stderr?: string;
  results?: (number | string)[];
}

export type RowStatus = 'ok' | 'skipped' | 'failed';

/** Latency of single-caller iterations, in milliseconds. */
export interface LatencyStats {
  min: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface Throughput {
  /** completed runs per second with one caller (the latency phase) */
  sequentialPerSec: number;
  /** completed runs per second with `callers` concurrent callers; absent when the row does not run concurrently */
  concurrent?: { callers: number; perSec: number; iterations: number };
}

export interface MemoryFigure {
  /** KiB per live sandbox; null when it could not be measured here (see `note`) */
  perSandboxKiB: number | null;
  sandboxes: number;
  method: string;
  note?: string;
}

export interface RowResult {
  /** `${target}/${workload}` */
  id: string;
  kind: 'backend' | 'reference';
  /** the backend name, or `reference` */
  target: string;
  workload: string;
  title: string;
  /** how this target runs the workload (which API, which command) */
  method?: string;
  status: RowStatus;
  /** skipped: why the row could not run here */
  reason?: string;
  /** failed: what went wrong (a wrong output names expected and actual) */
  error?: string;
  warmup: number;
  iterations: number;
  /** the very first iteration (it pays for lazy loading: interpreters, pools, caches) */
  firstMs?: number;
  latencyMs?: LatencyStats;
  throughput?: Throughput;
  memory?: MemoryFigure;
  /** p50 divided by the p50 of the fastest reference measured in the same run */
  ratioToFastestReference?: number;
  elapsedMs: number;
}

export interface KvmFacts {
  present: boolean;
  /** the hardware virtualization flag in /proc/cpuinfo, if any */
  cpuFlag: 'vmx' | 'svm' | null;
  /** the `hypervisor` cpu flag: this machine is itself a guest */
  underHypervisor: boolean;
  /** kvm modules found under /sys/module */
  modules: string[];
  /** /dev/kvm provided by nested virtualization (no vmx/svm flag, or kvm_pvm) */
  nested: boolean;
  summary: string;
}

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  platform: string;
  arch: string;
  kernel: string;
  kernelVersion: string;
  node: string;
  agentkernel: string;
  kvm: KvmFacts;
  /** 1, 5, 15-minute load average when the run started: a busy machine gives slower figures */
  loadAverage: number[];
  date: string;
}

/** A published figure, shown for context and never mixed up with measurements. */
export interface QuotedFigure {
  source: string;
  label: string;
  /** one value or a [low, high] range, in milliseconds */
  ms: number | [number, number];
}

export interface BenchSettings {
  durationS: number;
  concurrency: number;
  warmup: number;
  backends: BackendName[];
  workloads: string[];
  references: string[];
}

export interface BenchReport {
  schema: 'agentkernel-bench/1';
  /** false when any row failed: its figures are withheld and the command exits non-zero */
  ok: boolean;
  startedAt: string;
  finishedAt: string;
  machine: MachineFacts;
  settings: BenchSettings;
  backends: { name: BackendName; available: boolean; reason?: string }[];
  rows: RowResult[];
  fastestReference?: { id: string; p50Ms: number };
  quoted: QuotedFigure[];
}

export interface BenchOptions {
  /** default: every backend agentkernel knows */
  backends?: BackendName[];
  /** backend workload ids; default: all */
  workloads?: string[];
  /** reference ids; default: all; [] for none */
  references?: string[];
  /** seconds of measurement per row (warm-up not included); default 2 */
  durationS?: number;
  /** concurrent callers for the throughput phase; default 4 (1: no concurrent phase) */
  concurrency?: number;
  /** warm-up iterations before measuring; default 3 */
  warmup?: number;
  /** replace the expected output of workloads or references, by id (to prove that a wrong output fails) */
  expect?: Record<string, Expectation>;
  /** progress display; default: none */
  progress?: ProgressSink;
  signal?: AbortSignal;
}

/** Receives progress while rows run (the CLI draws it on stderr). */
export interface ProgressSink {
  rowStarted(id: string, index: number, total: number): void;
  iteration(phase: 'warm-up' | 'measure' | 'concurrent' | 'memory', count: number): void;
  rowFinished(row: RowResult): void;
  done(): void;
}
