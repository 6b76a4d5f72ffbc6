/**
 * What podman needs from this host that docker's daemon handles by itself. Podman starts containers from the
 * caller's own process, so:
 * - it can give a container no higher rlimit than the caller's hard limit (root without CAP_SYS_RESOURCE cannot
 *   raise it), while its defaults ask for more: the caller's limits are passed when they are lower (processes
 *   also capped at kernel.pid_max, the most that can exist, which podman itself applies to its own process);
 * - crun refuses hybrid cgroup hierarchies (v1 controllers plus a v2 mount), where runc works.
 * AGENTKERNEL_PODMAN_RUNTIME overrides the runtime choice.
 */
import { readFileSync, statfsSync, existsSync } from 'node:fs';
import { findOnPath } from './which.js';

/** Podman's own defaults for root containers; a hard limit below them must be passed explicitly. */
const PODMAN_DEFAULT_NOFILE = 1048576;
const PODMAN_DEFAULT_NPROC = 4194304;
const TMPFS_MAGIC = 0x01021994;

export interface PodmanHost {
  /** OCI runtime for podman's global --runtime flag, when the default one cannot work here. */
  runtime?: string;
  runtimeReason?: string;
  ulimitArgs: string[];
}

/** Hard limit of `name` from /proc/self/limits, undefined when unlimited or unreadable. */
export function hardLimit(name: string, limits = readLimits()): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  const n = Number(hard);
  return hard && Number.isInteger(n) ? n : undefined;
}

function readLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** cgroup v1 controllers with a v2 hierarchy mounted beside them. */
export function hybridCgroups(): boolean {
  try {
    return statfsSync('/sys/fs/cgroup').type === TMPFS_MAGIC && existsSync('/sys/fs/cgroup/unified/cgroup.controllers');
  } catch {
    return false;
  }
}

export function detectPodmanHost(env = process.env): PodmanHost {
  const ulimitArgs: string[] = [];
  const limits = readLimits();
  const nofile = hardLimit('Max open files', limits);
  if (nofile !== undefined && nofile < PODMAN_DEFAULT_NOFILE) ulimitArgs.push('--ulimit', `nofile=${nofile}:${nofile}`);
  const nprocHard = hardLimit('Max processes', limits);
  const pidMax = readNumber('/proc/sys/kernel/pid_max');
  const nproc = nprocHard !== undefined && pidMax !== undefined ? Math.min(nprocHard, pidMax) : nprocHard ?? pidMax;
  if (nproc !== undefined && nproc < PODMAN_DEFAULT_NPROC) ulimitArgs.push('--ulimit', `nproc=${nproc}:${nproc}`);
  if (env.AGENTKERNEL_PODMAN_RUNTIME) return { runtime: env.AGENTKERNEL_PODMAN_RUNTIME, runtimeReason: 'AGENTKERNEL_PODMAN_RUNTIME', ulimitArgs };
  if (hybridCgroups()) {
    const runc = findOnPath('runc');
    if (runc) return { runtime: runc, runtimeReason: 'hybrid cgroups (crun refuses them)', ulimitArgs };
  }
  return { ulimitArgs };
}
