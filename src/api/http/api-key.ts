/**
 * Where the HTTP API's token lives: AGENTKERNEL_API_KEY, else a file in the config directory (mode 0600).
 * The server creates the file on first start; local clients (the SDK, `daemon`) only read it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { dir } from '../../core/paths.js';

export interface ApiKey {
  key: string;
  /** env: AGENTKERNEL_API_KEY; file: read from `path`; generated: created now and saved at `path` */
  source: 'env' | 'file' | 'generated';
  path?: string;
}

const MIN_LENGTH = 16;

export function apiKeyPath(): string {
  return join(dir('config'), 'api-key');
}

/**
 * The server's token: AGENTKERNEL_API_KEY when set, else the saved key, else a new random one saved with mode
 * 0600 (created exclusively, so two servers starting at once agree on one key).
 */
export function loadOrCreateApiKey(env: NodeJS.ProcessEnv = process.env): ApiKey {
  const fromEnv = env.AGENTKERNEL_API_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_LENGTH) throw new ConfigError(`AGENTKERNEL_API_KEY must be at least ${MIN_LENGTH} characters long`);
    return { key: fromEnv, source: 'env' };
  }
  const path = apiKeyPath();
  const key = randomBytes(32).toString('base64url');
  try {
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return { key, source: 'generated', path };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  // a key saved earlier: keep it private even if someone loosened its mode
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const saved = readFileSync(path, 'utf8').trim();
  if (saved.length < MIN_LENGTH) throw new ConfigError(`the API key in ${path} is too short; delete the file to generate a new one`);
  return { key: saved, source: 'file', path };
}

/** The key a client on this machine would use: the environment, else the saved file (never creates one). */
export function readLocalApiKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.AGENTKERNEL_API_KEY) return env.AGENTKERNEL_API_KEY;
  try {
    return readFileSync(apiKeyPath(), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
