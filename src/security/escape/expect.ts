/** Expectations of escape attempts: small checks that compose, each saying in words what must happen. */
import { EXIT, type TrapKind } from '../../core/types.js';
import type { Check, Expectation, Outcome } from './types.js';

const show = (o: Outcome): string =>
  o.error
    ? `threw ${o.error.name}${o.error.code ? ` (${o.error.code})` : ''}: ${o.error.message}`
    : `exit ${o.result!.exitCode}${o.result!.trap ? ` trap ${o.result!.trap.kind}` : ''}; stdout ${JSON.stringify(o.result!.stdout.slice(0, 160))}; stderr ${JSON.stringify(o.result!.stderr.slice(0, 160))}`;

export function describeOutcome(o: Outcome): string {
  return show(o);
}

const ran = (f: (r: NonNullable<Outcome['result']>) => boolean, what: string): Check =>
  (o) => (o.result && f(o.result) ? undefined : `expected ${what}, got ${show(o)}`);

export const expectation = (says: string, check: Check): Expectation => ({ says, check });

/** The run ended with one of these exit codes. */
export const exits = (...codes: number[]): Expectation =>
  expectation(`exit ${codes.join(' or ')}`, ran((r) => codes.includes(r.exitCode), `exit ${codes.join('/')}`));

/** A Wasm trap (exit 134) of one of these kinds. */
export const traps = (...kinds: TrapKind[]): Expectation =>
  expectation(`trap ${kinds.join(' or ')} (exit ${EXIT.TRAP})`,
    ran((r) => r.exitCode === EXIT.TRAP && r.trap !== undefined && kinds.includes(r.trap.kind), `exit ${EXIT.TRAP} with trap ${kinds.join('/')}`));

/** Stopped at the memory cap: exit 137, trap memory_limit. */
export const memoryLimit = (): Expectation =>
  expectation(`exit ${EXIT.MEMORY}, trap memory_limit`,
    ran((r) => r.exitCode === EXIT.MEMORY && r.trap?.kind === 'memory_limit', `exit ${EXIT.MEMORY} with trap memory_limit`));

/** Stopped by its timeout: exit 124 and timedOut. */
export const timesOut = (): Expectation =>
  expectation(`exit ${EXIT.TIMEOUT}, timedOut`, ran((r) => r.exitCode === EXIT.TIMEOUT && r.timedOut === true, `exit ${EXIT.TIMEOUT} with timedOut`));

/** stdout matches. */
export const prints = (re: RegExp, says = `stdout matches ${re}`): Expectation =>
  expectation(says, ran((r) => re.test(r.stdout), `stdout matching ${re}`));

/** stdout or stderr matches (error texts land on either, depending on the tool). */
export const reports = (re: RegExp, says = `output matches ${re}`): Expectation =>
  expectation(says, ran((r) => re.test(r.stdout) || re.test(r.stderr), `stdout or stderr matching ${re}`));

/** The output never matches (a success marker of the attempt). */
export const never = (re: RegExp, says = `output never matches ${re}`): Expectation =>
  expectation(says, (o) => (o.result && (re.test(o.result.stdout) || re.test(o.result.stderr)) ? `the output shows ${re}: ${show(o)}` : undefined));

/** The call threw a typed error with this code (the operation was refused before the guest ran). */
export const refused = (code: string): Expectation =>
  expectation(`refused: ${code} error`, (o) => (o.error?.code === code ? undefined : `expected a ${code} error, got ${show(o)}`));

/**
 * At most `bytes` of stdout kept and the run ended: flagged truncated when it ended by itself, or stopped at its
 * timeout (a worker killed at its deadline cannot report what it dropped).
 */
export const outputCapped = (bytes: number): Expectation =>
  expectation(`at most ${bytes} bytes of stdout kept; exit 0 flagged truncated, or exit 124`,
    ran((r) => Buffer.byteLength(r.stdout) <= bytes && ((r.exitCode === 0 && r.stdoutTruncated) || r.exitCode === EXIT.TIMEOUT),
      `at most ${bytes} bytes of stdout and exit 0 with stdoutTruncated, or exit 124`));

/** Every expectation holds. */
export function all(...es: Expectation[]): Expectation {
  return expectation(es.map((e) => e.says).join('; '), (o) => {
    for (const e of es) {
      const why = e.check(o);
      if (why) return why;
    }
    return undefined;
  });
}

/** At least one expectation holds. */
export function either(...es: Expectation[]): Expectation {
  return expectation(es.map((e) => e.says).join(', or '), (o) => {
    const whys: string[] = [];
    for (const e of es) {
      const why = e.check(o);
      if (!why) return undefined;
      whys.push(why);
    }
    return whys.join(' | ');
  });
}
