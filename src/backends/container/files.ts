/**
 * Files of a running sandbox, through `exec` of tiny POSIX shell scripts (sh, cat, stat, rm: present in every
 * image with a shell). Going through the guest rather than `ENGINE cp` means every access happens as the sandbox's
 * own user, under its read-only root and inside its tmpfs mounts, and symbolic links resolve inside the container
 * only: the host's filesystem is never on the path.
 */
import { AgentKernelError, ConflictError, LimitError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { FileEntry } from '../../core/types.js';
import { lastLine, type ContainerEngine } from './engine.js';
import { execInContainer } from './exec.js';
import { validateGuestPath } from './validate.js';

export interface FileTarget {
  engine: ContainerEngine;
  container: string;
  runtime?: string;
}

/** Largest file readFile returns (it is held in memory whole). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
const FILE_OP_TIMEOUT_MS = 120_000;

// Exit codes the scripts use to report conditions without parsing localised messages.
const NOT_FOUND = 2;
const IS_DIR = 3;
const NOT_DIR = 4;

const READ = `if [ ! -e "$1" ]; then exit ${NOT_FOUND}; fi; if [ -d "$1" ]; then exit ${IS_DIR}; fi; exec cat -- "$1"`;
const WRITE = `if [ -d "$1" ]; then exit ${IS_DIR}; fi; d=$(dirname -- "$1") && mkdir -p -- "$d" && exec cat > "$1"`;
const REMOVE = `if [ ! -e "$1" ] && [ ! -L "$1" ]; then exit ${NOT_FOUND}; fi; exec rm -rf -- "$1"`;
// One record per entry: TYPE/NAME NUL (a name cannot hold '/'), an empty record, then one size per line.
const LIST =
  `if [ ! -e "$1" ]; then exit ${NOT_FOUND}; fi; if [ ! -d "$1" ]; then exit ${NOT_DIR}; fi; cd -- "$1" || exit 1; set --; ` +
  `for f in * .[!.]* ..?*; do if [ -e "$f" ] || [ -L "$f" ]; then set -- "$@" "$f"; fi; done; ` +
  `[ $# -eq 0 ] && exit 0; ` +
  `for f in "$@"; do if [ -L "$f" ]; then t=symlink; elif [ -d "$f" ]; then t=dir; elif [ -f "$f" ]; then t=file; else t=other; fi; printf '%s/%s\\0' "$t" "$f"; done; ` +
  `printf '\\0'; exec stat -c %s -- "$@"`;

async function script(t: FileTarget, body: string, path: string, opts: { stdin?: Uint8Array | string; outputBytes?: number } = {}) {
  return execInContainer(t.engine, {
    container: t.container,
    runtime: t.runtime,
    argv: ['/bin/sh', '-c', body, 'sh', path],
    stdin: opts.stdin,
    timeoutMs: FILE_OP_TIMEOUT_MS,
    outputBytes: opts.outputBytes ?? 1024 * 1024,
  });
}

/** A failure the guest reported in its own words (read-only root, permissions, space). */
function guestFailure(op: string, path: string, exitCode: number, stderr: string): AgentKernelError {
  const why = lastLine(stderr);
  if (/read-only file system/i.test(why)) {
    return new ConflictError(`cannot ${op} ${path}: the sandbox's root filesystem is read-only (write under /tmp instead)`, { path });
  }
  if (/permission denied/i.test(why)) return new ConflictError(`cannot ${op} ${path}: permission denied for the sandbox's user`, { path });
  if (exitCode === 124) return new AgentKernelError('TIMEOUT', `${op} ${path} did not finish in ${FILE_OP_TIMEOUT_MS / 1000} s`, { path });
  return new AgentKernelError('INTERNAL', `cannot ${op} ${path}: ${why || `exit ${exitCode}`}`, { path, exitCode });
}

export async function readFile(t: FileTarget, path: string): Promise<Uint8Array> {
  const p = validateGuestPath(path);
  const r = await script(t, READ, p, { outputBytes: MAX_FILE_BYTES + 1 });
  if (r.exitCode === NOT_FOUND) throw new NotFoundError(`no such file in the sandbox: ${p}`, { path: p });
  if (r.exitCode === IS_DIR) throw new ValidationError(`${p} is a directory; use listFiles`, { path: p });
  if (r.exitCode !== 0) throw guestFailure('read', p, r.exitCode, r.stderr.text());
  if (r.stdout.truncated) throw new LimitError(`${p} is larger than ${MAX_FILE_BYTES} bytes`, { path: p, limit: MAX_FILE_BYTES });
  return new Uint8Array(r.stdout.bytes());
}

export async function writeFile(t: FileTarget, path: string, data: Uint8Array | string): Promise<void> {
  const p = validateGuestPath(path);
  if (p === '/') throw new ValidationError('cannot write to /');
  const r = await script(t, WRITE, p, { stdin: data });
  if (r.exitCode === IS_DIR) throw new ValidationError(`${p} is a directory`, { path: p });
  if (r.exitCode !== 0) throw guestFailure('write', p, r.exitCode, r.stderr.text());
}

export async function removeFile(t: FileTarget, path: string): Promise<void> {
  const p = validateGuestPath(path);
  if (p === '/') throw new ValidationError('refusing to remove /');
  const r = await script(t, REMOVE, p);
  if (r.exitCode === NOT_FOUND) throw new NotFoundError(`no such file in the sandbox: ${p}`, { path: p });
  if (r.exitCode !== 0) throw guestFailure('remove', p, r.exitCode, r.stderr.text());
}

export async function listFiles(t: FileTarget, path: string): Promise<FileEntry[]> {
  const p = validateGuestPath(path);
  const r = await script(t, LIST, p, { outputBytes: 16 * 1024 * 1024 });
  if (r.exitCode === NOT_FOUND) throw new NotFoundError(`no such directory in the sandbox: ${p}`, { path: p });
  if (r.exitCode === NOT_DIR) throw new ValidationError(`${p} is not a directory`, { path: p });
  if (r.exitCode !== 0) throw guestFailure('list', p, r.exitCode, r.stderr.text());
  return parseListing(r.stdout.bytes());
}

export function parseListing(out: Buffer): FileEntry[] {
  if (out.length === 0) return [];
  const end = out.indexOf(Buffer.from([0, 0]));
  if (end < 0) throw new AgentKernelError('INTERNAL', 'unexpected listing output from the sandbox');
  const records = out.subarray(0, end).toString('utf8').split('\0');
  const sizes = out.subarray(end + 2).toString('utf8').split('\n').filter(Boolean).map(Number);
  return records
    .map((rec, i) => {
      const slash = rec.indexOf('/');
      const type = rec.slice(0, slash) as FileEntry['type'];
      const size = sizes[i];
      return { name: rec.slice(slash + 1), type, size: Number.isFinite(size) ? size : 0 };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
