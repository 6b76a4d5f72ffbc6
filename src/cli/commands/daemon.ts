/**
 * `agentkernel daemon start|stop|status`: `serve` running detached, so warm pools survive between CLI calls.
 * The server writes its own pid file (state dir) once it listens. `stop` signals that pid only after the server
 * at the recorded URL has answered /health with the same pid: a stale file never gets an unrelated process killed.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, unlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { dir } from '../../core/paths.js';
import { UnavailableError } from '../../core/errors.js';
import { note } from '../output.js';
import { runPlain as act } from '../action.js';
import { loadOrCreateApiKey } from '../../api/http/api-key.js';
import { addServeOptions, serveArgs, type PidRecord, type ServeFlags } from './serve.js';
import { unixSocketFetch } from '../../sdk/transport/unix-fetch.js';
import { processExists } from '../../core/process.js';

const BIN = fileURLToPath(new URL('../../../../bin/agentkernel.js', import.meta.url));
const START_WAIT_MS = 30_000;
const STOP_WAIT_MS = 10_000;

export const pidFilePath = (): string => join(dir('state'), 'daemon.json');
/** Where the daemon listens unless `--socket` says otherwise: the state directory is the user's alone (0700). */
export const defaultSocketPath = (): string => join(dir('state'), 'daemon.sock');
const logPath = (): string => join(dir('state'), 'daemon.log');

function readPidFile(): PidRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(pidFilePath(), 'utf8')) as PidRecord;
    return Number.isInteger(r.pid) && (typeof r.url === 'string' || typeof r.socket === 'string') ? r : undefined;
  } catch {
    return undefined;
  }
}

function removePidFile(): void {
  try {
    unlinkSync(pidFilePath());
  } catch {
    // already gone
  }
}

/** Where a pid record says its server is, for messages. */
export function whereIs(rec: PidRecord): string {
  return [rec.socket && `unix:${rec.socket}`, rec.url].filter(Boolean).join(' and ');
}

/** True when the server the record names is an agentkernel server running as process `pid`. */
export async function answersAs(rec: Pick<PidRecord, 'url' | 'socket'>, pid: number): Promise<boolean> {
  try {
    const get = rec.socket ? unixSocketFetch(rec.socket) : fetch;
    const res = await get(`${rec.socket ? 'http://localhost' : rec.url}/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok && res.headers.get('x-agentkernel-pid') === String(pid);
  } catch {
    return false;
  }
}

const alive = processExists;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The running daemon, verified through /health; undefined otherwise. */
async function running(): Promise<PidRecord | undefined> {
  const rec = readPidFile();
  if (!rec) return undefined;
  if (await answersAs(rec, rec.pid)) return rec;
  return undefined;
}

function lastLines(path: string, n = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

async function start(f: ServeFlags): Promise<number> {
  const cur = await running();
  if (cur) {
    note(`already running at ${whereIs(cur)} (pid ${cur.pid})`);
    return 0;
  }
  removePidFile();
  // the key is settled here, not in the detached server, so that a new key is shown to the user, not to a log
  const key = loadOrCreateApiKey();
  if (key.source === 'generated') note(`generated an API key, saved in ${key.path} (shown this once): ${key.key}`);
  const log = openSync(logPath(), 'a', 0o600);
  // a unix socket in the private state directory always; TCP too when --host or --port asks for it
  const args = serveArgs({ ...f, socket: f.socket ?? defaultSocketPath() });
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--pid-file', pidFilePath()], {
    detached: true,
    stdio: ['ignore', log, log],
    env: process.env,
  });
  closeSync(log);
  let exited: number | null | undefined;
  child.once('exit', (code) => { exited = code; });
  child.unref();
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new UnavailableError(`the server exited during start (code ${exited}); ${logPath()} says:\n${lastLines(logPath())}`);
    }
    const rec = readPidFile();
    if (rec && rec.pid === child.pid && (await answersAs(rec, rec.pid))) {
      note(`started at ${whereIs(rec)} (pid ${rec.pid}; log: ${logPath()})`);
      return 0;
    }
    await sleep(100);
  }
  throw new UnavailableError(`the server did not answer within ${START_WAIT_MS / 1000} s (pid ${child.pid}); see ${logPath()}`);
}

async function stop(): Promise<number> {
  const rec = readPidFile();
  if (!rec) {
    note('no daemon is running');
    return 0;
  }
  if (!(await answersAs(rec, rec.pid))) {
    removePidFile();
    note(`removed a stale pid file: nothing at ${whereIs(rec)} answers as pid ${rec.pid}${alive(rec.pid) ? ' (that process was left alone)' : ''}`);
    return 0;
  }
  process.kill(rec.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (alive(rec.pid) && Date.now() < deadline) await sleep(50);
  if (alive(rec.pid)) {
    note(`pid ${rec.pid} did not stop within ${STOP_WAIT_MS / 1000} s of SIGTERM; sending SIGKILL`);
    process.kill(rec.pid, 'SIGKILL');
  }
  if (existsSync(pidFilePath()) && readPidFile()?.pid === rec.pid) removePidFile();
  note(`stopped (pid ${rec.pid})`);
  return 0;
}

async function status(json: boolean | undefined): Promise<number> {
  const rec = await running();
  if (json) process.stdout.write(`${JSON.stringify(rec ? { running: true, ...rec } : { running: false }, null, 2)}\n`);
  else process.stdout.write(rec ? `running at ${whereIs(rec)} (pid ${rec.pid}, since ${rec.startedAt})\n` : 'not running\n');
  return rec ? 0 : 3;
}


export function register(program: Command): void {
  const daemon = program
    .command('daemon')
    .summary('run `serve` in the background (start, stop, status), keeping warm pools between CLI calls');
  const startCmd = daemon
    .command('start')
    .summary('start the server detached on a unix socket in the state directory (TCP too with --host/--port); CLI commands then use it');
  addServeOptions(startCmd).action((f: ServeFlags) => act(() => start(f)));
  daemon
    .command('stop')
    .summary('stop the server started by `daemon start` (after checking that the recorded pid is that server)')
    .action(() => act(stop));
  daemon
    .command('status')
    .summary('say whether the daemon runs and where (exit code 0 when it does, 3 when it does not)')
    .option('--json', 'print JSON')
    .action((f: { json?: boolean }) => act(() => status(f.json)));
}
