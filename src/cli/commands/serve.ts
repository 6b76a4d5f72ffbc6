/**
 * `agentkernel serve`: the HTTP API (with live streaming and MCP at /mcp) in the foreground until SIGINT/SIGTERM.
 * The serve options are declared here once; `daemon start` reuses them to launch this same command detached.
 */
import { writeFileSync, readFileSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RunningServer } from '../../api/http/server.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AgentKernel } from '../../service/kernel.js';
import { overridesFrom, type RunFlags } from '../options.js';
import { note, reportError } from '../output.js';
import { loadOrCreateApiKey } from '../../api/http/api-key.js';
// the server (hono, MCP) loads only when serve runs, so other commands start fast
import { DEFAULT_MAX_BODY_BYTES } from '../../api/http/defaults.js';

/** Longest a stopping server waits for open streams and pools before it exits anyway. */
const SHUTDOWN_GRACE_MS = 5000;

export interface ServeFlags extends RunFlags {
  host?: string;
  port?: number;
  maxBody?: number;
  allowOrigin?: string[];
  mcp?: boolean;
  pidFile?: string;
  socket?: string;
}

export function intOption(what: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** Settings of a long-running server (HTTP or MCP): the limits given are the defaults and maxima of every run. */
export function addServerKernelOptions(cmd: Command): Command {
  return cmd
    .option('-B, --backend <name>', 'backend for requests that name none (default: automatic selection)')
    .option('-p, --profile <name>', 'security profile: permissive, moderate (default), restrictive')
    .option('-c, --config <file>', 'agentkernel.toml to use (default: ./agentkernel.toml if present)')
    .option('--timeout <ms>', 'default and maximum wall-clock limit of each run, in milliseconds', intOption('--timeout', 1))
    .option('--memory <mb>', 'default and maximum memory cap of each run, in MiB', intOption('--memory', 1))
    .option('--output-limit <bytes>', 'default and maximum bytes kept of stdout and of stderr each', intOption('--output-limit', 1));
}

/** The options of `serve`, shared with `daemon start` (which passes them on to the server it launches). */
export function addServeOptions(cmd: Command): Command {
  return addServerKernelOptions(cmd
    .option('--host <address>', 'address to listen on (default: 127.0.0.1, or [server] host in agentkernel.toml)')
    .option('--port <port>', 'port to listen on; 0 picks a free one (default: 18888)', intOption('--port', 0, 65535))
    .option('--socket <path>', 'listen on this unix socket (mode 0600) instead of TCP; with --host or --port, on both'))
    .option('--max-body <bytes>', `largest request body accepted (default: ${DEFAULT_MAX_BODY_BYTES})`, intOption('--max-body', 1))
    .option('--allow-origin <origin>', 'also accept browser requests from this origin (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--no-mcp', 'do not serve MCP at /mcp');
}

/** argv for `serve` that reproduces these flags (used by `daemon start`). */
export function serveArgs(f: ServeFlags): string[] {
  const a: string[] = [];
  const put = (flag: string, v: string | number | undefined) => { if (v !== undefined) a.push(flag, String(v)); };
  put('--host', f.host);
  put('--port', f.port);
  put('--socket', f.socket);
  put('--backend', f.backend);
  put('--profile', f.profile);
  put('--config', f.config);
  put('--timeout', f.timeout);
  put('--memory', f.memory);
  put('--output-limit', f.outputLimit);
  put('--max-body', f.maxBody);
  for (const o of f.allowOrigin ?? []) put('--allow-origin', o);
  if (f.mcp === false) a.push('--no-mcp');
  return a;
}

/** What the daemon's pid file holds; written by the server itself once it listens. */
export interface PidRecord {
  pid: number;
  /** The TCP address, when the server listens on one. */
  url?: string;
  /** The unix socket, when the server listens on one. */
  socket?: string;
  startedAt: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .summary('serve the HTTP API (live streaming, OpenAPI at /openapi.json, MCP at /mcp)')
    .description(
      'Serve the HTTP API until interrupted. Every endpoint but /health needs "Authorization: Bearer KEY": the key is ' +
        'AGENTKERNEL_API_KEY when set, else the one saved in the config directory (generated and printed on first start).',
    );
  addServeOptions(cmd).addOption(new Option('--pid-file <path>', 'write {pid, url} here once listening').hideHelp());
  cmd.action(async (f: ServeFlags) => {
    try {
      await serve(f);
    } catch (e) {
      process.exit(reportError(e));
    }
  });
}

async function serve(f: ServeFlags): Promise<void> {
  const kernel = new AgentKernel({ configPath: f.config, overrides: overridesFrom(f), origin: 'http' });
  const key = loadOrCreateApiKey();
  const host = f.host ?? kernel.settings.server.host;
  const { startServer } = await import('../../api/http/server.js');
  const common = { kernel, apiKey: key.key, maxBodyBytes: f.maxBody, allowedOrigins: f.allowOrigin, mcp: f.mcp };
  const servers: RunningServer[] = [];
  const onSocket = f.socket ? await startServer({ ...common, socketPath: resolve(f.socket) }) : undefined;
  if (onSocket) servers.push(onSocket);
  const tcp = !f.socket || f.host !== undefined || f.port !== undefined
    ? await startServer({ ...common, host, port: f.port ?? kernel.settings.server.port })
    : undefined;
  if (tcp) servers.push(tcp);
  if (key.source === 'generated') note(`generated an API key, saved in ${key.path} (shown this once): ${key.key}`);
  else note(`API key: ${key.source === 'env' ? 'from AGENTKERNEL_API_KEY' : `in ${key.path}`}`);
  if (tcp && !['127.0.0.1', 'localhost', '::1'].includes(host)) note(`listening on ${host}, not only on loopback: anyone who can reach it and has the key can run code`);
  for (const server of servers) note(`listening on ${server.url}${f.mcp === false ? '' : ` (MCP at ${server.url}/mcp)`}`);
  if (f.pidFile) {
    const rec: PidRecord = { pid: process.pid, url: tcp?.url, socket: onSocket?.socketPath, startedAt: new Date().toISOString() };
    writeFileSync(f.pidFile, JSON.stringify(rec), { mode: 0o600 });
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    note(`${signal}: shutting down`);
    if (f.pidFile) removeOwnPidFile(f.pidFile);
    await Promise.race([Promise.all(servers.map((s) => s.close())), sleep(SHUTDOWN_GRACE_MS)]);
    await releaseKernel(kernel);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Release the kernel's pools before exiting, within a bounded time. The pending (ref'd) timer also keeps the event
 * loop alive while workers wind down, so the process cannot drift out before its exit code is set.
 */
export async function releaseKernel(kernel: AgentKernel): Promise<void> {
  await Promise.race([kernel.close().catch(() => undefined), sleep(SHUTDOWN_GRACE_MS)]);
}

/** Remove the pid file only while it still names this process (a newer server may have replaced it). */
function removeOwnPidFile(path: string): void {
  try {
    if ((JSON.parse(readFileSync(path, 'utf8')) as PidRecord).pid === process.pid) unlinkSync(path);
  } catch {
    // already gone or unreadable: nothing of ours to remove
  }
}
