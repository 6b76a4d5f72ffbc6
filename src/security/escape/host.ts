/** What the escape corpus checks on the host after an attempt: processes left behind. Linux /proc only. */
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** A process exists and is not a zombie (a killed child its parent has not reaped yet counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** PIDs of host processes whose command line contains `marker` (this process excluded). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`).includes(marker) && alive(Number(name))) found.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/**
 * Wait (bounded) until `leftovers()` is empty: backends end dropped workers and containers asynchronously, so a
 * process may need a moment to go. Resolves with what is still there when the wait is over.
 */
export async function settle(leftovers: () => number[], waitMs = 30_000): Promise<number[]> {
  const until = Date.now() + waitMs;
  for (;;) {
    const left = leftovers();
    if (left.length === 0 || Date.now() >= until) return left;
    await sleep(100);
  }
}
