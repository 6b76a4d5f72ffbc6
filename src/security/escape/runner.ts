/**
 * Runs the escape corpus against backends and judges every attempt strictly: the attempt's own expectation, no
 * canary (secret, host /etc/shadow, a planted token) anywhere in what came back, no connection to the host's
 * loopback listener, and where asked nothing new outside, no process left, the backend still working.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { isAgentKernelError } from '../../core/errors.js';
import type { Backend, BackendName, ExecOptions, ExecResult, Language, Mount } from '../../core/types.js';
import { CANARY_ENV, SECRET_FILE, type Canaries } from './canary.js';
import { ESCAPE_CASES } from './cases/index.js';
import { describeOutcome } from './expect.js';
import { alive, processesWith, settle } from './host.js';
import { PROBE_OPS, PROBE_WAT } from './probe.js';
import { MOUNT_PATH, type Attempt, type AttemptVerdict, type Cell, type EscapeCase, type EscapeTarget, type Matrix, type MountKind, type Outcome, type Payload } from './types.js';

export interface EscapeRunOptions {
  canaries: Canaries;
  cases?: readonly EscapeCase[];
  /** Attempts run at once on one backend (containers are slow; the default runs them one by one). */
  concurrency?: Partial<Record<BackendName, number>>;
  /** Called as each cell is decided. */
  onCell?: (cell: Cell) => void;
}

// generous: attempts that must end by themselves share a loaded machine with every other backend's attempts
const DEFAULT_TIMEOUT_MS = 30_000;
const NEIGHBOUR_FILE = '/tmp/escape-neighbour.txt';

/** A neighbour sandbox holding the canary, and the attacker sandbox that runs `inSandbox` attempts. */
interface Sandboxes {
  attacker: string;
  neighbourFile: string;
}

function languageArgv(language: Language, code: string): string[] {
  if (language === 'python') return ['python3', '-c', code];
  if (language === 'javascript') return ['node', '-e', code];
  return ['sh', '-c', code];
}

class TargetRun {
  private sandboxes?: Promise<Sandboxes>;
  private readonly created: string[] = [];
  readonly backend: Backend;

  constructor(readonly target: EscapeTarget, private readonly canaries: Canaries) {
    this.backend = target.backend;
  }

  /** Why an attempt cannot run on this backend, or undefined. */
  notApplicable(a: Attempt): string | undefined {
    const name = this.backend.name;
    const caps = this.backend.capabilities();
    if (a.inSandbox && !(caps.lifecycle && caps.exec)) return `${name} has no persistent sandboxes`;
    for (const p of [a.payload, ...(a.before ? [a.before] : [])]) {
      if ((p.kind === 'probe' || p.kind === 'module') && !caps.runWasm) return `${name} does not run WASI modules`;
      if (p.kind === 'invoke' && !caps.invoke) return `${name} does not invoke exports`;
      if (p.kind === 'code' && !caps.languages.includes(p.language)) return `${name} has no ${p.language} runtime`;
      if (p.kind === 'argv' && !this.target.image) return `container commands (busybox sh) need a container image; ${name} runs none`;
    }
    // last: where the backend cannot run the kind of guest at all, that is the better reason
    if (a.only && !a.only.includes(name)) return `only for ${a.only.join(', ')}`;
    return undefined;
  }

  private mounts(kind: MountKind | undefined): Mount[] | undefined {
    if (!kind) return undefined;
    return [{ hostPath: this.canaries.paths.data, guestPath: MOUNT_PATH, readOnly: kind === 'data' }];
  }

  /** Create the neighbour (canary in a file and its environment) and the attacker, once per backend. */
  private ensureSandboxes(profile: string): Promise<Sandboxes> {
    this.sandboxes ??= (async () => {
      const id = randomBytes(3).toString('hex');
      const neighbour = `escape-neighbour-${id}`;
      const attacker = `escape-attacker-${id}`;
      const n = this.target.neighbour;
      await this.backend.create({ name: neighbour, profile, image: this.target.image, env: { ESCAPE_NEIGHBOUR: this.canaries.secret } });
      this.created.push(neighbour);
      await this.backend.writeFile(neighbour, n?.guestPath ?? NEIGHBOUR_FILE, `${this.canaries.secret}\n`);
      await this.backend.create({ name: attacker, profile, image: this.target.image });
      this.created.push(attacker);
      return { attacker, neighbourFile: n ? n.attackerPath(neighbour) : NEIGHBOUR_FILE };
    })();
    return this.sandboxes;
  }

