/**
 * Adding (or removing) our MCP server entry in an agent's config file without disturbing anything else in it.
 * An existing file that cannot be parsed is an error, never overwritten; an entry that differs from ours is kept
 * unless --force; every file is written whole to a temporary name and renamed, so an agent never reads half.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ValidationError } from '../core/errors.js';
import { SERVER_NAME, serverCommand, type PluginFile, type Target } from './targets.js';

export type Outcome = 'created' | 'updated' | 'unchanged' | 'kept' | 'removed' | 'absent';

export interface FileResult {
  path: string;
  outcome: Outcome;
  /** Why an entry was kept, for the user. */
  note?: string;
}

export interface InstallOptions {
  /** The project directory (default: the working directory). */
  dir?: string;
  global?: boolean;
  force?: boolean;
  dryRun?: boolean;
  env?: NodeJS.ProcessEnv;
}

const toml = () => createRequire(import.meta.url)('smol-toml') as { parse(t: string): Record<string, unknown>; stringify(v: unknown): string };

export function filePath(f: PluginFile, o: InstallOptions): string {
  if (o.global) {
    if (!f.global) throw new ValidationError(`${f.project} has no user-wide location: install it per project`);
    return f.global(o.env ?? process.env);
  }
  return join(resolve(o.dir ?? process.cwd()), f.project);
}

/** Our entry, in the shape this file format wants. */
function ourEntry(format: PluginFile['format']): Record<string, unknown> {
  const { command, args } = serverCommand();
  if (format === 'json-opencode') return { type: 'local', command: [command, ...args], enabled: true };
  return { command, args };
}

/** Equal as JSON values (parsers may hand back objects without a prototype). */
function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.agentkernel-${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function readJsonObject(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  let v: unknown;
  try {
    v = text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`${path} is not valid JSON (${(e as Error).message}); fix or move it, agentkernel will not overwrite it`, { path });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(`${path} does not hold a JSON object`, { path });
  return v as Record<string, unknown>;
}

/** The object under `key` (created when missing); an existing non-object there is an error. */
function section(obj: Record<string, unknown>, key: string, path: string): Record<string, unknown> {
  const cur = obj[key];
  if (cur === undefined) return (obj[key] = {});
  if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) throw new ValidationError(`${path}: "${key}" is not an object`, { path });
  return cur as Record<string, unknown>;
}

function jsonChange(path: string, f: PluginFile, o: InstallOptions, remove: boolean): FileResult {
  const exists = existsSync(path);
  if (!exists && remove) return { path, outcome: 'absent' };
  const doc = exists ? readJsonObject(path) : {};
  const servers = section(doc, f.format === 'json-opencode' ? 'mcp' : 'mcpServers', path);
  const want = ourEntry(f.format);
  const have = servers[SERVER_NAME];
  const key = f.format === 'json-opencode' ? 'mcp' : 'mcpServers';
  if (remove) {
    if (have === undefined) return { path, outcome: 'absent' };
    delete servers[SERVER_NAME];
    if (Object.keys(servers).length === 0) delete doc[key];
    // a file that held nothing but our entry goes with it
    if (Object.keys(doc).length === 0) {
      if (!o.dryRun) rmSync(path);
      return { path, outcome: 'removed' };
    }
  } else {
    if (have !== undefined && same(have, want)) return { path, outcome: 'unchanged' };
    if (have !== undefined && !o.force) return { path, outcome: 'kept', note: 'an agentkernel entry with other settings is there (use --force to replace it)' };
    servers[SERVER_NAME] = want;
  }
  if (!o.dryRun) writeAtomic(path, `${JSON.stringify(doc, null, 2)}\n`);
  return { path, outcome: remove ? 'removed' : exists ? 'updated' : 'created' };
}

const TOML_HEADER = `[mcp_servers.${SERVER_NAME}]`;

