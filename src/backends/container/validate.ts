/**
 * Validation of everything a caller hands to a container engine. The engine is driven through its CLI, so any
 * string that reaches argv must be unable to turn into a flag or into a second value of a compound flag
 * (`--mount a=b,c=d`, `-e K=V`): image references follow the registry grammar, paths are absolute and plain,
 * environment names are identifiers. Failures are ValidationErrors that name the offending value.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { Mount } from '../../core/types.js';

// The distribution reference grammar (the one docker and podman parse), written out piece by piece.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?)`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = '[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}';
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** An image reference such as `python:3.12-slim`, `registry:5000/team/app@sha256:…`; never starts with '-'. */
export function validateImageRef(ref: unknown): string {
  if (typeof ref !== 'string' || ref.length === 0 || ref.length > 512) {
    throw new ValidationError(`invalid image reference ${JSON.stringify(ref)}: expected a non-empty string`);
  }
  const m = REFERENCE_RE.exec(ref);
  // the name part is limited to 255 characters by the grammar's implementations
  if (!m || m[1].length > 255) {
    throw new ValidationError(
      `invalid image reference ${JSON.stringify(ref)}: expected NAME[:TAG][@DIGEST] with a lowercase name (e.g. debian:bookworm-slim)`,
      { image: ref },
    );
  }
  return ref;
}

const MAX_PATH = 4096;

/**
 * An absolute path inside the sandbox. `..` components are refused rather than resolved: they never name a
 * place the plain path would not, and refusing them keeps every path the engine sees in its simplest form.
 */
export function validateGuestPath(path: unknown, what = 'path'): string {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH) {
    throw new ValidationError(`invalid ${what} ${JSON.stringify(path)}: expected an absolute path inside the sandbox`);
  }
  if (path.includes('\0')) throw new ValidationError(`invalid ${what}: contains a NUL byte`);
  if (!path.startsWith('/')) {
    throw new ValidationError(`invalid ${what} ${JSON.stringify(path)}: must be absolute (start with '/')`, { path });
  }
  if (path.split('/').includes('..')) {
    throw new ValidationError(`invalid ${what} ${JSON.stringify(path)}: '..' is not allowed`, { path });
  }
  const norm = normalize(path);
  return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Environment for the guest: identifier names, values without NUL (argv cannot carry one). */
export function validateEnv(env: unknown): Record<string, string> {
  if (env === undefined || env === null) return {};
  if (typeof env !== 'object' || Array.isArray(env)) throw new ValidationError('env must be an object of NAME: value strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
    if (!ENV_NAME_RE.test(k)) throw new ValidationError(`invalid environment variable name ${JSON.stringify(k)}`, { name: k });
    if (typeof v !== 'string') throw new ValidationError(`environment variable ${k} must be a string`, { name: k });
    if (v.includes('\0')) throw new ValidationError(`environment variable ${k} contains a NUL byte`, { name: k });
    out[k] = v;
  }
  return out;
}

/** The command to run: a non-empty array of strings without NUL bytes. */
export function validateArgv(argv: unknown): string[] {
  if (!Array.isArray(argv) || argv.length === 0) throw new ValidationError('command must be a non-empty array of strings');
  for (const a of argv) {
    if (typeof a !== 'string') throw new ValidationError('command arguments must be strings');
    if (a.includes('\0')) throw new ValidationError('command arguments must not contain NUL bytes');
  }
  if (argv[0] === '') throw new ValidationError('command name must not be empty');
  return argv as string[];
}

// ',' separates --mount fields and '=' separates their keys from values: neither may appear in a path there.
const MOUNT_UNSAFE_RE = /[,=\0\n\r]/;

/** Host bind mounts: existing absolute host paths, absolute guest paths, nothing that could split a --mount flag. */
export function validateMounts(mounts: unknown): Mount[] {
  if (mounts === undefined || mounts === null) return [];
  if (!Array.isArray(mounts)) throw new ValidationError('mounts must be an array');
  return mounts.map((m: Partial<Mount>) => {
    if (!m || typeof m.hostPath !== 'string' || !isAbsolute(m.hostPath)) {
      throw new ValidationError(`mount host path must be absolute, got ${JSON.stringify(m?.hostPath)}`);
    }
    const guestPath = validateGuestPath(m.guestPath ?? m.hostPath, 'mount guest path');
    for (const p of [m.hostPath, guestPath]) {
      if (MOUNT_UNSAFE_RE.test(p)) throw new ValidationError(`mount path ${JSON.stringify(p)} contains ',', '=' or a control character`);
    }
    if (!existsSync(m.hostPath)) throw new ValidationError(`mount host path ${m.hostPath} does not exist`, { hostPath: m.hostPath });
    const st = statSync(m.hostPath);
    if (!st.isDirectory() && !st.isFile()) throw new ValidationError(`mount host path ${m.hostPath} is neither a directory nor a file`);
    return { hostPath: normalize(m.hostPath), guestPath, readOnly: m.readOnly !== false };
  });
}
