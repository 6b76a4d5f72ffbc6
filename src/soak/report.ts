/** A soak report as plain text: the figures docs/soak.md quotes and the bench prints. */
import { mib } from './host.js';
import type { SoakReport } from './run.js';

export function formatReport(r: SoakReport): string {
  const v = r.verdicts;
  const lines = [
    `soak: ${Math.round(r.durationMs / 1000)} s measured, ${r.concurrency} callers per interface (${r.interfaces.join(', ')}), backends ${r.backends.join(', ')}`,
    ...r.skipped.map((s) => `  skipped: ${s}`),
    `requests ${r.requests}: ok ${v.ok}, explained errors ${v.error}, lost ${v.lost}, mixed ${v.mixed}, wrong ${v.wrong}, unexplained ${v.unexplained}, late ${r.late}`,
    `errors by kind: ${Object.entries(r.errorsByCode).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    `faults injected: ${r.faults.workerKills} workers SIGKILLed, ${r.faults.daemonRestarts} daemon restarts (down ${r.faults.daemonDownMs} ms in all)`
      + `, orphans ${r.faults.orphans.length}`,
    'per interface:',
    ...Object.entries(r.perInterface).map(([name, s]) =>
      `  ${name.padEnd(8)} ${String(s.requests).padStart(7)} requests, ok ${s.ok}, ${s.perSecond}/s`
      + `${Object.keys(s.errors).length ? `, errors ${Object.entries(s.errors).map(([k, n]) => `${k} ${n}`).join(' ')}` : ''}`),
    'per kind:',
    ...Object.entries(r.perKind).map(([k, s]) => `  ${k.padEnd(12)} ${String(s.requests).padStart(7)} requests, ok ${s.ok}, explained errors ${s.error}`),
    `host (this process, after GC): rss ${mib(r.host.start.rssBytes)} -> ${mib(r.host.end.rssBytes)} MiB, `
      + `heap ${mib(r.host.start.heapUsedBytes ?? 0)} -> ${mib(r.host.end.heapUsedBytes ?? 0)} MiB, fds ${r.host.start.fds} -> ${r.host.end.fds} (micro-VM engine ${r.host.start.engineFds ?? 0} -> ${r.host.end.engineFds ?? 0}), `
      + `child processes ${r.host.start.descendants} -> ${r.host.end.descendants}`,
    ...(r.daemon ?? []).map((d, i) => `daemon #${i + 1} pid ${d.pid}: ${d.first && d.last
      ? `rss ${mib(d.first.rssBytes)} -> ${mib(d.last.rssBytes)} MiB, fds ${d.first.fds} -> ${d.last.fds}, processes ${d.first.descendants} -> ${d.last.descendants}`
      : 'not sampled'}${d.orphans.length ? `, ORPHANS ${d.orphans.join(',')}` : ''}`),
    ...r.problems.map((p) => `  problem: ${p}`),
    r.failures.length ? `FAILED: ${r.failures.join('; ')}` : 'PASSED: zero lost or mixed-up results, host memory, descriptors and processes flat',
  ];
  return lines.join('\n');
}
