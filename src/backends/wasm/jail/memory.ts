/**
 * The memory cap of a worker process, outside V8: a cgroup v2 leaf with memory.max where this machine delegates
 * the memory controller to us, otherwise a host-side watch of the worker's resident memory (summed over its
 * processes: bwrap, bwrap's init, node) that kills the worker past the cap. Inside, the runtimes cap the guest's
 * own heap (capMemory on Wasm modules, QuickJS's heap limit, Pyodide's growth guard); this is the backstop for
 * everything they do not see.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupProbe {
  available: boolean;
  reason?: string;
  /** The cgroup v2 directory under which worker leaves are created. */
  parent?: string;
}

function cgroup2Mount(): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      // "... mountpoint options - fstype source superoptions"
      const [left, right] = line.split(' - ');
      if (right?.startsWith('cgroup2 ')) return left.split(' ')[4];
    }
  } catch {
    // no /proc: not Linux
  }
  return undefined;
}

function ownCgroup2Path(): string | undefined {
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line?.slice(3);
  } catch {
    return undefined;
  }
}

/**
 * Can this process create memory-capped cgroups? `parent` names a delegated cgroup v2 directory explicitly;
 * otherwise this process's own cgroup is tried (usable when it is the root of a cgroup namespace, as in a
 * container started with a private cgroup namespace and a writable cgroupfs).
 */
export function probeCgroup(parent?: string): CgroupProbe {
  if (process.platform !== 'linux') return { available: false, reason: 'cgroups exist only on Linux' };
  let dir = parent;
  if (!dir) {
    const mount = cgroup2Mount();
    const own = ownCgroup2Path();
    if (!mount || own === undefined) return { available: false, reason: 'no cgroup v2 hierarchy is mounted' };
    dir = join(mount, own);
  }
  let controllers = '';
  try {
    controllers = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8');
  } catch (e) {
    return { available: false, reason: `cannot read ${join(dir, 'cgroup.subtree_control')}: ${(e as Error).message}` };
  }
  if (!controllers.split(/\s+/).includes('memory')) {
    return { available: false, reason: `the cgroup v2 memory controller is not delegated to ${dir} (subtree_control: '${controllers.trim()}')` };
  }
  const probe = join(dir, `agentkernel-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (e) {
    return { available: false, reason: `cannot create a cgroup under ${dir}: ${(e as Error).message}` };
  }
  return { available: true, parent: dir };
}

/** One worker's cgroup: created before the worker starts, removed after it has exited. */
export class CgroupLeaf {
  readonly dir: string;

  constructor(parent: string, name: string) {
    this.dir = join(parent, name);
    mkdirSync(this.dir, { recursive: true });
    // no swap: a capped worker must fail, not crawl
    try { writeFileSync(join(this.dir, 'memory.swap.max'), '0'); } catch { /* no swap accounting */ }
  }

  /** The file a process writes its pid to in order to join. */
  get procsFile(): string {
    return join(this.dir, 'cgroup.procs');
  }

  setMax(bytes: number): void {
    writeFileSync(join(this.dir, 'memory.max'), String(Math.floor(bytes)));
  }

  /** Did the kernel kill something in here for memory? (memory.events oom_kill) */
  oomKills(): number {
    try {
      const m = readFileSync(join(this.dir, 'memory.events'), 'utf8').match(/^oom_kill (\d+)$/m);
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  remove(): void {
    try { rmdirSync(this.dir); } catch { /* still populated for a moment; the next probe cleans nothing up */ }
  }
}

/** Resident memory of a process in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  if (process.platform === 'linux') {
    try {
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
      return m ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }
  try {
    return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024 || 0;
  } catch {
    return 0;
  }
}

/** `root` and every process below it (Linux: from /proc/<pid>/stat; elsewhere only `root`). */
export function processTree(root: number): number[] {
  if (!existsSync('/proc/self/stat')) return [root];
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // the command name may contain spaces and parentheses: fields start after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

export function treeRss(pids: number[]): number {
  return pids.reduce((sum, p) => sum + rssBytes(p), 0);
}
