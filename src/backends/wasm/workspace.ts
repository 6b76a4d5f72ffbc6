/**
 * The files of a persistent wasm sandbox: a host directory that its runs see read-write at /workspace. The host
 * reads and writes it directly, so every guest path is checked strictly: it must name something under
 * /workspace, may not contain `..`, and may not pass through a symlink that leads outside (guest code can
 * plant symlinks). The last component is opened with O_NOFOLLOW, so a link swapped in after the check fails.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { FileEntry } from '../../core/types.js';

export const WORKSPACE = '/workspace';

/** The path below /workspace as components; '' components never appear. */
export function workspaceComponents(guestPath: string): string[] {
  if (typeof guestPath !== 'string' || guestPath.includes('\0')) throw new ValidationError('invalid path');
  let p = guestPath;
  if (p === WORKSPACE || p.startsWith(`${WORKSPACE}/`)) p = p.slice(WORKSPACE.length);
  else if (p.startsWith('/')) {
    throw new ValidationError(`path ${guestPath} is outside ${WORKSPACE}: a sandbox's files live under ${WORKSPACE}`, { path: guestPath });
  }
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new ValidationError(`path ${guestPath} contains '..'`, { path: guestPath });
  return parts;
}

function within(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function notFound(guestPath: string): NotFoundError {
  return new NotFoundError(`no such file or directory: ${guestPath}`, { path: guestPath });
}

export class Workspace {
  constructor(readonly root: string) {}

  private async realRoot(): Promise<string> {
    return realpath(this.root);
  }

  /** Host path of an existing entry, following links only while they stay inside. */
  private async existing(guestPath: string): Promise<string> {
    const host = join(this.root, ...workspaceComponents(guestPath));
    let real: string;
    try {
      real = await realpath(host);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') throw notFound(guestPath);
      throw e;
    }
    if (!within(await this.realRoot(), real)) throw new ValidationError(`path ${guestPath} leads outside ${WORKSPACE}`, { path: guestPath });
    return real;
  }

  async read(guestPath: string): Promise<Uint8Array> {
    const real = await this.existing(guestPath);
    const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ELOOP') throw new ValidationError(`path ${guestPath} changed to a symlink`, { path: guestPath });
      throw e;
    });
    try {
      if (!(await fh.stat()).isFile()) throw new ValidationError(`${guestPath} is not a regular file`, { path: guestPath });
      return new Uint8Array(await fh.readFile());
    } finally {
      await fh.close();
    }
  }

  async write(guestPath: string, data: Uint8Array | string): Promise<void> {
    const parts = workspaceComponents(guestPath);
    if (parts.length === 0) throw new ValidationError(`cannot write to ${WORKSPACE} itself`);
    const root = await this.realRoot();
    const realParent = await this.makeParents(root, parts.slice(0, -1), guestPath);
    const target = join(realParent, parts[parts.length - 1]);
    const fh = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644).catch(
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ELOOP') throw new ValidationError(`path ${guestPath} is a symlink; write to its target instead`, { path: guestPath });
        if (e.code === 'EISDIR') throw new ValidationError(`${guestPath} is a directory`, { path: guestPath });
        throw e;
      },
    );
    try {
      await fh.writeFile(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    } finally {
      await fh.close();
    }
  }

  /**
   * Create the missing parent directories below the deepest existing one, after checking where that one really
   * is (a symlinked parent must not make mkdir create directories outside); returns the parent's real path.
   */
  private async makeParents(root: string, dirs: string[], guestPath: string): Promise<string> {
    let n = dirs.length;
    let base: string | undefined;
    for (; n >= 0; n--) {
      try {
        base = await realpath(join(root, ...dirs.slice(0, n)));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new ValidationError(`a parent of ${guestPath} is not a directory`, { path: guestPath });
        }
      }
    }
    const outside = (): ValidationError => new ValidationError(`path ${guestPath} leads outside ${WORKSPACE}`, { path: guestPath });
    if (base === undefined || !within(root, base)) throw outside();
    if (n === dirs.length) {
      if (!(await stat(base)).isDirectory()) throw new ValidationError(`a parent of ${guestPath} is not a directory`, { path: guestPath });
      return base;
    }
    const parent = join(base, ...dirs.slice(n));
    await mkdir(parent, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST' || e.code === 'ENOTDIR') throw new ValidationError(`a parent of ${guestPath} is not a directory`, { path: guestPath });
      throw e;
    });
    const real = await realpath(parent);
    if (!within(root, real)) throw outside();
    return real;
  }

  async list(guestPath: string): Promise<FileEntry[]> {
    const real = await this.existing(guestPath);
    if (!(await stat(real)).isDirectory()) throw new ValidationError(`${guestPath} is not a directory`, { path: guestPath });
    const entries = await readdir(real, { withFileTypes: true });
    const out: FileEntry[] = [];
    for (const e of entries) {
      const st = await lstat(join(real, e.name)).catch(() => undefined);
      if (!st) continue;
      const type: FileEntry['type'] = e.isSymbolicLink() ? 'symlink' : e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other';
      out.push({ name: e.name, type, size: type === 'file' ? st.size : 0 });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async remove(guestPath: string): Promise<void> {
    const parts = workspaceComponents(guestPath);
    if (parts.length === 0) throw new ValidationError(`cannot remove ${WORKSPACE} itself`);
    const root = await this.realRoot();
    // the parent must be inside; the entry itself is removed as it is (a symlink is removed, not its target)
    let realParent: string;
    try {
      realParent = await realpath(join(root, ...parts.slice(0, -1)));
    } catch {
      throw notFound(guestPath);
    }
    if (!within(root, realParent)) throw new ValidationError(`path ${guestPath} leads outside ${WORKSPACE}`, { path: guestPath });
    const target = join(realParent, parts[parts.length - 1]);
    try {
      await lstat(target);
    } catch {
      throw notFound(guestPath);
    }
    await rm(target, { recursive: true, force: true });
  }
}
