/**
 * Reading the audit log back (`agentkernel audit`): the rotated files oldest first, then the live one, filtered.
 * A line that is not a record (a torn write after a crash, or someone editing the file) is reported, not skipped
 * silently, because an audit trail with holes must say so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ValidationError } from '../core/errors.js';
import { rotatedPath } from './log.js';
import type { AuditRecord, AuditSettings } from './types.js';

export interface AuditQuery {
  /** Records at or after this time. */
  since?: Date;
  until?: Date;
  /** Event name or prefix ending in '.' or '*' (e.g. `sandbox.` or `run*`). */
  event?: string;
  sandbox?: string;
  origin?: string;
  outcome?: string;
  /** Keep only the last N matching records. */
  limit?: number;
}

export interface AuditReadResult {
  records: AuditRecord[];
  /** Lines that could not be parsed, as `file:line`. */
  invalid: string[];
  files: string[];
}

/** `30s`, `15m`, `2h`, `7d`, or an ISO date, relative to `now`. */
export function parseSince(text: string, now = Date.now()): Date {
  const rel = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (rel) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(rel[1]) * unit);
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new ValidationError(`invalid time '${text}': use e.g. 30m, 2h, 7d or an ISO date`);
  return d;
}

function eventMatches(pattern: string, event: string): boolean {
  if (pattern.endsWith('*')) return event.startsWith(pattern.slice(0, -1));
  if (pattern.endsWith('.')) return event.startsWith(pattern);
  return event === pattern;
}

export function matches(r: AuditRecord, q: AuditQuery): boolean {
  const t = Date.parse(r.ts);
  if (q.since && t < q.since.getTime()) return false;
  if (q.until && t > q.until.getTime()) return false;
  if (q.event && !eventMatches(q.event, r.event)) return false;
  if (q.sandbox && r.sandbox !== q.sandbox) return false;
  if (q.origin && r.origin !== q.origin) return false;
  if (q.outcome && r.outcome !== q.outcome) return false;
  return true;
}

/** The files that hold records, oldest first. */
export function auditFiles(settings: AuditSettings): string[] {
  const files: string[] = [];
  for (let n = settings.maxFiles; n >= 0; n--) {
    const p = rotatedPath(settings.path, n);
    if (existsSync(p)) files.push(p);
  }
  return files;
}

export function parseLines(text: string, file: string, startLine = 1): { records: AuditRecord[]; invalid: string[] } {
  const records: AuditRecord[] = [];
  const invalid: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const r = JSON.parse(line) as AuditRecord;
      if (typeof r !== 'object' || r === null || typeof r.ts !== 'string' || typeof r.event !== 'string') throw new Error('not a record');
      records.push(r);
    } catch {
      invalid.push(`${file}:${startLine + i}`);
    }
  });
  return { records, invalid };
}

export function readAudit(settings: AuditSettings, q: AuditQuery = {}): AuditReadResult {
  const files = auditFiles(settings);
  const records: AuditRecord[] = [];
  const invalid: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // rotated away between listing and reading
    }
    const parsed = parseLines(text, f);
    records.push(...parsed.records.filter((r) => matches(r, q)));
    invalid.push(...parsed.invalid);
  }
  return { records: q.limit !== undefined ? records.slice(Math.max(0, records.length - q.limit)) : records, invalid, files };
}
