/**
 * A tiny OCI bundle for the runtime references (crun, runc, runsc): a root filesystem holding only a static busybox,
 * and the runtime's own default spec with the process set to `busybox echo hello`. Built in a temp dir; nothing is
 * downloaded.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { complaint, runProcess } from './proc.js';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/usr/local/bin/busybox'];

export function findBusybox(): string | undefined {
  return BUSYBOX_CANDIDATES.find((p) => existsSync(p));
}

/** Returns the bundle directory, or a reason why none could be made. */
export async function ociBundle(runtime: string, dir: string, argv: string[]): Promise<{ bundle: string } | { error: string }> {
  const busybox = findBusybox();
  if (!busybox) return { error: 'busybox is not installed (needed for the bundle\'s root filesystem)' };
  mkdirSync(join(dir, 'rootfs', 'bin'), { recursive: true });
  copyFileSync(busybox, join(dir, 'rootfs', 'bin', 'busybox'));
  // the runtime's own default spec: valid for its version by construction
  const spec = await runProcess(runtime, ['spec'], { cwd: dir, timeoutMs: 10_000 });
  if (spec.exitCode !== 0 || !existsSync(join(dir, 'config.json'))) {
    return { error: `'${runtime} spec' failed: ${complaint(spec.stderr) || `exit code ${spec.exitCode}`}` };
  }
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
    process: { args: string[]; terminal?: boolean };
    root: { path: string; readonly?: boolean };
    hostname?: string;
  };
  config.process.args = ['/bin/busybox', ...argv];
  config.process.terminal = false;
  config.root = { path: 'rootfs', readonly: true };
  config.hostname = 'bench';
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return { bundle: dir };
}
