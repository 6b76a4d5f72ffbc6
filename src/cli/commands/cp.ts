/**
 * cp between the host and a sandbox, either direction, `NAME:/abs/path` naming the sandbox side (as docker cp does).
 * Directories are copied recursively through the backend's file API, so every backend with files support works.
 */
import type { Command } from 'commander';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, basename, posix } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { AgentKernel } from '../../service/kernel.js';
import { runDaemonAction } from '../action.js';

const SANDBOX_PATH = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62}):(\/.*)$/;

export function parseCpArg(s: string): { sandbox?: string; path: string } {
  const m = SANDBOX_PATH.exec(s);
  return m ? { sandbox: m[1]!, path: m[2]! } : { path: s };
}

async function toSandbox(k: AgentKernel, host: string, name: string, guest: string): Promise<number> {
  if (!existsSync(host)) throw new ValidationError(`no such file or directory: ${host}`);
  let n = 0;
  if (statSync(host).isDirectory()) {
    for (const e of readdirSync(host)) n += await toSandbox(k, join(host, e), name, posix.join(guest, e));
    return n;
  }
  await k.writeFile(name, guest, readFileSync(host));
  return 1;
}

async function fromSandbox(k: AgentKernel, name: string, guest: string, host: string): Promise<number> {
  const parent = posix.dirname(guest);
  const entry = (await k.listFiles(name, parent)).find((e) => e.name === posix.basename(guest));
  if (entry?.type === 'dir' || guest === '/') {
    mkdirSync(host, { recursive: true });
    let n = 0;
    for (const e of await k.listFiles(name, guest)) {
      if (e.type === 'file' || e.type === 'dir') n += await fromSandbox(k, name, posix.join(guest, e.name), join(host, e.name));
    }
    return n;
  }
  writeFileSync(host, await k.readFile(name, guest));
  return 1;
}

export function register(program: Command): void {
  program
    .command('cp')
    .summary('copy files between the host and a sandbox')
    .description('Copy files: `agentkernel cp ./local NAME:/workspace/x` or `agentkernel cp NAME:/workspace/x ./local`.')
    .argument('<src>', 'source: a host path or NAME:/path')
    .argument('<dst>', 'destination: a host path or NAME:/path')
    .action(async (src: string, dst: string) => {
      await runDaemonAction({}, async (k) => {
        const a = parseCpArg(src);
        const b = parseCpArg(dst);
        if (a.sandbox && b.sandbox) throw new ValidationError('copying between two sandboxes is not supported: copy through the host');
        if (!a.sandbox && !b.sandbox) throw new ValidationError('one side must be a sandbox path NAME:/path');
        if (b.sandbox) {
          // like cp: copying a file onto an existing directory puts it inside
          let guest = b.path;
          if (!statSync(a.path, { throwIfNoEntry: false })?.isDirectory()) {
            const entries = await k.listFiles(b.sandbox, guest).catch(() => undefined);
            if (entries) guest = posix.join(guest, basename(a.path));
          }
          await toSandbox(k, a.path, b.sandbox, guest);
        } else {
          let host = b.path;
          if (statSync(host, { throwIfNoEntry: false })?.isDirectory()) host = join(host, posix.basename(a.path));
          await fromSandbox(k, a.sandbox!, a.path, host);
        }
        return 0;
      });
    });
}
