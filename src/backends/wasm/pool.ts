/**
 * The pool of pre-forked jailed workers. A run costs a message to a waiting worker, not a process start.
 *
 * Workers are grouped by the set of host directories bound into their jail (the "key"), because binds are fixed
 * when a jail starts while mounts differ per run:
 *   - key '' (no mounts): `size` workers are kept started; pure Wasm and code runs use them.
 *   - any other key: started on demand, kept while in use and for `mountIdleMs` after (so repeated execs in one
 *     sandbox, or runs with the same --dir, reuse a warm worker), at most `maxMountWorkers` at a time; when the
 *     limit is reached the least recently used idle one makes room.
 * Measured on a 2-core machine: the first run with a new mount set costs ~150 ms (a jailed worker starts), each
 * later run with the same set ~0.8 ms, the same as a run without mounts. A fresh worker per run with mounts would
 * pay the 150 ms on every exec in a sandbox; shared workers cannot have every caller's directories bound (they
 * are not known in advance, and one caller must not see another's), so a worker only ever serves runs that asked
 * for exactly its mounts.
 * A worker that timed out, crashed, ran over its memory cap or stayed too large is dropped and, for key '',
 * replaced in the background. Waiting callers are served in arrival order for each key.
 */
import { AbortError, UnavailableError } from '../../core/errors.js';
import type { Mount } from '../../core/types.js';
import type { WorkerProcess } from './worker-process.js';

export interface PoolOptions {
  /** Workers kept started for runs without mounts. @default 2 */
  size: number;
  /** Workers with mounts alive at once. @default 4 */
  maxMountWorkers: number;
  /** A worker with mounts is ended after this long unused (ms). @default 30000 */
  mountIdleMs: number;
  /** A worker whose resident memory stays above this after a job is replaced (bytes). @default 768 MiB */
  recycleRssBytes: number;
  /** Starts one worker with these mounts bound. */
  spawn(key: string, mounts: Mount[]): Promise<WorkerProcess>;
}

interface Waiter {
  key: string;
  mounts: Mount[];
  resolve(w: WorkerProcess): void;
  reject(e: Error): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface PoolWorkerInfo {
  key: string;
  pid: number;
  pids: number[];
  state: WorkerProcess['state'];
  jobs: number;
}

/** The key of a set of mounts: binds differ when a path or its read-only flag differs (guest paths do not). */
export function mountKey(mounts: Mount[]): string {
  const set = new Set(mounts.map((m) => `${m.readOnly ? 'ro' : 'rw'}:${m.hostPath}`));
  return [...set].sort().join('\n');
}

export class WorkerPool {
  private readonly workers = new Set<WorkerProcess>();
  private readonly starting = new Map<string, number>();
  private readonly waiters: Waiter[] = [];
  private readonly idleTimers = new Map<WorkerProcess, NodeJS.Timeout>();
  /** Workers handed to a caller and not yet released. */
  private readonly leased = new Set<WorkerProcess>();
  private closed = false;
  /** The last failure to start a worker, per key: shown to waiters instead of retrying in a loop. */
  private readonly spawnErrors = new Map<string, Error>();

  constructor(private readonly opts: PoolOptions) {}

  /** Start the workers for runs without mounts now rather than on first use. */
  warm(): void {
    this.closed = false;
    this.refill();
  }

  /** A worker for these mounts, exclusively the caller's until release(). */
  acquire(mounts: Mount[], signal?: AbortSignal): Promise<WorkerProcess> {
    if (signal?.aborted) return Promise.reject(new AbortError());
    this.closed = false;
    const key = mountKey(mounts);
    this.spawnErrors.delete(key);
    return new Promise<WorkerProcess>((resolve, reject) => {
      const waiter: Waiter = { key, mounts, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = (): void => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new AbortError());
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      this.refill();
      this.pump();
    });
  }

  /** Give a worker back after a job. A dead or oversized worker is dropped (and replaced if it was a base worker). */
  release(w: WorkerProcess, lastRss?: number): void {
    this.leased.delete(w);
    const oversized = lastRss !== undefined && lastRss > this.opts.recycleRssBytes;
    if (w.state === 'dead' || this.closed || oversized) {
      // out of the pool now, not when the exit arrives, so nobody is handed a dying worker
      this.workers.delete(w);
      w.kill('close');
      if (w.key === '') this.refill();
      this.pump();
      return;
    }
    this.armIdle(w);
    this.pump();
  }

  /** A worker with mounts that nobody uses for a while ends. */
  private armIdle(w: WorkerProcess): void {
    if (w.key === '') return;
    this.clearIdleTimer(w);
    const t = setTimeout(() => w.kill('close'), this.opts.mountIdleMs);
    t.unref();
    this.idleTimers.set(w, t);
  }

