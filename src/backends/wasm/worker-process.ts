/**
 * The host's handle on one jailed worker process: starts it, hands it one job at a time, relays its output,
 * and ends a job the hard way when it must (timeout, memory cap, abort) by killing the whole worker. Whatever
 * the worker does, the host only ever sees a resolved JobEnd or a typed error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex, Writable } from 'node:stream';
import { AgentKernelError, UnavailableError, errorFromJSON } from '../../core/errors.js';
import type { RuntimeOutcome } from '../../runtimes/types.js';
import type { Jail, WorkerLaunch } from './jail/index.js';
import { SECCOMP_FD } from './jail/index.js';
import { processTree, treeRss, type CgroupLeaf } from './jail/memory.js';
import type { HostMessage, Job, OutputChunk, Stream, WorkerMessage } from './worker/protocol.js';

const MiB = 1024 * 1024;
/** How often the resident memory of a busy worker is sampled (idle workers are not watched). */
const MEMORY_POLL_MS = 50;
/** Kept of a worker's own stderr, for the message when it dies. */
const STDERR_TAIL = 8192;

/**
 * The worker-level memory cap of a run: what the worker used when the job started, plus the guest's cap with
 * headroom for the runtime's own bookkeeping. The runtimes' inner caps fire first and give the precise result;
 * this one catches what they cannot see.
 */
export function workerMemoryCap(baselineBytes: number, memoryMb: number): number {
  return baselineBytes + Math.ceil(memoryMb * 1.25 * MiB) + 128 * MiB;
}

export type KillReason = 'timeout' | 'memory' | 'abort' | 'close';

export type JobEnd =
  | { kind: 'done'; outcome: RuntimeOutcome; dropped: Record<Stream, number>; rss: number }
  | { kind: 'killed'; reason: KillReason; detail: string };

export interface JobControl {
  outputBytes: number;
  memoryMb: number;
  /** Kill the worker after this long (the run's timeout plus a grace for the runtime's own deadline). */
  hardTimeoutMs: number;
  signal?: AbortSignal;
  onOutput(chunk: OutputChunk): void;
  /** The module's bytes, sent again if the worker no longer has it compiled. */
  moduleBytes?: Uint8Array;
}

interface Current {
  id: number;
  job: Job;
  ctl: JobControl;
  resolve(end: JobEnd): void;
  reject(err: Error): void;
  cleanup(): void;
}

let nextId = 1;

/** The stdio slot of a session worker's tool channel (after ipc and the seccomp pipe). */
export const TOOL_FD = 5;

export class WorkerProcess {
  state: 'idle' | 'busy' | 'dead' = 'idle';
  /** Every process of the worker (the jail's and node), from the host's view; node is last. */
  pids: number[] = [];
  lastUsed = Date.now();
  jobs = 0;
  /** Called once when the process has exited (for any reason). */
  onExit?: (w: WorkerProcess) => void;

  private current?: Current;
  /** Hashes of the modules this worker was sent (it may have evicted some: it then asks again). */
  private readonly modules = new Set<string>();
  private killReason?: KillReason;
  private stderrTail = '';
  private exited = false;
  private exitInfo = '';
  private readonly exitWaiters: (() => void)[] = [];
  private readyHook?: () => void;
  private earlyExitHook?: () => void;

  private constructor(
    readonly key: string,
    private readonly child: ChildProcess,
    private readonly cgroup: CgroupLeaf | undefined,
  ) {}

  /** The worker's node process as the host sees it. */
  get pid(): number {
    return this.pids[this.pids.length - 1] ?? this.child.pid ?? -1;
  }

  /** A session worker's end of its tool channel (a socket; see worker/session.ts). */
  get toolSocket(): Duplex | undefined {
    return ((this.child.stdio as unknown as (Duplex | null | undefined)[])[TOOL_FD]) ?? undefined;
  }

  static async start(jail: Jail, launch: WorkerLaunch, key: string, startTimeoutMs = 30_000, opts: { toolChannel?: boolean } = {}): Promise<WorkerProcess> {
    const cmd = await jail.command(launch);
    const child = spawn(cmd.file, cmd.args, {
      env: cmd.env,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc', cmd.seccomp ? 'pipe' : 'ignore', ...(opts.toolChannel ? ['pipe' as const] : [])],
      serialization: 'advanced',
      // its own process group, so that one kill reaches the jail's processes too
      detached: true,
    });
    const w = new WorkerProcess(key, child, cmd.cgroup);
    if (cmd.seccomp) {
      const pipe = child.stdio[SECCOMP_FD] as Writable;
      pipe.on('error', () => {});
      pipe.end(cmd.seccomp);
    }
    await w.awaitReady(startTimeoutMs);
    return w;
  }

