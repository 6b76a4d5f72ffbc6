/**
 * How a Python run ended, from what the runner (runner.ts) returned or what stopped it: shared by every
 * interpreter that runs the runner (Pyodide in the `wasm` backend, CPython in the micro-VM).
 */
import { EXIT } from '../../core/types.js';
import type { OutputSink, RuntimeOutcome } from '../types.js';
import type { RunnerResult } from './runner.js';

/** How a run ended, from what the runner returned (or threw) and what the guards saw. */
export function outcomeOf(
  r: { raw?: string; hostError: unknown; fired: boolean; overCap: boolean; refused: boolean; memoryMb: number },
  out: OutputSink,
): RuntimeOutcome {
  const { hostError, refused } = r;
  if (r.fired) return timedOut(out);
  if (hostError !== undefined) {
    // os._exit(n) ends the C program: a plain exit status (the interpreter is gone)
    const status = (hostError as { status?: unknown }).status;
    if (/^Exit/.test((hostError as Error).name) && typeof status === 'number') return { exitCode: status & 0xff };
    if (refused) return memoryLimit(out, r.memoryMb);
    const message = hostError instanceof Error ? hostError.message : String(hostError);
    out.stderr(`Fatal Python error: ${message}\n`);
    return { exitCode: EXIT.TRAP, trap: { kind: 'unknown', message } };
  }
  const result = JSON.parse(r.raw as string) as RunnerResult;
  if (result.error) out.stderr(result.error.traceback);
  if (r.overCap || (result.memoryError && refused)) {
    return { ...memoryLimit(out, r.memoryMb), ...(result.error ? { error: result.error } : {}) };
  }
  return { exitCode: result.exit, ...(result.error ? { error: result.error } : {}) };
}

export function timedOut(out: OutputSink): RuntimeOutcome {
  out.stderr('timeout: the run was stopped at its deadline\n');
  return { exitCode: EXIT.TIMEOUT };
}

export function memoryLimit(out: OutputSink, memoryMb: number): RuntimeOutcome {
  const message = `memory limit of ${memoryMb} MiB reached`;
  out.stderr(`${message}\n`);
  return { exitCode: EXIT.MEMORY, trap: { kind: 'memory_limit', message } };
}