  private fill(text: string, vars: Record<string, string>): string {
    return text.replace(/\{\{([A-Z_]+)\}\}/g, (m, k: string) => vars[k] ?? m);
  }

  private execute(c: EscapeCase, a: Attempt, p: Payload, vars: Record<string, string>, sandbox?: string): Promise<ExecResult> {
    const b = this.backend;
    const opts: ExecOptions = {
      profile: c.profile ?? 'restrictive',
      timeoutMs: a.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(a.memoryMb !== undefined ? { memoryMb: a.memoryMb } : {}),
      ...(a.outputBytes !== undefined ? { outputBytes: a.outputBytes } : {}),
    };
    const fill = (s: string) => this.fill(s, vars);
    switch (p.kind) {
      case 'probe':
        return b.runWasm({ ...opts, module: PROBE_WAT, args: [PROBE_OPS[p.op], ...(p.arg !== undefined ? [fill(p.arg)] : [])], mounts: this.mounts(p.mount) });
      case 'module':
        return b.runWasm({ ...opts, module: p.wat });
      case 'invoke':
        return b.invoke({ ...opts, module: PROBE_WAT, export: p.export, args: (p.args ?? []).map(fill) });
      case 'code':
        return sandbox
          ? b.exec(sandbox, languageArgv(p.language, fill(p.code)), opts)
          : b.runCode(p.language, fill(p.code), { ...opts, mounts: this.mounts(p.mount) });
      case 'argv':
        return sandbox ? b.exec(sandbox, p.argv.map(fill), opts) : b.run(p.argv.map(fill), { ...opts, image: this.target.image });
    }
  }

  /** A trivial guest, to prove the backend still works after an attempt to exhaust it. */
  private async recovers(): Promise<string | undefined> {
    try {
      const caps = this.backend.capabilities();
      const r = caps.runWasm
        ? await this.backend.runWasm({ module: PROBE_WAT, args: [PROBE_OPS.env], timeoutMs: DEFAULT_TIMEOUT_MS })
        : await this.backend.run(['true'], { image: this.target.image, timeoutMs: DEFAULT_TIMEOUT_MS });
      return r.exitCode === 0 ? undefined : `afterwards a trivial guest exits ${r.exitCode}: ${r.stderr.slice(0, 200)}`;
    } catch (e) {
      const stderr = isAgentKernelError(e) && typeof e.details?.stderr === 'string' ? ` (stderr: ${e.details.stderr.slice(-400)})` : '';
      return `afterwards a trivial guest fails: ${(e as Error).message}${stderr}`;
    }
  }

  async attempt(c: EscapeCase, a: Attempt): Promise<AttemptVerdict> {
    const na = this.notApplicable(a);
    if (na) return { via: a.via, tries: a.tries, state: 'n.a.', reason: na };
    const started = performance.now();
    const v = await this.judge(c, a);
    return { ...v, ms: Math.round(performance.now() - started) };
  }

