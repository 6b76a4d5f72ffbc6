/**
 * Warm microVMs for ephemeral runs, per kind (memory, vCPUs, network). A VM serves exactly one run and is then
 * destroyed, disk and all, while a fresh one boots to take its place: nothing of one caller can reach the next.
 * Warming is demand-driven like the container pool: the first run of a kind boots cold, from the second on
 * `size` VMs of that kind are kept booted (replacements boot when a run ends); prewarm() fills the pool ahead of
 * time (a server, a benchmark).
 * Pooled VMs power themselves off when this process's connection to them closes (the agent's ephemeral mode),
 * and their directories carry this process's PID so a later process removes what a crashed one left behind.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from './agent-client.js';
import type { VmHandle } from './vmm.js';
import { processExists } from '../../core/process.js';

export interface PoolSpec {
  memoryMb: number;
  cpus: number;
  network: boolean;
}

export interface PooledVm {
  vm: VmHandle;
  agent: AgentClient;
}

export interface VmPoolDriver {
  /** Boot a VM of this kind; resolves when its agent answers. `signal` aborts a boot in progress. */
  start(spec: PoolSpec, signal?: AbortSignal): Promise<PooledVm>;
  /** End it and delete its directory. */
  destroy(v: PooledVm): Promise<void>;
}

export interface Lease extends PooledVm {
  /** The VM was booted before this run asked for it. */
  warm: boolean;
  spec: PoolSpec;
  /** Release boots a replacement (the pool is warm for this kind: it served a warm VM, or the kind was seen before). */
  refill: boolean;
}

export const poolKey = (s: PoolSpec): string => `${s.memoryMb}m-${s.cpus}c-${s.network ? 'net' : 'nonet'}`;

export class VmPool {
  private readonly idle = new Map<string, PooledVm[]>();
  private readonly starting = new Map<string, number>();
  private readonly seen = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();
  private closed = false;
  /** Aborted by close(): background boots end at once instead of being waited for. */
  private aborter = new AbortController();

  constructor(private readonly driver: VmPoolDriver, readonly size: number) {}

  async acquire(spec: PoolSpec): Promise<Lease> {
    this.closed = false;
    const key = poolKey(spec);
    let warm: PooledVm | undefined;
    const list = this.idle.get(key) ?? [];
    while ((warm = list.shift()) && warm.agent.closed) this.discard(warm); // died while idle
    const repeated = this.seen.has(key);
    this.seen.add(key);
    if (warm) return { ...warm, warm: true, spec, refill: true };
    return { ...(await this.driver.start(spec)), warm: false, spec, refill: repeated };
  }

  /**
   * The run is over: its VM goes, and a replacement boots now rather than when the run began, so that under
   * software emulation a boot does not compete for the CPU with the run it is replacing.
   */
  release(lease: Lease): void {
    this.discard(lease);
    if (lease.refill) this.refill(poolKey(lease.spec), lease.spec);
  }

  private discard(v: PooledVm): void {
    this.track(this.driver.destroy(v).catch(() => {}));
  }

  async prewarm(spec: PoolSpec): Promise<void> {
    this.closed = false;
    const key = poolKey(spec);
    this.seen.add(key);
    await Promise.all(this.refill(key, spec));
  }

  /** Booted VMs waiting, per kind. */
  ready(spec?: PoolSpec): number {
    if (spec) return this.idle.get(poolKey(spec))?.length ?? 0;
    return [...this.idle.values()].reduce((n, l) => n + l.length, 0);
  }

  private refill(key: string, spec: PoolSpec): Promise<unknown>[] {
    const started: Promise<unknown>[] = [];
    while (!this.closed && (this.idle.get(key)?.length ?? 0) + (this.starting.get(key) ?? 0) < this.size) {
      this.starting.set(key, (this.starting.get(key) ?? 0) + 1);
      const p = this.driver.start(spec, this.aborter.signal).then(
        (v) => {
          if (this.closed) return this.driver.destroy(v);
          const l = this.idle.get(key) ?? [];
          l.push(v);
          this.idle.set(key, l);
        },
        () => {
          // a failed warm boot is retried by the next run's refill; the run itself boots cold and reports errors
        },
      ).finally(() => this.starting.set(key, (this.starting.get(key) ?? 1) - 1));
      started.push(p);
      this.track(p);
    }
    return started;
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    p.finally(() => this.background.delete(p)).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.aborter.abort();
    this.aborter = new AbortController();
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    this.seen.clear();
    for (const v of all) this.discard(v);
    while (this.background.size) await Promise.allSettled([...this.background]);
  }
}

/** Remove the VM directories of pool owners (by PID in the name) that are no longer running. */
export function reapOrphanDirs(runDir: string): void {
  if (!existsSync(runDir)) return;
  for (const name of readdirSync(runDir)) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (!processExists(pid)) rmSync(join(runDir, name), { recursive: true, force: true });
  }
}
