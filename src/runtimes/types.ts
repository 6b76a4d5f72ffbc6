/**
 * Interfaces between the backends that execute code in-process (the jailed workers of the `wasm` backend, the
 * host side of the `hyperlight` micro-VM) and the runtimes they share: WASI preview1, the JavaScript, Python and
 * shell interpreters. A runtime never knows which backend hosts it.
 */
import type { GuestError, Language, Mount, TrapKind } from '../core/types.js';

/** Where a runtime writes guest output. The sink enforces the output cap; writes past it are dropped cheaply. */
export interface OutputSink {
  stdout(data: Uint8Array | string): void;
  stderr(data: Uint8Array | string): void;
}

/** Everything a runtime needs to run one piece of guest code. */
export interface RuntimeRequest {
  /** Environment visible to the guest: exactly this, nothing from the host. */
  env: Record<string, string>;
  /** Whole stdin, given up front. */
  stdin: Uint8Array;
  /** Host directories visible to the guest (already validated, absolute hostPath). */
  mounts: Mount[];
  /** Guest working directory (a guest path); defaults to the first mount's guestPath or '/'. */
  cwd?: string;
  /** Memory cap in MiB for the guest's own heap / linear memory. */
  memoryMb: number;
  /**
   * Wall-clock deadline (Date.now() based). Runtimes that can stop themselves cheaply (QuickJS's interrupt
   * handler) do so and report exit code 124; the host enforces it regardless by stopping the worker or VM.
   */
  deadline?: number;
}

export interface CodeRequest extends RuntimeRequest {
  code: string;
  /** sys.argv[1:] / process.argv.slice(2) for the snippet (script files run with arguments). */
  args?: string[];
  /**
   * Where the code came from, as the guest names it: a script's guest path, '-' for a program read from stdin,
   * or the `$0` given to `sh -c SCRIPT NAME`. Becomes sys.argv[0] / process.argv[1] / $0 and the file name in
   * tracebacks. Absent for `-c` / `-e` snippets.
   */
  scriptPath?: string;
}

/** How a run ended, from the runtime's point of view (stdout/stderr already went to the sink). */
export interface RuntimeOutcome {
  exitCode: number;
  /** Uncaught exception in the guest language, with its traceback. */
  error?: GuestError;
  /** Wasm trap (exit code 134, or 137 for memory_limit). */
  trap?: { kind: TrapKind; message: string };
  /** invoke(): results of the export. i64 values as decimal strings. */
  results?: (number | string)[];
  /** invoke of a component export: its return value as JSON (docs/components.md). */
  value?: unknown;
}

export interface CodeRuntime {
  readonly language: Language;
  /** Load the interpreter once (and take its clean-state snapshot). Idempotent. */
  prepare(): Promise<void>;
  /** Run code from clean interpreter state; state is reset afterwards. */
  run(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome>;
}
