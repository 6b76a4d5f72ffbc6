/**
 * `agentkernel audit`: read the audit log (sandbox lifecycle events and commands, as JSON lines), filtered, as a
 * table or as the JSON lines themselves; `--follow` keeps printing new records like `tail -f`.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { statSync, openSync, readSync, closeSync } from 'node:fs';
import { runAction } from '../action.js';
import { matches, parseLines, parseSince, readAudit, type AuditQuery } from '../../audit/read.js';
import type { AuditRecord, AuditSettings } from '../../audit/types.js';

interface AuditFlags {
  config?: string;
  since?: string;
  until?: string;
  event?: string;
  sandbox?: string;
  origin?: string;
  outcome?: string;
  limit?: number;
  json?: boolean;
  follow?: boolean;
  path?: boolean;
}

const FOLLOW_POLL_MS = 250;

function describe(r: AuditRecord): string {
  if (r.argv) return r.argv.join(' ');
  if (r.language) return `${r.language} code ${r.sha256?.slice(0, 12)} (${r.bytes} B)`;
  if (r.export) return `${r.export}() of ${r.path ?? `${r.sha256?.slice(0, 12)} (${r.bytes} B)`}`;
  if (r.path) return r.path;
  if (r.sha256) return `module ${r.sha256.slice(0, 12)} (${r.bytes} B)`;
  return r.image ? `image ${r.image}` : '';
}

function result(r: AuditRecord): string {
  if (r.outcome === 'error') return `error ${r.error?.name ?? ''}: ${r.error?.message ?? ''}`;
  if (r.outcome === 'started') return 'started';
  if (r.exitCode !== undefined) return `exit ${r.exitCode}${r.timedOut ? ' (timeout)' : ''}`;
  return 'ok';
}

function printRecord(r: AuditRecord, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const cols = [r.ts, r.origin.padEnd(7), r.event.padEnd(14), (r.backend ?? '-').padEnd(10), (r.sandbox ?? '-').padEnd(12), result(r), describe(r)];
  process.stdout.write(`${cols.join('  ').trimEnd()}\n`);
}

/** Print records appended to the live file from `offset` on, until interrupted. */
async function follow(settings: AuditSettings, q: AuditQuery, json: boolean, signal: AbortSignal): Promise<void> {
  let offset = safeSize(settings.path);
  let partial = '';
  while (!signal.aborted) {
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    const size = safeSize(settings.path);
    if (size < offset) offset = 0; // rotated: the live file starts anew
    if (size === offset) continue;
    const buf = Buffer.alloc(size - offset);
    const fd = openSync(settings.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, offset);
    } finally {
      closeSync(fd);
    }
    offset = size;
    const text = partial + buf.toString('utf8');
    const cut = text.lastIndexOf('\n') + 1;
    partial = text.slice(cut);
    const { records, invalid } = parseLines(text.slice(0, cut), settings.path);
    for (const r of records) if (matches(r, q)) printRecord(r, json);
    for (const where of invalid) process.stderr.write(`agentkernel: not an audit record: ${where}\n`);
  }
}

function safeSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('--limit must be a non-negative integer');
  return n;
}

export function register(program: Command): void {
  program
    .command('audit')
    .summary('read the audit log of sandbox lifecycle events and commands')
    .description(
      'Print audit records (oldest first) from the append-only log that every agentkernel process writes: sandbox\n' +
        'create/start/stop/remove, commands, code and Wasm runs (code and modules by SHA-256, never their content),\n' +
        'file writes and removals. Environment values, stdin and file contents are never recorded; secrets in argv\n' +
        'are redacted. Location and retention: [audit] in agentkernel.toml, AGENTKERNEL_AUDIT=off to disable.',
    )
    .option('-c, --config <file>', 'agentkernel.toml to use (default: ./agentkernel.toml if present)')
    .option('--since <time>', 'records at or after TIME: 30s, 15m, 2h, 7d or an ISO date')
    .option('--until <time>', 'records at or before TIME (same forms as --since)')
    .option('--event <name>', 'one event (run.code) or a prefix ending in . or * (sandbox.)')
    .option('--sandbox <name>', 'records of one sandbox')
    .option('--origin <origin>', 'records that came through cli, http, mcp or library')
    .option('--outcome <outcome>', 'started, ok or error')
    .option('-n, --limit <n>', 'only the last N matching records', nonNegativeInt)
    .option('--json', 'print the records as JSON lines')
    .option('-f, --follow', 'keep printing new records until interrupted')
    .option('--path', 'print where the log is and exit')
    .action(async (f: AuditFlags) => {
      await runAction({ config: f.config, json: f.json }, async (k, signal) => {
        const settings = k.settings.audit;
        if (f.path) {
          process.stdout.write(`${settings.path}${settings.enabled ? '' : ' (disabled)'}\n`);
          return 0;
        }
        const q: AuditQuery = {
          since: f.since ? parseSince(f.since) : undefined,
          until: f.until ? parseSince(f.until) : undefined,
          event: f.event, sandbox: f.sandbox, origin: f.origin, outcome: f.outcome, limit: f.limit,
        };
        const { records, invalid } = readAudit(settings, q);
        if (!settings.enabled) process.stderr.write(`agentkernel: the audit log is disabled; showing what ${settings.path} holds\n`);
        for (const r of records) printRecord(r, Boolean(f.json));
        for (const where of invalid) process.stderr.write(`agentkernel: not an audit record: ${where}\n`);
        if (f.follow) await follow(settings, q, Boolean(f.json), signal);
        return invalid.length ? 1 : 0;
      });
    });
}
