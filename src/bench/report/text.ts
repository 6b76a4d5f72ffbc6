/**
 * The plain-text report printed at the end of `agentkernel bench`: machine facts, one table of measured rows (with
 * each p50 as a ratio to the fastest reference next to the absolute times), skipped rows with their reasons,
 * failures, and the quoted figures, labelled as such.
 */
import { machineLine } from '../machine.js';
import { QUOTED_LABEL } from '../quoted.js';
import type { BenchReport, RowResult } from '../types.js';
import { formatKiB, formatMs, formatQuoted, formatRate, formatRatio } from './format.js';

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function measuredCells(r: RowResult, callers: number): string[] {
  const l = r.latencyMs!;
  const conc = r.throughput?.concurrent;
  const mem = r.memory ? (r.memory.perSandboxKiB === null ? 'n/m' : formatKiB(r.memory.perSandboxKiB)) : '';
  return [
    r.target,
    r.workload,
    String(r.iterations),
    r.firstMs === undefined ? '' : formatMs(r.firstMs),
    formatMs(l.min),
    formatMs(l.p50),
    formatMs(l.p99),
    r.ratioToFastestReference === undefined ? '' : formatRatio(r.ratioToFastestReference),
    formatRate(r.throughput!.sequentialPerSec),
    conc && conc.callers === callers ? formatRate(conc.perSec) : '',
    mem,
  ];
}

/** Skipped rows, collapsed to one line per backend when every row of it was skipped for the same reason. */
function skippedLines(rows: RowResult[]): string[] {
  const out: string[] = [];
  const byTarget = new Map<string, RowResult[]>();
  for (const r of rows) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  for (const [target, all] of byTarget) {
    const skipped = all.filter((r) => r.status === 'skipped');
    if (skipped.length === 0) continue;
    if (target !== 'reference' && skipped.length === all.length && new Set(skipped.map((r) => r.reason)).size === 1) {
      out.push(`  ${target} (all ${all.length} workloads): ${skipped[0].reason}`);
    } else {
      for (const r of skipped) out.push(`  ${r.id}: ${r.reason}`);
    }
  }
  return out;
}

export function renderText(report: BenchReport): string {
  const s = report.settings;
  const parts: string[] = [];
  parts.push(`agentkernel ${report.machine.agentkernel} bench, ${report.startedAt}`);
  parts.push(`machine: ${machineLine(report.machine)}; load average ${report.machine.loadAverage.join(' ')}`);
  parts.push(`${s.durationS} s of measurement per row after ${s.warmup} warm-up iterations; throughput with 1 and ${s.concurrency} concurrent callers`);
  const ref = report.fastestReference;
  parts.push(ref
    ? `×ref = p50 / p50 of the fastest reference (${ref.id}, ${formatMs(ref.p50Ms)}), measured in this same run: compare ratios, not absolute times, across runs`
    : '×ref: no reference was measured in this run');

  const measured = report.rows.filter((r) => r.status === 'ok');
  if (measured.length) {
    const header = ['target', 'workload', 'runs', 'first', 'min', 'p50', 'p99', '×ref', 'runs/s ×1', `runs/s ×${s.concurrency}`, 'mem/sandbox'];
    parts.push('', table(header, measured.map((r) => measuredCells(r, s.concurrency)), new Set([2, 3, 4, 5, 6, 7, 8, 9, 10])));
    const mem = measured.find((r) => r.memory);
    if (mem) parts.push(`mem/sandbox: ${mem.memory!.method}; n/m = not measurable here (see the JSON report for why)`);
  } else {
    parts.push('', 'no row was measured');
  }

  const skipped = skippedLines(report.rows);
  if (skipped.length) parts.push('', 'skipped:', ...skipped);

  const failed = report.rows.filter((r) => r.status === 'failed');
  if (failed.length) {
    parts.push('', `FAILED (${failed.length} row${failed.length > 1 ? 's' : ''}; no figures are reported for them):`, ...failed.map((r) => `  ${r.error}`));
  }

  parts.push('', `${QUOTED_LABEL}:`);
  const w = Math.max(...report.quoted.map((q) => q.label.length));
  let source = '';
  for (const q of report.quoted) {
    if (q.source !== source) parts.push(`  ${(source = q.source)}:`);
    parts.push(`    ${q.label.padEnd(w)}  ${formatQuoted(q.ms)}`);
  }
  return `${parts.join('\n')}\n`;
}