  private awaitReady(timeoutMs: number): Promise<void> {
    const child = this.child;
    child.stderr!.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('exit', (code, signal) => this.handleExit(code, signal));
    child.on('error', (e) => {
      this.exitInfo = e.message;
      if (child.pid === undefined) this.handleExit(null, null);
    });
    child.on('message', (m: WorkerMessage) => this.handleMessage(m));
    // idle workers never keep the host process alive; a running job's timer does
    child.unref();
    child.channel?.unref();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    return new Promise<void>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        this.kill('close');
        reject(new UnavailableError(`the wasm worker did not start: ${why}`, { stderr: this.stderrTail.slice(-2000) }));
      };
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      this.readyHook = (): void => {
        clearTimeout(timer);
        this.pids = child.pid !== undefined ? processTree(child.pid) : [];
        resolve();
      };
      this.earlyExitHook = (): void => fail(`${this.exitInfo}${this.stderrTail ? `: ${this.stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
    });
  }

  private handleMessage(m: WorkerMessage): void {
    if (m.type === 'ready') {
      this.readyHook?.();
      this.readyHook = undefined;
      this.earlyExitHook = undefined;
      return;
    }
    const cur = this.current;
    if (!cur || m.id !== cur.id) return;
    switch (m.type) {
      case 'output':
        for (const c of m.chunks) cur.ctl.onOutput(c);
        return;
      case 'need-module':
        if (cur.job.kind === 'wasm-start' || cur.job.kind === 'wasm-invoke') {
          if (cur.ctl.moduleBytes) {
            cur.job = { ...cur.job, module: { hash: m.hash, bytes: cur.ctl.moduleBytes } };
            this.noteModule(cur.job);
            this.send({ type: 'job', id: cur.id, job: cur.job, outputBytes: cur.ctl.outputBytes });
            return;
          }
        }
        this.settle(() => cur.reject(new AgentKernelError('INTERNAL', 'the worker asked for a module the host did not send')));
        return;
      case 'done':
        this.settle(() => cur.resolve({ kind: 'done', outcome: m.outcome, dropped: m.dropped, rss: m.rss }));
        return;
      case 'failed':
        this.settle(() => cur.reject(errorFromJSON(m.error)));
        return;
    }
  }

  private settle(fn: () => void): void {
    const cur = this.current;
    if (!cur) return;
    cur.cleanup();
    this.current = undefined;
    this.child.unref();
    if (this.state === 'busy') this.state = 'idle';
    this.lastUsed = Date.now();
    fn();
  }

  private send(m: HostMessage): void {
    this.child.send(m, (err) => {
      // the channel broke: the worker is as good as dead, and its run ends as a crash
      if (err && this.current) this.kill();
    });
  }

  knowsModule(hash: string): boolean {
    return this.modules.has(hash);
  }

  private noteModule(job: Job): void {
    if ((job.kind === 'wasm-start' || job.kind === 'wasm-invoke') && job.module.bytes) {
      if (this.modules.size >= 64) this.modules.clear();
      this.modules.add(job.module.hash);
    }
  }

  /** Run one job; resolves with how it ended, rejects with the job's typed error or the worker's death. */
  run(job: Job, ctl: JobControl): Promise<JobEnd> {
    if (this.state !== 'idle') return Promise.reject(new AgentKernelError('INTERNAL', `worker is ${this.state}`));
    this.state = 'busy';
    this.jobs++;
    // only this job's diagnostics decide how a death during it is reported
    this.stderrTail = '';
    // a running job keeps the host alive until its end is seen (even after its own timer fired and killed)
    this.child.ref();
    const id = nextId++;
    return new Promise<JobEnd>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      timers.push(setTimeout(() => this.kill('timeout'), ctl.hardTimeoutMs));
      const watch = this.watchMemory(ctl.memoryMb);
      if (watch) timers.push(watch);
      const onAbort = (): void => this.kill('abort');
      ctl.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        for (const t of timers) clearTimeout(t);
        ctl.signal?.removeEventListener('abort', onAbort);
      };
      this.current = { id, job, ctl, resolve, reject, cleanup };
      this.noteModule(job);
      this.send({ type: 'job', id, job, outputBytes: ctl.outputBytes });
      if (ctl.signal?.aborted) onAbort();
    });
  }

  private watchMemory(memoryMb: number): NodeJS.Timeout | undefined {
    if (this.pids.length === 0) return undefined;
    if (this.cgroup) {
      const current = treeRss(this.pids);
      this.cgroup.setMax(workerMemoryCap(current, memoryMb));
      return undefined;
    }
    const cap = workerMemoryCap(treeRss(this.pids), memoryMb);
    const t = setInterval(() => {
      if (treeRss(this.pids) > cap) this.kill('memory');
    }, MEMORY_POLL_MS);
    t.unref();
    return t;
  }

  /**
   * SIGKILL every process of the worker (each one this pool started). The running job ends as `reason`, or as
   * a crash when no reason is given.
   */
  kill(reason?: KillReason): void {
    if (this.exited) return;
    if (reason) this.killReason ??= reason;
    // whoever killed it may wait for the exit: keep the host alive until it is seen
    this.child.ref();
    const pgid = this.child.pid;
    if (pgid !== undefined) {
      try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone */ }
    }
    for (const p of this.pids) {
      try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
    }
  }

  /** Resolves once the process has exited. */
  exitedPromise(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  private handleExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.state = 'dead';
    this.exitInfo ||= signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.earlyExitHook?.();
    const cur = this.current;
    if (cur) {
      cur.cleanup();
      this.current = undefined;
      const oom = (this.cgroup?.oomKills() ?? 0) > 0 || /out of memory|heap limit|allocation failed/i.test(this.stderrTail);
      const reason: KillReason | undefined = this.killReason ?? (oom ? 'memory' : undefined);
      if (reason) cur.resolve({ kind: 'killed', reason, detail: this.exitInfo });
      else {
        const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
        cur.reject(new AgentKernelError('INTERNAL', `the wasm worker (pid ${this.pid}) died during the run: ${this.exitInfo}${tail ? ` (${tail})` : ''}`, {
          pid: this.pid,
        }));
      }
    }
    this.cgroup?.remove();
    for (const w of this.exitWaiters.splice(0)) w();
    this.onExit?.(this);
  }
}
