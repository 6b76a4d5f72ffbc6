/**
 * How the CLI shows results: guest output streamed live to this process's stdout/stderr (or one JSON document with
 * --json), notes from agentkernel itself on stderr prefixed `agentkernel:`, and the guest's exit code as ours.
 */
import type { ExecResult, RunHooks } from '../core/types.js';
import { AgentKernelError, type ErrorCode } from '../core/errors.js';

/** Streaming hooks for a run, unless --json asked for one document at the end. */
export function streamHooks(json: boolean | undefined, signal?: AbortSignal): RunHooks {
  if (json) return { signal };
  return {
    onStdout: (t) => process.stdout.write(t),
    onStderr: (t) => process.stderr.write(t),
    signal,
  };
}

export function note(msg: string): void {
  process.stderr.write(`agentkernel: ${msg}\n`);
}

/** Print what streaming did not already show; return the exit code for this process. */
export function finishRun(r: ExecResult, json: boolean | undefined): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return r.exitCode;
  }
  if (r.results) for (const v of r.results) process.stdout.write(`${v}\n`);
  // a component export's return value, as JSON on one line
  if (r.value !== undefined) process.stdout.write(`${JSON.stringify(r.value)}\n`);
  if (r.timedOut) note(`timed out after ${r.durationMs} ms (exit code ${r.exitCode})`);
  if (r.trap && !r.stderr.includes(r.trap.message)) note(`trap (${r.trap.kind}): ${r.trap.message}`);
  if (r.stdoutTruncated) note('stdout was truncated at the output limit (--output-limit)');
  if (r.stderrTruncated) note('stderr was truncated at the output limit (--output-limit)');
  // missing isolation layers are reported by `status` and in the --json result (isolation.missing), not on every run
  return r.exitCode;
}

/** Exit codes for errors of agentkernel itself (guest exit codes pass through unchanged). */
const ERROR_EXIT: Record<ErrorCode, number> = {
  VALIDATION: 2,
  CONFIG: 2,
  NOT_FOUND: 4,
  CONFLICT: 5,
  UNSUPPORTED: 3,
  UNAVAILABLE: 3,
  TIMEOUT: 124,
  LIMIT: 137,
  ABORTED: 130,
  TRAP: 134,
  INTERNAL: 1,
};

export function reportError(e: unknown, json?: boolean): number {
  if (e instanceof AgentKernelError) {
    if (json) process.stdout.write(`${JSON.stringify({ success: false, error: e.toJSON() }, null, 2)}\n`);
    else note(`error: ${e.message}`);
    return ERROR_EXIT[e.code] ?? 1;
  }
  const err = e as Error;
  if (json) process.stdout.write(`${JSON.stringify({ success: false, error: { name: err?.name ?? 'Error', code: 'INTERNAL', message: String(err?.message ?? e) } }, null, 2)}\n`);
  else note(`internal error: ${err?.stack ?? String(e)}`);
  return 1;
}
