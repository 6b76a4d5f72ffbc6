/**
 * The bubblewrap command line of a jailed worker: every namespace new (no network: the new network namespace
 * holds only a loopback nobody listens on), an empty root with only what node needs bound read-only, a private
 * /proc of the new PID namespace, a minimal /dev, a fresh /tmp, and the run's mounts bound at their host path.
 */
import type { Mount } from '../../../core/types.js';
import { bindSource } from './libs.js';

export interface BwrapSpec {
  /** Host files and directories bound read-only at the same path (node, its libraries, dist/, node_modules/...). */
  readOnly: string[];
  /** Host directories bound read-write at the same path (the snapshot cache, for the worker that makes it). */
  readWrite?: string[];
  /** The run's mounts, bound at their host path (read-only unless the mount is rw). */
  mounts?: Mount[];
  /** Environment of the worker: exactly this. */
  env: Record<string, string>;
  /** File descriptor (in bwrap's process) from which bwrap reads the seccomp program. */
  seccompFd?: number;
  /** The program and its arguments. */
  command: string[];
}

/** Paths a mount may not be bound over: the jail's own pseudo filesystems, and the root (it would replace everything). */
const RESERVED = ['/proc', '/dev', '/sys'];

export function isReservedPath(p: string): boolean {
  return p === '/' || RESERVED.some((r) => p === r || p.startsWith(`${r}/`));
}

export function bwrapArgs(spec: BwrapSpec): string[] {
  const a: string[] = [
    '--unshare-all',
    '--die-with-parent',
    // a new session: the guest cannot push input into the caller's terminal (TIOCSTI)
    '--new-session',
    '--cap-drop', 'ALL',
    '--hostname', 'agentkernel',
    '--clearenv',
  ];
  for (const [k, v] of Object.entries(spec.env)) a.push('--setenv', k, v);
  // the fresh /tmp first: binds below come after it, or a bound path under /tmp would be hidden by it
  a.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  for (const p of spec.readOnly) a.push('--ro-bind', bindSource(p), p);
  for (const p of spec.readWrite ?? []) a.push('--bind', bindSource(p), p);
  // parents before children, so that a nested mount is not hidden by its parent's bind
  const mounts = [...(spec.mounts ?? [])].sort((x, y) => x.hostPath.length - y.hostPath.length);
  for (const m of mounts) a.push(m.readOnly ? '--ro-bind' : '--bind', m.hostPath, m.hostPath);
  // bwrap's own root, /dev and /tmp are unbounded tmpfs that outlive a run: writable, a guest reaching the file
  // system (Pyodide's mountNodeFS) could fill host memory or leave files for the next run of the worker. Read-only
  // after the binds (their mount points are made in them); not recursive, so rw binds and /dev/null stay writable.
  a.push('--remount-ro', '/tmp', '--remount-ro', '/dev', '--remount-ro', '/');
  a.push('--chdir', '/');
  if (spec.seccompFd !== undefined) a.push('--seccomp', String(spec.seccompFd));
  a.push('--', ...spec.command);
  return a;
}