  private async judge(c: EscapeCase, a: Attempt): Promise<AttemptVerdict> {
    const base = { via: a.via, tries: a.tries };
    const marker = `akesc${randomBytes(6).toString('hex')}`;
    const token = `ak-token-${randomBytes(8).toString('hex')}`;
    const tokenNum = String(randomInt(1e9, 2 ** 47));
    const p = this.canaries.paths;
    const vars: Record<string, string> = {
      TMP_SECRET: p.tmpSecret, HOME_SECRET: p.homeSecret, PROJECT_SECRET: p.projectSecret, OUTSIDE: p.outside,
      PORT: String(this.canaries.port), HOST_PID: String(process.pid), MARKER: marker, TOKEN: token, TOKEN_NUM: tokenNum,
      ENV_NAME: CANARY_ENV, SECRET_FILE,
    };
    let sandbox: string | undefined;
    try {
      if (a.inSandbox) {
        const s = await this.ensureSandboxes(c.profile ?? 'restrictive');
        sandbox = s.attacker;
        vars.NEIGHBOUR_FILE = s.neighbourFile;
      }
      if (a.before) await this.execute(c, a, a.before, vars, sandbox);
    } catch (e) {
      return { ...base, state: 'broke', reason: `could not set the attempt up: ${(e as Error).message}` };
    }

    const owned = () => this.target.ownedPids?.() ?? [];
    const seen = new Set(owned());
    const sampler = this.target.ownedPids ? setInterval(() => owned().forEach((pid) => seen.add(pid)), 25) : undefined;
    const connectionsBefore = this.canaries.connections();
    const outsideBefore = this.canaries.outsideEntries().length;
    let outcome: Outcome;
    try {
      outcome = { result: await this.execute(c, a, a.payload, vars, sandbox) };
    } catch (e) {
      const err = e as Error;
      outcome = { error: { name: err.name, code: isAgentKernelError(e) ? e.code : undefined, message: err.message } };
    } finally {
      if (sampler) clearInterval(sampler);
    }
    owned().forEach((pid) => seen.add(pid));

    const problems: string[] = [];
    const why = a.expect.check(outcome);
    if (why) problems.push(why);
    const r = outcome.result;
    const text = r
      ? [r.stdout, r.stderr, JSON.stringify(r.results ?? []), r.trap?.message ?? '', r.error ? JSON.stringify(r.error) : ''].join('\n')
      : `${outcome.error!.message}`;
    const leak = this.canaries.leak(text) ?? (text.includes(token) || (a.before?.kind === 'invoke' && text.includes(tokenNum)) ? 'the token planted by the earlier run' : undefined);
    if (leak) problems.push(`${leak} appears in what the guest returned`);
    const connections = this.canaries.connections() - connectionsBefore;
    if (connections > 0) problems.push(`the host's loopback listener got ${connections} connection(s)`);
    if (a.host?.outsideUnchanged) {
      const now = this.canaries.outsideEntries();
      if (now.length > outsideBefore) problems.push(`a file appeared outside the sandbox: ${now.join(', ')}`);
    }
    if (a.host?.noProcessesLeft) {
      const left = await settle(() => [
        ...processesWith(marker),
        ...[...seen].filter((pid) => alive(pid) && !owned().includes(pid)),
      ]);
      if (left.length > 0) problems.push(`processes left on the host: ${left.join(', ')}`);
    }
    if (a.host?.recovers) {
      const bad = await this.recovers();
      if (bad) problems.push(bad);
    }
    const observed = describeOutcome(outcome);
    return problems.length > 0 ? { ...base, state: 'broke', reason: problems.join('; '), observed } : { ...base, state: 'held', observed };
  }

  async close(): Promise<void> {
    for (const name of this.created.reverse()) await this.backend.remove(name).catch(() => {});
  }
}

/** Run `items` with at most `n` at once, keeping their order in the result. */
async function pooled<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

function cellOf(backend: BackendName, c: EscapeCase, attempts: AttemptVerdict[]): Cell {
  const broke = attempts.find((a) => a.state === 'broke');
  if (broke) return { backend, caseId: c.id, state: 'broke', attempts, reason: `${broke.via} (${broke.tries}): ${broke.reason}` };
  if (attempts.some((a) => a.state === 'held')) return { backend, caseId: c.id, state: 'held', attempts };
  const reasons = [...new Set(attempts.map((a) => a.reason).filter(Boolean))];
  return { backend, caseId: c.id, state: 'n.a.', attempts, reason: reasons.join('; ') || 'no attempt for this backend' };
}

/** Every case on every target: backends side by side, each one's attempts in order (or `concurrency` at once). */
export async function runEscapeCorpus(targets: EscapeTarget[], opts: EscapeRunOptions): Promise<Matrix> {
  const cases = opts.cases ?? ESCAPE_CASES;
  const perTarget = await Promise.all(targets.map(async (t) => {
    const run = new TargetRun(t, opts.canaries);
    try {
      const jobs = cases.flatMap((c) => c.attempts.map((a) => ({ c, a })));
      const verdicts = await pooled(jobs, opts.concurrency?.[t.backend.name] ?? 1, ({ c, a }) => run.attempt(c, a));
      return cases.map((c) => {
        const cell = cellOf(t.backend.name, c, verdicts.filter((_, i) => jobs[i].c === c));
        opts.onCell?.(cell);
        return cell;
      });
    } finally {
      await run.close();
    }
  }));
  return { backends: targets.map((t) => t.backend.name), cases: [...cases], cells: perTarget.flat() };
}
