/**
 * Memory of this process and everything it started (pooled workers, VMs in this process), as proportional set
 * size: shared pages are divided among the processes sharing them, so N sandboxes sharing one snapshot or one
 * runtime image are not counted N times. Linux only; elsewhere the figure is unavailable.
 */
import { readFileSync, readdirSync } from 'node:fs';

function kib(path: string, field: RegExp): number | undefined {
  try {
    const m = field.exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** PSS of one process in KiB (RSS where smaps_rollup is missing), undefined if it is gone or unreadable. */
function processKiB(pid: number): number | undefined {
  return kib(`/proc/${pid}/smaps_rollup`, /^Pss:\s+(\d+) kB/m) ?? kib(`/proc/${pid}/status`, /^VmRSS:\s+(\d+) kB/m);
}

function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      // the thread ended while we looked
    }
  }
  return out;
}

/** PSS in KiB of `root` and all its descendants; undefined where /proc cannot tell. */
export function processTreeKiB(root = process.pid): number | undefined {
  const own = processKiB(root);
  if (own === undefined) return undefined;
  let total = own;
  const queue = children(root);
  const seen = new Set<number>([root]);
  while (queue.length) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += processKiB(pid) ?? 0;
    queue.push(...children(pid));
  }
  return total;
}
