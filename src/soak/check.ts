/**
 * The verdict on one answer. `ok`: the request's own answer. `mixed`: the answer carries another request's
 * nonce. `wrong`: neither its own answer nor a clear error. `error`: a typed error that an injected fault explains
 * (a killed worker, a restarted server); an error nothing explains is `unexplained`. A request that never
 * answers is `lost` (decided by the runner's watchdog, not here).
 */
import type { Answer, SoakRequest } from './guests.js';

export type Verdict = 'ok' | 'error' | 'mixed' | 'wrong' | 'unexplained' | 'lost';

export interface Checked {
  verdict: Verdict;
  /** Short reason for anything but `ok`, e.g. `INTERNAL: worker died` or `expected exit 124, got 0`. */
  why?: string;
}

/** The faults that were injected where this request ran: they decide which errors count as explained. */
export interface FaultContext {
  /** wasm worker processes are being killed */
  workerKills: boolean;
  /** the server this request went to is being killed and restarted */
  serverRestarts: boolean;
}

const NONCE = /\d{10,}/g;

/** Nonces of other requests in an answer's text: proof of a mix-up. */
function foreignNonces(text: string, own: string): string[] {
  return (text.match(NONCE) ?? []).filter((n) => n !== own);
}

function expectResult(req: SoakRequest, a: Extract<Answer, { kind: 'result' }>): string | undefined {
  const echo = (): string | undefined =>
    a.exitCode === 0 && a.stdout === `${req.nonce}\n` ? undefined : `expected exit 0 and "${req.nonce}", got exit ${a.exitCode} ${JSON.stringify(a.stdout.slice(0, 80))}`;
  switch (req.kind) {
    case 'echo-wasm':
    case 'echo-js':
    case 'echo-shell':
    case 'slow-js':
      return echo();
    case 'echo-invoke':
      return a.exitCode === 0 && a.results?.length === 1 && String(a.results[0]) === req.nonce
        ? undefined : `expected results [${req.nonce}], got exit ${a.exitCode} ${JSON.stringify(a.results)}`;
    case 'spin':
      return a.exitCode === 124 && a.timedOut === true ? undefined : `expected a timeout (124), got exit ${a.exitCode}`;
    case 'trap':
      return a.exitCode === 134 && a.trap === 'unreachable' ? undefined : `expected an unreachable trap (134), got exit ${a.exitCode} trap ${a.trap}`;
    case 'bomb':
      // refused growth traps (134); a cap the engine enforces from outside is 137: both are this request's own end
      return (a.exitCode === 134 || a.exitCode === 137) && a.trap !== undefined ? undefined : `expected a trap or memory limit, got exit ${a.exitCode}`;
    case 'abort':
      return `expected the abandoned run to end as ABORTED, got a result (exit ${a.exitCode})`;
  }
}

/** Errors that the injected faults (or the request itself) account for. */
function explained(req: SoakRequest, a: Extract<Answer, { kind: 'error' }>, f: FaultContext): boolean {
  if (req.kind === 'abort' && a.code === 'ABORTED') return true;
  if (f.serverRestarts && a.code === 'CONNECTION') return true;
  // the run's worker was SIGKILLed from outside: the host reports the death of that worker, by pid
  if (f.workerKills && req.backend === 'wasm' && a.code === 'INTERNAL' && /wasm worker \(pid \d+\) died during the run/.test(a.message)) return true;
  return false;
}

export function check(req: SoakRequest, a: Answer, f: FaultContext): Checked {
  if (a.kind === 'error') {
    if (explained(req, a, f)) return { verdict: 'error', why: `${a.code}` };
    return { verdict: 'unexplained', why: `${a.code}: ${a.message.slice(0, 600)}` };
  }
  const problem = expectResult(req, a);
  if (!problem) return { verdict: 'ok' };
  const foreign = foreignNonces(`${a.stdout}\n${a.stderr}\n${(a.results ?? []).join(' ')}`, req.nonce);
  if (foreign.length > 0) return { verdict: 'mixed', why: `request ${req.nonce} (${req.kind}) got ${foreign.join(',')}: ${problem}` };
  return { verdict: 'wrong', why: `request ${req.nonce} (${req.kind}): ${problem}` };
}