  /** End every worker; waiting callers get an error. The pool starts again on the next acquire(). */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(new UnavailableError('the wasm backend was closed'));
    }
    const all = [...this.workers];
    for (const w of all) w.kill('close');
    await Promise.all(all.map((w) => w.exitedPromise()));
  }

  /** End the workers that have this host directory bound (a sandbox stopped or removed), busy ones included. */
  async closeMount(hostPath: string): Promise<void> {
    const doomed = [...this.workers].filter((w) => w.key.split('\n').some((m) => m.slice(3) === hostPath));
    for (const w of doomed) {
      this.workers.delete(w);
      this.leased.delete(w);
      this.clearIdleTimer(w);
      w.kill('close');
    }
    await Promise.all(doomed.map((w) => w.exitedPromise()));
    this.pump();
  }

  info(): PoolWorkerInfo[] {
    return [...this.workers].map((w) => ({
      key: w.key, pid: w.pid, pids: [...w.pids], state: this.leased.has(w) && w.state === 'idle' ? 'busy' : w.state, jobs: w.jobs,
    }));
  }

  private count(key: string): number {
    let n = this.starting.get(key) ?? 0;
    for (const w of this.workers) if (w.key === key) n++;
    return n;
  }

  private mountWorkers(): number {
    let n = 0;
    for (const [k, v] of this.starting) if (k !== '') n += v;
    for (const w of this.workers) if (w.key !== '') n++;
    return n;
  }

  private refill(): void {
    if (this.closed || this.spawnErrors.has('')) return;
    while (this.count('') < this.opts.size) this.startWorker('', []);
  }

  private startWorker(key: string, mounts: Mount[]): void {
    this.starting.set(key, (this.starting.get(key) ?? 0) + 1);
    this.opts.spawn(key, mounts).then(
      (w) => {
        this.starting.set(key, this.starting.get(key)! - 1);
        if (this.closed) {
          w.kill('close');
          return;
        }
        w.onExit = (dead): void => this.forget(dead);
        this.workers.add(w);
        this.armIdle(w);
        if (w.state === 'dead') this.forget(w);
        this.pump();
      },
      (err: Error) => {
        this.starting.set(key, this.starting.get(key)! - 1);
        this.spawnErrors.set(key, err);
        // nobody else will start one for these callers: tell them why
        for (const w of this.waiters.filter((x) => x.key === key && this.count(key) === 0)) this.drop(w, err);
        this.pump();
      },
    );
  }

  private forget(w: WorkerProcess): void {
    this.leased.delete(w);
    this.clearIdleTimer(w);
    if (!this.workers.delete(w)) return;
    // base workers come back in the background; others start again when needed
    if (w.key === '') this.refill();
    this.pump();
  }

  private drop(w: Waiter, err?: Error): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    if (err) w.reject(err);
  }

  /** Hand idle workers to waiters in arrival order; start workers for keys that need more. */
  private pump(): void {
    if (this.closed) return;
    for (const waiter of [...this.waiters]) {
      const w = this.idle(waiter.key);
      if (w) {
        this.drop(waiter);
        this.clearIdleTimer(w);
        this.leased.add(w);
        waiter.resolve(w);
      }
    }
    // keyed demand beyond what is starting: start more, within the limit, evicting idle ones if needed
    const demand = new Map<string, Waiter>();
    const pending = new Map<string, number>();
    for (const w of this.waiters) {
      if (w.key === '') continue;
      pending.set(w.key, (pending.get(w.key) ?? 0) + 1);
      if (!demand.has(w.key)) demand.set(w.key, w);
    }
    for (const [key, first] of demand) {
      if (this.spawnErrors.has(key)) continue;
      while ((pending.get(key) ?? 0) > (this.starting.get(key) ?? 0)) {
        if (this.mountWorkers() >= this.opts.maxMountWorkers && !this.evictIdle(key)) break;
        this.startWorker(key, first.mounts);
      }
    }
    if (this.spawnErrors.has('')) {
      for (const w of this.waiters.filter((x) => x.key === '')) this.drop(w, this.spawnErrors.get('')!);
    }
  }

  private idle(key: string): WorkerProcess | undefined {
    for (const w of this.workers) if (w.key === key && w.state === 'idle' && !this.leased.has(w)) return w;
    return undefined;
  }

  private clearIdleTimer(w: WorkerProcess): void {
    const t = this.idleTimers.get(w);
    if (t) clearTimeout(t);
    this.idleTimers.delete(w);
  }

  /** End the least recently used idle worker with mounts (of another key); false when none is idle. */
  private evictIdle(exceptKey: string): boolean {
    let lru: WorkerProcess | undefined;
    for (const w of this.workers) {
      if (w.key === '' || w.key === exceptKey || w.state !== 'idle' || this.leased.has(w)) continue;
      if (!lru || w.lastUsed < lru.lastUsed) lru = w;
    }
    if (!lru) return false;
    this.workers.delete(lru);
    this.clearIdleTimer(lru);
    lru.kill('close');
    return true;
  }
}
