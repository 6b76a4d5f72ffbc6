/**
 * Warm containers for ephemeral runs, per (engine, image, profile, limits, mounts, runtime). A container serves
 * exactly one run and is then destroyed in the background, while a fresh one is started to take its place: no
 * file, process or environment of one caller can ever reach the next (the reset is the container's replacement,
 * not a cleanup inside it).
 *
 * Warming is demand-driven so a one-shot CLI process pays nothing: the first run of a kind starts its container
 * cold; from the second run of that kind on the pool keeps `size` containers of it ready. `prewarm()` fills it
 * ahead of time (a server, a benchmark). Containers carry their owner (host and PID) in a label; those of owners
 * that died without closing their pool are removed the first time a pool of the same host is used.
 */
import { hostname } from 'node:os';
import type { ContainerPlan } from './plan.js';
import { processExists } from '../../core/process.js';

export interface PooledContainer {
  name: string;
  runtime?: string;
}

export interface PoolDriver {
  /** Create and start a container for `plan`, labelled with `labels`; resolves when it accepts exec. */
  start(plan: ContainerPlan, labels: Record<string, string>): Promise<PooledContainer>;
  /** Remove it, whatever runs inside. */
  destroy(c: PooledContainer): Promise<void>;
  /** Owners (label values) of every container carrying POOL_LABEL, with the containers' names. */
  listOwned(): Promise<{ name: string; owner: string }[]>;
}

export const POOL_LABEL = 'agentkernel.pool';

export interface Lease extends PooledContainer {
  /** True when the container was already running before this run asked for it. */
  warm: boolean;
  /** The pool owes a replacement for this run's kind, started when the run ends. */
  refill?: { key: string; plan: ContainerPlan };
}

export function poolKey(plan: ContainerPlan): string {
  const { env: _env, profile, ...rest } = plan;
  return JSON.stringify({ ...rest, profile });
}

export class ContainerPool {
  private readonly idle = new Map<string, PooledContainer[]>();
  private readonly starting = new Map<string, number>();
  private readonly seen = new Set<string>();
  /** Background starts and removals, awaited by close(). */
  private readonly background = new Set<Promise<unknown>>();
  private reaped: Promise<void> | undefined;
  private closed = false;
  readonly owner = `${hostname()}:${process.pid}`;

  constructor(private readonly driver: PoolDriver, readonly size: number) {}

  /** A container for one run: a warm one when the pool has it, else a fresh one. */
  async acquire(plan: ContainerPlan): Promise<Lease> {
    const { lease, refill } = this.tryWarm(plan);
    if (lease) return lease;
    return { ...(await this.driver.start(plan, this.labels())), warm: false, refill };
  }

  /**
   * A warm container for `plan` if one is ready, and the refill this run owes the pool either way (start it with
   * `owe` when the run is over). A caller that gets no lease runs cold on its own.
   */
  tryWarm(plan: ContainerPlan): { lease?: Lease; refill?: Lease['refill'] } {
    this.closed = false;
    this.reapOrphans();
    const key = poolKey(plan);
    const warm = this.idle.get(key)?.shift();
    const repeated = this.seen.has(key);
    this.seen.add(key);
    // the replacement starts when this run ends, not now: a container start beside the run's exec would slow the
    // run it is meant to speed up (on two cores, by ~25 ms per pooled run)
    const refill = warm || repeated ? { key, plan } : undefined;
    return { lease: warm ? { ...warm, warm: true, refill } : undefined, refill };
  }

  /** Start what a run owed the pool (see tryWarm). */
  owe(refill: Lease['refill']): void {
    if (refill) this.refill(refill.key, refill.plan);
  }

  /** Labels that mark a container as this pool's, so that one left by a dead process is reaped. */
  ownerLabels(): Record<string, string> {
    return this.labels();
  }

  /** The run is over: the container goes away (in the background) and is never handed out again. */
  release(c: Lease | PooledContainer): void {
    this.track(this.driver.destroy({ name: c.name, runtime: c.runtime }).catch(() => {}));
    this.owe((c as Lease).refill);
  }

  /** Start containers for `plan` until `size` are ready, and wait for them. */
  async prewarm(plan: ContainerPlan): Promise<void> {
    this.closed = false;
    this.reapOrphans();
    const key = poolKey(plan);
    this.seen.add(key);
    await Promise.all(this.refill(key, plan));
  }

  /** Ready containers per pool key (for tests and `status`). */
  stats(): { ready: number; starting: number } {
    let ready = 0;
    for (const l of this.idle.values()) ready += l.length;
    let starting = 0;
    for (const n of this.starting.values()) starting += n;
    return { ready, starting };
  }

  /** Resolves when no start or removal is running in the background (benchmarks, tests). */
  async settle(): Promise<void> {
    while (this.background.size) await Promise.allSettled([...this.background]);
  }

  /** Remove every idle container and wait for background work; the pool may be used again afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settle();
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    this.seen.clear();
    await Promise.allSettled(all.map((c) => this.driver.destroy(c)));
  }

  private labels(): Record<string, string> {
    return { [POOL_LABEL]: this.owner };
  }

  private refill(key: string, plan: ContainerPlan): Promise<void>[] {
    const started: Promise<void>[] = [];
    const have = (): number => (this.idle.get(key)?.length ?? 0) + (this.starting.get(key) ?? 0);
    while (!this.closed && have() < this.size) {
      this.starting.set(key, (this.starting.get(key) ?? 0) + 1);
      const p = this.driver.start(plan, this.labels()).then(
        (c) => {
          if (this.closed) return this.driver.destroy(c);
          const list = this.idle.get(key) ?? [];
          list.push(c);
          this.idle.set(key, list);
        },
        // a failed warm start is not an error of any run: the next run starts cold and reports the cause
        () => {},
      ).finally(() => this.starting.set(key, (this.starting.get(key) ?? 1) - 1));
      this.track(p);
      started.push(p);
    }
    return started;
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** Containers of pools whose process is gone (same host, PID not alive) are removed once, in the background. */
  private reapOrphans(): void {
    if (this.reaped) return;
    this.reaped = (async () => {
      const host = hostname();
      let owned: { name: string; owner: string }[];
      try {
        owned = await this.driver.listOwned();
      } catch {
        return; // best effort: an engine that cannot list will fail the run itself with a clear error
      }
      const dead = owned.filter(({ owner }) => {
        const sep = owner.lastIndexOf(':');
        const pid = Number(owner.slice(sep + 1));
        return owner.slice(0, sep) === host && Number.isInteger(pid) && pid !== process.pid && !isAlive(pid);
      });
      await Promise.allSettled(dead.map((d) => this.driver.destroy({ name: d.name })));
    })();
    this.track(this.reaped);
  }
}

const isAlive = processExists;
