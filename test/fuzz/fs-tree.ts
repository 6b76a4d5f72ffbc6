/**
 * The filesystem a fuzzed guest is let loose on, and the invariant checked after every case: a temp directory
 * holding a writable preopen `root/` (with symlinks that point up, out, in and around), a read-only preopen
 * `rodir/`, and files outside both that carry a marker. Nothing outside `root/` may change, and the marker
 * must never reach the guest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mount } from '../../src/core/types.js';

export interface FuzzTree {
  parent: string;
  root: string;
  rodir: string;
  /** Bytes that only files outside the writable preopen hold. */
  marker: Buffer;
  /** Inodes outside both preopens (the parent itself included). */
  outsideInodes: Set<bigint>;
  mounts: Mount[];
  /** Rebuilds root/ as it was, if a case changed it. */
  reset(): void;
  /** Everything outside root/, for comparing before and after. */
  snapshot(): string;
  remove(): void;
}

function populateRoot(root: string, parent: string): void {
  mkdirSync(join(root, 'a'), { recursive: true });
  mkdirSync(join(root, 'b'));
  writeFileSync(join(root, 'a', 'f'), 'inside');
  symlinkSync('..', join(root, 'a', 'up'));
  symlinkSync('../..', join(root, 'a', 'upup'));
  symlinkSync('up/up/a', join(root, 'a', 'deep'));
  symlinkSync(parent, join(root, 'b', 'abs'));
  symlinkSync('../a', join(root, 'b', 'in'));
  symlinkSync('../../secret', join(root, 'b', 'out'));
  symlinkSync('loop', join(root, 'loop'));
}

function describe(dir: string, rel: string, skip: string | undefined, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name === skip) continue;
    const p = join(dir, name);
    const st = lstatSync(p, { bigint: true });
    const r = `${rel}/${name}`;
    const meta = `${st.mode} ${st.nlink} ${st.size} ${st.mtimeNs} ${st.ino}`;
    if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(p)} ${meta}`);
    else if (st.isDirectory()) {
      out.push(`${r}/ ${meta}`);
      describe(p, r, undefined, out);
    } else out.push(`${r} ${createHash('sha256').update(readFileSync(p)).digest('hex')} ${meta}`);
  }
}

/** tmpfs when there is one: guests call fd_sync a lot, and an fsync to disk costs milliseconds. */
function scratchBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

export function makeTree(): FuzzTree {
  const parent = realpathSync(mkdtempSync(join(scratchBase(), 'ak-fuzz-')));
  const root = join(parent, 'root');
  const rodir = join(parent, 'rodir');
  const marker = Buffer.from(`OUTSIDE-${randomBytes(12).toString('hex')}`);
  writeFileSync(join(parent, 'secret'), marker);
  mkdirSync(join(parent, 'outdir'));
  writeFileSync(join(parent, 'outdir', 'f'), marker);
  mkdirSync(rodir);
  writeFileSync(join(rodir, 'g'), 'read-only');
  mkdirSync(join(rodir, 'sub'));
  symlinkSync('../root', join(rodir, 'link'));
  symlinkSync('../secret', join(rodir, 'secret'));
  mkdirSync(root);
  populateRoot(root, parent);
  const rootState = (): string => {
    const out: string[] = [];
    describe(root, '', undefined, out);
    return out.join('\n');
  };
  const pristine = rootState();
  const outsideInodes = new Set<bigint>();
  for (const p of [parent, join(parent, 'secret'), join(parent, 'outdir'), join(parent, 'outdir', 'f')]) outsideInodes.add(lstatSync(p, { bigint: true }).ino);
  return {
    parent, root, rodir, marker, outsideInodes,
    mounts: [{ hostPath: root, guestPath: '/r', readOnly: false }, { hostPath: rodir, guestPath: '/ro', readOnly: true }],
    reset() {
      if (rootState() === pristine) return;
      for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
      populateRoot(root, parent);
    },
    snapshot() {
      const out: string[] = [];
      describe(parent, '', 'root', out);
      return out.join('\n');
    },
    remove() {
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
