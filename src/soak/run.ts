/**
 * The soak: callers on every chosen interface send a mix of echo and fault requests for a while, faults are
 * injected from outside (workers SIGKILLed, the daemon SIGKILLed and restarted), and every answer is checked
 * against its own request. Host memory, descriptors and processes are sampled after warm-up and at the end.
 * Used by test/soak (a short run) and bench/soak.ts (a long one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { startServer, type RunningServer } from '../api/http/server.js';
import { UnavailableError } from '../core/errors.js';
import { probe } from '../backends/detect.js';
import { loadBackend } from '../backends/registry.js';
import type { WasmBackend } from '../backends/wasm/backend.js';
import { loadModuleBytes } from '../runtimes/wasm/module.js';
import { AgentKernel } from '../service/kernel.js';
import { httpCaller, libraryCaller, mcpCaller, type Caller, type InterfaceName } from './callers.js';
import { check, type FaultContext, type Verdict } from './check.js';
import { DaemonProcess, WorkerKiller, freePort, type Incarnation } from './faults.js';
import { KINDS, SOAK_WAT, buildRequest, isFault, makeNonce, type Answer, type BackendUse, type SoakRequest, type WorkKind } from './guests.js';
import { MiB, mib, sample, type HostSample } from './host.js';

export interface Tolerance {
  /** V8 heap growth after a full GC (MiB). */
  heapMb: number;
  /** Resident memory growth (MiB). */
  rssMb: number;
  /** Open descriptors beyond the start figure, besides one keep-alive socket pair per network caller. */
  fds: number;
  /** Processes below this one beyond the start figure. */
  descendants: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { heapMb: 16, rssMb: 64, fds: 8, descendants: 1 };

export interface SoakOptions {
  /** Length of the measured phase (ms); a warm-up without injected faults comes first. */
  durationMs: number;
  /** @default a quarter of durationMs, at most 10 s */
  warmupMs?: number;
  /** Concurrent callers on each interface. */
  concurrency: number;
  interfaces: InterfaceName[];
  backends: BackendUse[];
  /** Share of requests that are faults themselves (spin, trap, memory bomb, abort). @default 0.2 */
  faultShare?: number;
  /** SIGKILL a busy wasm worker this often (ms); 0: never. */
  workerKillEveryMs?: number;
  /** SIGKILL and restart the daemon this often (ms); 0: never. */
  daemonRestartEveryMs?: number;
  /** A request with no answer this long after its own timeout counts as lost (ms). @default 30000 */
  lostAfterMs?: number;
  progressEveryMs?: number;
  onProgress?: (line: string) => void;
  tolerance?: Partial<Tolerance>;
}

export interface InterfaceStats {
  requests: number;
  ok: number;
  /** Explained errors by code. */
  errors: Record<string, number>;
  /** Answers of the measured phase per second. */
  perSecond: number;
}

