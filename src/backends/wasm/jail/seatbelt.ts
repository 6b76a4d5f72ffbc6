/**
 * The macOS jail: a Seatbelt profile for `sandbox-exec -p PROFILE node ...`. Deny by default; allow reading what
 * node needs (the system libraries, the node binary, the package's dist/ and node_modules/, the snapshot cache)
 * and the run's mounts; allow writing only to read-write mounts and the private temporary directory; no
 * network at all, no process creation beyond node itself.
 *
 * This profile cannot be exercised on Linux; its text is unit-tested, and a macOS run that sandbox-exec refuses
 * falls back to an unjailed worker with the layer reported missing.
 */
import type { Mount } from '../../../core/types.js';

export interface SeatbeltSpec {
  node: string;
  /** Read-only paths (dist/, node_modules/, the snapshot cache...). */
  readOnly: string[];
  readWrite?: string[];
  mounts?: Mount[];
  /** A private temporary directory for the worker. */
  tmpDir?: string;
}

/** Quote a path for SBPL (a Scheme-like string literal). */
export function sbplString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** System locations node and libSystem read on every start. */
const SYSTEM_READ = ['/usr/lib', '/usr/share/icu', '/System/Library', '/private/var/db/timezone', '/private/etc/localtime', '/dev'];

export function seatbeltProfile(spec: SeatbeltSpec): string {
  const sub = (p: string): string => `(subpath ${sbplString(p)})`;
  const readable = [...SYSTEM_READ, ...spec.readOnly, ...(spec.readWrite ?? []), ...(spec.mounts ?? []).map((m) => m.hostPath)];
  if (spec.tmpDir) readable.push(spec.tmpDir);
  const writable = [...(spec.readWrite ?? []), ...(spec.mounts ?? []).filter((m) => !m.readOnly).map((m) => m.hostPath)];
  if (spec.tmpDir) writable.push(spec.tmpDir);
  const lines = [
    '(version 1)',
    '(deny default)',
    // node itself, and nothing else, may be executed
    `(allow process-exec (literal ${sbplString(spec.node)}))`,
    `(allow file-read* (literal ${sbplString(spec.node)}))`,
    '(allow file-read-metadata)',
    `(allow file-read* ${readable.map(sub).join(' ')})`,
    ...(writable.length > 0 ? [`(allow file-write* ${writable.map(sub).join(' ')})`] : []),
    '(allow file-write-data (literal "/dev/null"))',
    '(allow sysctl-read)',
    '(allow signal (target self))',
    '(allow ipc-posix-shm-read* ipc-posix-shm-write-data)',
    '(allow mach-lookup (global-name "com.apple.system.notification_center"))',
    '(deny network*)',
    '(deny process-fork)',
  ];
  return `${lines.join('\n')}\n`;
}
