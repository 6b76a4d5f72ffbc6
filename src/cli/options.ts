/**
 * Options shared by several commands, declared once: how they are spelled, parsed and validated.
 */
import { resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { Command, Option, InvalidArgumentError } from 'commander';
import type { Mount } from '../core/types.js';
import type { SettingsOverrides } from '../core/config.js';
import { AgentKernel } from '../service/kernel.js';

export function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer`);
    return n;
  };
}

/** `-e/--env K=V`, repeatable. */
export function parseEnvPair(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got '${v}'`);
  const key = v.slice(0, i);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new InvalidArgumentError(`invalid environment variable name '${key}'`);
  return { ...prev, [key]: v.slice(i + 1) };
}

/**
 * `--dir HOST[::GUEST][:rw|:ro]`, repeatable. Read-only unless `:rw`. The guest path defaults to the host path.
 * The host directory must exist: a typo must not silently mount nothing.
 */
export function parseDir(v: string, prev: Mount[] = []): Mount[] {
  let spec = v;
  let readOnly = true;
  const mode = /:(rw|ro)$/.exec(spec);
  if (mode) {
    readOnly = mode[1] === 'ro';
    spec = spec.slice(0, -3);
  }
  const [host, guest] = spec.split('::');
  if (!host) throw new InvalidArgumentError(`expected HOST[::GUEST][:rw], got '${v}'`);
  const hostPath = resolve(host);
  if (!existsSync(hostPath) || !statSync(hostPath).isDirectory()) throw new InvalidArgumentError(`not a directory: ${hostPath}`);
  const guestPath = guest ?? hostPath;
  if (!guestPath.startsWith('/')) throw new InvalidArgumentError(`guest path must be absolute, got '${guestPath}'`);
  return [...prev, { hostPath, guestPath, readOnly }];
}

/** Backend, profile, config and limits: accepted by every command that runs or creates something. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('-B, --backend <name>', 'backend to use (hyperlight, wasm, docker, podman, ...); default: automatic selection')
    .option('-p, --profile <name>', 'security profile: permissive, moderate (default), restrictive')
    .option('-c, --config <file>', 'agentkernel.toml to use (default: ./agentkernel.toml if present)')
    .option('--timeout <ms>', 'wall-clock limit in milliseconds (exit code 124 when hit)', positiveInt('--timeout'))
    .option('--memory <mb>', 'memory cap in MiB', positiveInt('--memory'))
    .option('--output-limit <bytes>', 'bytes kept of stdout and of stderr each', positiveInt('--output-limit'))
    .option('--no-network', 'deny network access (container and microVM backends; Wasm guests never have sockets)')
    .option('-e, --env <KEY=VALUE>', 'environment variable for the guest (repeatable); nothing else is passed', parseEnvPair)
    .option('-i, --interactive', 'pass this process\'s stdin to the guest')
    .option('--json', 'print the result as JSON instead of streaming output');
}

export function addDirOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--dir <HOST[::GUEST][:rw]>', 'make a host directory visible to the guest (read-only unless :rw; repeatable)').argParser(parseDir),
  );
}

export interface RunFlags {
  backend?: string;
  profile?: string;
  config?: string;
  timeout?: number;
  memory?: number;
  outputLimit?: number;
  network?: boolean;
  env?: Record<string, string>;
  interactive?: boolean;
  json?: boolean;
  dir?: Mount[];
  image?: string;
}

export function overridesFrom(f: RunFlags): SettingsOverrides {
  return {
    backend: f.backend,
    profile: f.profile,
    timeoutMs: f.timeout,
    memoryMb: f.memory,
    outputBytes: f.outputLimit,
    // commander sets network=true by default for --no-network; only an explicit --no-network overrides
    network: f.network === false ? false : undefined,
    image: f.image,
  };
}

export function kernelFrom(f: RunFlags): AgentKernel {
  return new AgentKernel({ configPath: f.config, overrides: overridesFrom(f), origin: 'cli' });
}

/** Read all of stdin (only when the user asked for it with -i or `-`). */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