export interface SoakReport {
  durationMs: number;
  concurrency: number;
  interfaces: InterfaceName[];
  backends: BackendUse[];
  /** Backends or interfaces left out, with why. */
  skipped: string[];
  requests: number;
  verdicts: Record<Verdict, number>;
  /** Answers that came after their request had been counted lost. */
  late: number;
  errorsByCode: Record<string, number>;
  perInterface: Partial<Record<InterfaceName, InterfaceStats>>;
  perKind: Partial<Record<WorkKind, { requests: number; ok: number; error: number }>>;
  /** The first problems (mixed, wrong, unexplained, lost), for the report. */
  problems: string[];
  faults: { workerKills: number; daemonRestarts: number; daemonDownMs: number; orphans: number[] };
  host: { start: HostSample; end: HostSample; tolerance: Tolerance; networkCallers: number };
  daemon?: Incarnation[];
  /** Why the run failed; empty when it passed. */
  failures: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Tally {
  readonly verdicts: Record<Verdict, number> = { ok: 0, error: 0, mixed: 0, wrong: 0, unexplained: 0, lost: 0 };
  readonly errorsByCode: Record<string, number> = {};
  readonly perInterface: Partial<Record<InterfaceName, { requests: number; ok: number; errors: Record<string, number>; measured: number }>> = {};
  readonly perKind: Partial<Record<WorkKind, { requests: number; ok: number; error: number }>> = {};
  readonly problems: string[] = [];
  requests = 0;
  late = 0;

  record(iface: InterfaceName, req: SoakRequest, verdict: Verdict, why: string | undefined, measured: boolean): void {
    this.requests++;
    this.verdicts[verdict]++;
    const i = (this.perInterface[iface] ??= { requests: 0, ok: 0, errors: {}, measured: 0 });
    i.requests++;
    if (measured) i.measured++;
    const k = (this.perKind[req.kind] ??= { requests: 0, ok: 0, error: 0 });
    k.requests++;
    if (verdict === 'ok') {
      i.ok++;
      k.ok++;
    } else if (verdict === 'error') {
      k.error++;
      const code = why ?? 'unknown';
      i.errors[code] = (i.errors[code] ?? 0) + 1;
      this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
    } else if (this.problems.length < 20) {
      this.problems.push(`${verdict} via ${iface}/${req.backend}: ${why ?? ''}`);
    }
  }

  line(): string {
    const v = this.verdicts;
    return `requests ${this.requests} ok ${v.ok} errors ${v.error} lost ${v.lost} mixed ${v.mixed} wrong ${v.wrong} unexplained ${v.unexplained}`;
  }
}

/** Wait until the wasm pool is back to its full size with every worker idle (killed workers are replaced). */
async function settle(wasm: WasmBackend | undefined, want: number, maxMs = 20_000): Promise<void> {
  if (!wasm) return;
  const until = Date.now() + maxMs;
  let steady = 0;
  while (Date.now() < until && steady < 5) {
    const info = wasm.pool.info();
    const ready = info.length >= want && info.every((w) => w.state === 'idle');
    steady = ready ? steady + 1 : 0;
    await sleep(100);
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const tol: Tolerance = { ...DEFAULT_TOLERANCE, ...o.tolerance };
  const log = o.onProgress ?? (() => undefined);
  const skipped: string[] = [];
  const backends: BackendUse[] = [];
  for (const b of o.backends) {
    const s = await probe(b);
    if (s.available) backends.push(b);
    else skipped.push(`backend ${b}: ${s.reason ?? 'unavailable'}`);
  }
  if (backends.length === 0) throw new UnavailableError(`no backend to soak: ${skipped.join('; ')}`);

  const module = await loadModuleBytes(SOAK_WAT);
  const kernel = new AgentKernel();
  const wasm = backends.includes('wasm') ? (await loadBackend('wasm')) as WasmBackend : undefined;
  wasm?.warm();
  const key = randomBytes(24).toString('hex');
  const wantsServer = o.interfaces.some((i) => i === 'http' || i === 'mcp');
  let server: RunningServer | undefined;
  let daemon: DaemonProcess | undefined;
  let daemonHome: string | undefined;
  const callers: Caller[] = [];
  const killer = wasm && o.workerKillEveryMs ? new WorkerKiller(wasm.pool) : undefined;
  const tally = new Tally();
  const pending = new Set<Promise<unknown>>();

  try {
    if (wantsServer) server = await startServer({ kernel, apiKey: key, port: 0 });
    if (o.interfaces.includes('daemon')) {
      daemonHome = mkdtempSync(join(tmpdir(), 'ak-soak-daemon-'));
      daemon = new DaemonProcess(daemonHome, await freePort());
      await daemon.start();
    }
    for (const iface of o.interfaces) {
      for (let n = 0; n < o.concurrency; n++) {
        if (iface === 'library') callers.push(libraryCaller(kernel, module));
        else if (iface === 'http') callers.push(httpCaller('http', () => server!.url, () => key, module));
        else if (iface === 'mcp') callers.push(mcpCaller(() => server!.url, () => key, module));
        else {
          const d = daemon!;
          callers.push(httpCaller('daemon', () => d.url, () => d.key, module));
        }
      }
    }
    const networkCallers = callers.filter((c) => c.name !== 'library').length;
    const faults = (iface: InterfaceName): FaultContext => ({
      workerKills: iface !== 'daemon' && killer !== undefined,
      serverRestarts: iface === 'daemon' && (o.daemonRestartEveryMs ?? 0) > 0,
    });

    let nextId = 1;
    const salt = randomInt(100, 1000);
    const faultShare = o.faultShare ?? 0.2;
    const nextRequest = (): SoakRequest => {
      const backend = backends[randomInt(backends.length)]!;
      const fault = Math.random() < faultShare;
      const kinds = KINDS[backend].filter((k) => isFault(k) === fault);
      const kind = kinds[randomInt(kinds.length)]!;
      const id = nextId++;
      return buildRequest(id, makeNonce(id, salt), kind, backend);
    };
    const lostAfter = o.lostAfterMs ?? 30_000;

    /** One caller's loop until `endAt`: every answer checked, a silent request counted lost and not waited for. */
    const drive = async (c: Caller, endAt: number, measured: boolean, ctx: FaultContext): Promise<void> => {
      while (Date.now() < endAt) {
        const req = nextRequest();
        const ac = req.abortAfterMs !== undefined ? new AbortController() : undefined;
        const abortTimer = ac ? setTimeout(() => ac.abort(), req.abortAfterMs) : undefined;
        let lost = false;
        const call = c.call(req, ac?.signal).finally(() => clearTimeout(abortTimer));
        pending.add(call);
        void call.then(() => {
          pending.delete(call);
          if (lost) tally.late++;
        });
        let watchdog: NodeJS.Timeout | undefined;
        const answer = await Promise.race([
          call,
          new Promise<undefined>((r) => { watchdog = setTimeout(() => r(undefined), req.timeoutMs + lostAfter); }),
        ]);
        clearTimeout(watchdog);
        if (answer === undefined) {
          lost = true;
          tally.record(c.name, req, 'lost', `request ${req.nonce} (${req.kind}) had no answer after ${req.timeoutMs + lostAfter} ms`, measured);
          continue;
        }
        const v = check(req, answer as Answer, ctx);
        tally.record(c.name, req, v.verdict, v.why, measured);
        // the server is down for a restart: do not spin on refused connections
        if ((answer as Answer).kind === 'error' && (answer as Extract<Answer, { kind: 'error' }>).code === 'CONNECTION') await sleep(100);
      }
    };

    const phase = async (ms: number, measured: boolean): Promise<void> => {
      const endAt = Date.now() + ms;
      const started = Date.now();
      let done = false;
      const loops = callers.map((c) => drive(c, endAt, measured, measured ? faults(c.name) : { workerKills: false, serverRestarts: false }));
      const injectors: Promise<void>[] = [];
      if (measured && killer) {
        injectors.push((async () => {
          while (!done && Date.now() < endAt) {
            await sleep(Math.min(o.workerKillEveryMs!, endAt - Date.now()));
            // a busy worker may not exist at this instant: try again shortly, within this period
            for (let i = 0; i < 20 && !done && !killer.killOne(); i++) await sleep(50);
          }
        })());
      }
      if (measured && daemon && o.daemonRestartEveryMs) {
        injectors.push((async () => {
          while (!done) {
            // never past the phase's end: the phase waits for its injectors
            await sleep(Math.max(0, Math.min(o.daemonRestartEveryMs!, endAt - Date.now())));
            // the last incarnation must live long enough to be measured warm
            if (done || Date.now() > endAt - Math.min(15_000, ms / 4)) break;
            await daemon!.restart();
            log(`  daemon restarted (pid ${daemon!.pid}), ${daemon!.restarts} so far`);
          }
        })());
      }
      const every = o.progressEveryMs ?? 10_000;
      const progress = setInterval(() => {
        daemon?.sample();
        const t = Math.round((Date.now() - started) / 1000);
        // under load, so the figures wobble; the verdict on growth uses the quiet samples at start and end
        const h = sample();
        log(`[${measured ? 'soak' : 'warm-up'} ${t}s] ${tally.line()} | rss ${mib(h.rssBytes)} MiB heap ${mib(h.heapUsedBytes ?? 0)} MiB`
          + ` fds ${h.fds} processes ${h.descendants} | kills ${killer?.kills ?? 0} restarts ${daemon?.restarts ?? 0}`);
      }, every);
      try {
        await Promise.all(loops);
      } finally {
        done = true;
        clearInterval(progress);
        await Promise.all(injectors);
      }
    };

    const poolSize = (): number => wasm?.pool.info().filter((w) => w.key === '').length ?? 0;
    const warmupMs = o.warmupMs ?? Math.min(10_000, Math.round(o.durationMs / 4));
    log(`warm-up ${warmupMs} ms: ${callers.length} callers over ${o.interfaces.join(', ')} on ${backends.join(', ')}`);
    await phase(warmupMs, false);
    await settle(wasm, 1);
    const workers = poolSize();
    const start = sample();
    daemon?.sample();
    log(`start: rss ${mib(start.rssBytes)} MiB heap ${mib(start.heapUsedBytes ?? 0)} MiB fds ${start.fds} processes ${start.descendants}`);

    const t0 = Date.now();
    await phase(o.durationMs, true);
    const elapsed = Date.now() - t0;
    await settle(wasm, workers);
    daemon?.sample();
    const end = sample();
    log(`end: rss ${mib(end.rssBytes)} MiB heap ${mib(end.heapUsedBytes ?? 0)} MiB fds ${end.fds} processes ${end.descendants}`);

    const perInterface: SoakReport['perInterface'] = {};
    for (const [name, s] of Object.entries(tally.perInterface)) {
      perInterface[name as InterfaceName] = { requests: s.requests, ok: s.ok, errors: s.errors, perSecond: Math.round((s.measured / elapsed) * 10000) / 10 };
    }
    const orphans = daemon?.incarnations.flatMap((i) => i.orphans) ?? [];
    const failures: string[] = [];
    const v = tally.verdicts;
    for (const k of ['lost', 'mixed', 'wrong', 'unexplained'] as const) if (v[k] > 0) failures.push(`${v[k]} ${k}`);
    if (v.ok === 0) failures.push('no request succeeded');
    if (orphans.length) failures.push(`processes left behind by the killed daemon: ${orphans.join(', ')}`);
    const heapGrowth = ((end.heapUsedBytes ?? 0) - (start.heapUsedBytes ?? 0)) / MiB;
    if (heapGrowth > tol.heapMb) failures.push(`heap grew by ${heapGrowth.toFixed(1)} MiB (tolerance ${tol.heapMb})`);
    const rssGrowth = (end.rssBytes - start.rssBytes) / MiB;
    if (rssGrowth > tol.rssMb) failures.push(`rss grew by ${rssGrowth.toFixed(1)} MiB (tolerance ${tol.rssMb})`);
    const fdAllowance = tol.fds + 2 * networkCallers;
    // the engine's pooled VMs, cached shells and snapshots are bounded by its pools: counted apart, not as leaked
    const own = (h: HostSample) => h.fds - (h.engineFds ?? 0);
    if (own(end) - own(start) > fdAllowance) {
      failures.push(`open descriptors grew from ${start.fds} to ${end.fds}, ${own(start)} to ${own(end)} besides the micro-VM engine's (tolerance ${fdAllowance})`);
    }
    if (end.descendants - start.descendants > tol.descendants) {
      failures.push(`child processes grew from ${start.descendants} to ${end.descendants} (tolerance ${tol.descendants})`);
    }
    if (o.daemonRestartEveryMs && daemon && daemon.restarts === 0) failures.push('the daemon was never restarted (run longer than the restart period)');

    return {
      durationMs: elapsed, concurrency: o.concurrency, interfaces: o.interfaces, backends, skipped,
      requests: tally.requests, verdicts: tally.verdicts, late: tally.late, errorsByCode: tally.errorsByCode,
      perInterface, perKind: tally.perKind, problems: tally.problems,
      faults: { workerKills: killer?.kills ?? 0, daemonRestarts: daemon?.restarts ?? 0, daemonDownMs: daemon?.downMs ?? 0, orphans },
      host: { start, end, tolerance: tol, networkCallers },
      ...(daemon ? { daemon: daemon.incarnations } : {}),
      failures,
    };
  } finally {
    // requests counted lost may still be running: give them a moment, never wait forever
    await Promise.race([Promise.allSettled([...pending]), sleep(5000)]);
    for (const c of callers) await c.close();
    await server?.close();
    await daemon?.stop().catch(() => undefined);
    await kernel.close();
    if (daemonHome) rmSync(daemonHome, { recursive: true, force: true });
  }
}
