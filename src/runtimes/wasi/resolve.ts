/**
 * Capability-based path resolution: the heart of the WASI filesystem sandbox. A guest path is resolved relative
 * to a directory descriptor, one component at a time, entirely in our own code: absolute paths, `..` above the
 * preopen root and symlinks whose target leaves the root are refused with ENOTCAPABLE. The result names a host
 * path whose every directory component was checked to be a real directory (not a symlink) inside the root, so the
 * caller can open it with O_NOFOLLOW.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { ERRNO } from './constants.js';
import { fail } from './memory.js';

/** Same bound as Linux's MAXSYMLINKS. */
const MAX_SYMLINK_HOPS = 40;

export interface Resolved {
  /** Components below the preopen root: never contains '', '.', '..' or a '/'. Empty = the root itself. */
  rel: string[];
  host: string;
  /** The path ended in '/' (or '.', '..'): the target must be a directory. */
  mustBeDir: boolean;
}

export function hostPath(root: string, rel: readonly string[]): string {
  if (rel.length === 0) return root;
  return (root.endsWith('/') ? root : root + '/') + rel.join('/');
}

function components(path: string): { parts: string[]; mustBeDir: boolean } {
  const raw = path.split('/');
  const last = raw[raw.length - 1];
  return { parts: raw.filter((c) => c !== '' && c !== '.'), mustBeDir: last === '' || last === '.' || last === '..' };
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // a non-directory used as a directory: the same answer the kernel gives
    if (code === 'ENOTDIR') fail(ERRNO.NOTDIR);
    throw e;
  }
}

/**
 * Resolve `path` from the directory `base` (components below `root`). With `followFinal`, a symlink in the last
 * component is followed too (its target checked the same way); without it the last component is taken as is.
 * A missing last component is fine (the caller may create it); a missing intermediate one is ENOENT.
 */
export function resolvePath(root: string, base: readonly string[], path: string, followFinal: boolean): Resolved {
  if (path.length === 0) fail(ERRNO.NOENT);
  if (path.startsWith('/')) fail(ERRNO.NOTCAPABLE);
  const first = components(path);
  const follow = followFinal || first.mustBeDir;
  const stack = [...base];
  // pending components, next one last (so symlink targets are spliced in by pushing)
  const work = first.parts.reverse();
  let hops = 0;
  while (work.length > 0) {
    const c = work.pop()!;
    if (c === '..') {
      if (stack.length === 0) fail(ERRNO.NOTCAPABLE);
      stack.pop();
      continue;
    }
    const isLast = work.length === 0;
    if (isLast && !follow) {
      stack.push(c);
      break;
    }
    const p = hostPath(root, [...stack, c]);
    const st = lstatOrUndefined(p);
    if (!st) {
      if (!isLast) fail(ERRNO.NOENT);
      stack.push(c);
      break;
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) fail(ERRNO.LOOP);
      const target = readlinkSync(p);
      if (target.length === 0) fail(ERRNO.NOENT);
      // an absolute target names a host path: it can never be inside the guest's capability
      if (target.startsWith('/')) fail(ERRNO.NOTCAPABLE);
      const t = components(target);
      // `link/` or a link whose target ends in '/' both require a directory at the end
      for (let i = t.parts.length - 1; i >= 0; i--) work.push(t.parts[i]!);
      continue;
    }
    if (!isLast && !st.isDirectory()) fail(ERRNO.NOTDIR);
    stack.push(c);
  }
  const host = hostPath(root, stack);
  if (first.mustBeDir) {
    const st = lstatOrUndefined(host);
    if (st && !st.isDirectory()) fail(ERRNO.NOTDIR);
  }
  return { rel: stack, host, mustBeDir: first.mustBeDir };
}

/**
 * Would a symlink created in directory `parent` (components below the root) with this target point inside the
 * root? Checked lexically at creation; following the link later is checked again by resolvePath.
 */
export function symlinkTargetInside(parent: readonly string[], target: string): boolean {
  if (target.length === 0 || target.startsWith('/')) return false;
  let depth = parent.length;
  for (const c of components(target).parts) {
    if (c === '..') {
      if (depth === 0) return false;
      depth--;
    } else depth++;
  }
  return true;
}
