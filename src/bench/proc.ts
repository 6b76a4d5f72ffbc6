/** Child processes for the reference rows: find a tool, run it, collect its output (bounded in time). */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Observed } from './types.js';

/** sbin directories too: runc and friends live there and are not always on a user's PATH. */
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Run a program to completion; a program that outlives `timeoutMs` is killed and reported with exit code 124. */
export function runProcess(file: string, args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Observed> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: timedOut ? 124 : code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** The last non-empty line of a tool's stderr (where tools put the actual complaint), for skip reasons. */
export function complaint(s: string | undefined): string {
  return (s ?? '').trim().split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
}
