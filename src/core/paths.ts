/**
 * Where agentkernel keeps things on the user's machine, following the XDG base-directory convention:
 * cache (compiled guests, snapshots) may be deleted at any time; state (sandboxes) survives restarts;
 * config holds the API token. Every location can be moved with AGENTKERNEL_HOME (used by the tests).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

function base(kind: 'cache' | 'state' | 'config'): string {
  const root = process.env.AGENTKERNEL_HOME;
  if (root) return join(root, kind);
  const home = homedir();
  switch (kind) {
    case 'cache': return join(process.env.XDG_CACHE_HOME || join(home, '.cache'), 'agentkernel');
    case 'state': return join(process.env.XDG_STATE_HOME || join(home, '.local', 'state'), 'agentkernel');
    case 'config': return join(process.env.XDG_CONFIG_HOME || join(home, '.config'), 'agentkernel');
  }
}

/** A path under one of the locations, without creating anything. */
export function location(kind: 'cache' | 'state' | 'config', ...sub: string[]): string {
  return join(base(kind), ...sub);
}

/** Returns the directory (created with mode 0700 if missing). */
export function dir(kind: 'cache' | 'state' | 'config', ...sub: string[]): string {
  const p = join(base(kind), ...sub);
  mkdirSync(p, { recursive: true, mode: 0o700 });
  return p;
}
