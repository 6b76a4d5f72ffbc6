/** The corpus result as text: a backend x case table, then why anything broke and why cells do not apply. */
import type { Matrix } from './types.js';

function pad(s: string, n: number): string {
  return s + ' '.repeat(Math.max(0, n - s.length));
}

export function cellText(state: string, held: number): string {
  return state === 'held' ? `held (${held})` : state === 'broke' ? 'BROKE' : 'n.a.';
}

/** A Markdown table (it reads as plain text too) followed by notes. */
export function renderTable(m: Matrix): string {
  const header = ['case', ...m.backends];
  const rows = m.cases.map((c) => [c.id, ...m.backends.map((b) => {
    const cell = m.cells.find((x) => x.backend === b && x.caseId === c.id);
    return cell ? cellText(cell.state, cell.attempts.filter((a) => a.state === 'held').length) : '-';
  })]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((s, i) => pad(s, widths[i])).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  const count = (s: string) => m.cells.filter((c) => c.state === s).length;
  out.push('', `${count('held')} held, ${count('broke')} broke, ${count('n.a.')} n.a. (held (N): N attempts, all held)`);
  const broke = m.cells.filter((c) => c.state === 'broke');
  if (broke.length > 0) {
    out.push('', 'Broke:');
    for (const c of broke) out.push(`- ${c.backend} ${c.caseId}: ${c.reason}`);
  }
  const na = new Map<string, string[]>();
  for (const c of m.cells.filter((x) => x.state === 'n.a.')) {
    const k = `${c.backend}: ${c.reason}`;
    na.set(k, [...(na.get(k) ?? []), c.caseId]);
  }
  if (na.size > 0) {
    out.push('', 'n.a.:');
    for (const [k, ids] of na) out.push(`- ${k} (${ids.join(', ')})`);
  }
  return out.join('\n');
}
