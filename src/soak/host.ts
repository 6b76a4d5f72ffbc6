/**
 * What the host holds, read from /proc (Linux): resident memory, open file descriptors and the processes below a
 * process. The soak samples these after warm-up and at the end; flat means the end is within tolerance.
 */
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { processTree, rssBytes } from '../backends/wasm/jail/memory.js';
import { processExists } from '../core/process.js';
import { vmmHeldFds } from '../backends/hyperlight/vmm.js';

export interface HostSample {
  rssBytes: number;
  /** V8 heap in use after a full GC (this process only). */
  heapUsedBytes?: number;
  fds: number;
  /** Of `fds`, those the micro-VM engine holds on purpose (pooled VMs, cached shells, snapshots): bounded, not leaked. */
  engineFds?: number;
  /** Processes below this one (pooled workers, jails, servers it started). */
  descendants: number;
}

let gcFn: (() => void) | undefined;

/**
 * A full garbage collection, so that the heap and RSS figures are what is really kept. Works without
 * --expose-gc: the flag is set at run time and `gc` taken from a fresh context.
 */
export function fullGc(): void {
  if (!gcFn) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
  gcFn();
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** A process as the host sees it; this process itself gets a GC first and its heap figure. */
export function sample(pid = process.pid): HostSample {
  const self = pid === process.pid;
  if (self) fullGc();
  return {
    rssBytes: rssBytes(pid),
    ...(self ? { heapUsedBytes: process.memoryUsage().heapUsed, engineFds: vmmHeldFds() } : {}),
    fds: fdCount(pid),
    descendants: processTree(pid).length - 1,
  };
}

export const alive = processExists;

export const MiB = 1024 * 1024;
export const mib = (bytes: number): number => Math.round((bytes / MiB) * 10) / 10;
