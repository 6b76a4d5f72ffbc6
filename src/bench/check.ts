/**
 * Output checks. Every iteration of every row goes through `checkOutput`: a benchmark of a command that does not
 * do its job is worse than none, so a wrong output stops the row and fails the whole benchmark.
 */
import { AgentKernelError } from '../core/errors.js';
import type { Expectation, Observed } from './types.js';

/** A workload produced something other than its expected output. */
export class WrongOutputError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INTERNAL', message, details);
  }
}

function show(s: string | undefined, max = 200): string {
  const t = s ?? '';
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}

/** Throws WrongOutputError naming what was expected and what came back. */
export function checkOutput(rowId: string, expect: Expectation, got: Observed): void {
  const problems: string[] = [];
  const exitCode = expect.exitCode ?? 0;
  if (got.exitCode !== exitCode) problems.push(`exit code ${got.exitCode}, expected ${exitCode}`);
  if (expect.stdout !== undefined && got.stdout !== expect.stdout) {
    problems.push(`stdout ${show(got.stdout)}, expected ${show(expect.stdout)}`);
  }
  if (expect.results !== undefined) {
    const want = expect.results.map(String);
    const have = (got.results ?? []).map(String);
    if (want.length !== have.length || want.some((v, i) => v !== have[i])) {
      problems.push(`results [${have.join(', ')}], expected [${want.join(', ')}]`);
    }
  }
  if (problems.length) {
    const stderr = got.stderr ? `; stderr ${show(got.stderr)}` : '';
    throw new WrongOutputError(`${rowId}: wrong output: ${problems.join('; ')}${stderr}`, { row: rowId, expected: expect });
  }
}