/**
 * Codex's TOML is edited as text so that the user's comments and layout survive: our table is appended, or its
 * lines (up to the next table header) replaced or removed; the result is parsed before it is written.
 */
function tomlChange(path: string, o: InstallOptions, remove: boolean): FileResult {
  const exists = existsSync(path);
  if (!exists && remove) return { path, outcome: 'absent' };
  const text = exists ? readFileSync(path, 'utf8') : '';
  let parsed: Record<string, unknown>;
  try {
    parsed = toml().parse(text);
  } catch (e) {
    throw new ValidationError(`${path} is not valid TOML (${(e as Error).message.split('\n')[0]}); agentkernel will not overwrite it`, { path });
  }
  const servers = parsed.mcp_servers as Record<string, unknown> | undefined;
  const have = servers?.[SERVER_NAME];
  const want = ourEntry('toml-codex');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === TOML_HEADER);
  if (have !== undefined && start < 0) {
    throw new ValidationError(`${path} defines mcp_servers.${SERVER_NAME} in a form agentkernel does not edit; change it by hand`, { path });
  }
  let end = start + 1;
  while (start >= 0 && end < lines.length && !/^\s*\[/.test(lines[end]!)) end++;
  const block = [TOML_HEADER, ...toml().stringify(want).trim().split('\n'), ''];
  let next: string[];
  if (remove) {
    if (start < 0) return { path, outcome: 'absent' };
    next = [...lines.slice(0, start), ...lines.slice(end)];
  } else if (start >= 0) {
    if (same(have, want)) return { path, outcome: 'unchanged' };
    if (!o.force) return { path, outcome: 'kept', note: 'an agentkernel entry with other settings is there (use --force to replace it)' };
    next = [...lines.slice(0, start), ...block, ...lines.slice(end)];
  } else {
    next = [...(text === '' || text.endsWith('\n') ? lines.slice(0, -1) : lines), ...(text.trim() ? [''] : []), ...block];
  }
  const out = `${next.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
  toml().parse(out); // never write what would not parse
  if (remove && out.trim() === '') {
    if (!o.dryRun) rmSync(path); // it held nothing but our table
  } else if (!o.dryRun) writeAtomic(path, out);
  return { path, outcome: remove ? 'removed' : exists ? 'updated' : 'created' };
}

function textChange(path: string, f: PluginFile, o: InstallOptions, remove: boolean): FileResult {
  const exists = existsSync(path);
  const same = exists && readFileSync(path, 'utf8') === f.content;
  if (remove) {
    if (!exists) return { path, outcome: 'absent' };
    if (!same && !o.force) return { path, outcome: 'kept', note: 'it was changed since it was installed (use --force to remove it)' };
    if (!o.dryRun) rmSync(path);
    return { path, outcome: 'removed' };
  }
  if (same) return { path, outcome: 'unchanged' };
  if (exists && !o.force) return { path, outcome: 'kept', note: 'a different file is there (use --force to replace it)' };
  if (!o.dryRun) writeAtomic(path, f.content!);
  return { path, outcome: exists ? 'updated' : 'created' };
}

function change(t: Target, o: InstallOptions, remove: boolean): FileResult[] {
  return t.files.map((f) => {
    const path = filePath(f, o);
    switch (f.format) {
      case 'json-mcpServers':
      case 'json-opencode': return jsonChange(path, f, o, remove);
      case 'toml-codex': return tomlChange(path, o, remove);
      case 'text': return textChange(path, f, o, remove);
    }
  });
}

export const installPlugin = (t: Target, o: InstallOptions = {}): FileResult[] => change(t, o, false);
export const uninstallPlugin = (t: Target, o: InstallOptions = {}): FileResult[] => change(t, o, true);

/** Whether every file of the target holds our current entry. */
export function isInstalled(t: Target, o: InstallOptions = {}): boolean {
  try {
    return change(t, { ...o, dryRun: true, force: false }, false).every((r) => r.outcome === 'unchanged');
  } catch {
    return false;
  }
}
