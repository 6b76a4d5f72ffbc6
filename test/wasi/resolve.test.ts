// Property-based: whatever path the guest names, with `..`, `.`, and symlinks in and out, nothing resolves or
// opens outside the preopen.
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { RIGHTS } from '../../src/runtimes/wasi/constants.js';
import { Errno } from '../../src/runtimes/wasi/memory.js';
import { resolvePath, symlinkTargetInside } from '../../src/runtimes/wasi/resolve.js';
import { Driver, tempDir } from './harness.js';

/** parent/{secret, root/{a/{f, up->.., upup->../.., deep->up/up/a}, b/{abs->parent, in->../a, out->../../secret}, loop->loop}} */
function tree(t: Parameters<typeof tempDir>[0]) {
  const parent = realpathSync(tempDir(t));
  const root = join(parent, 'root');
  writeFileSync(join(parent, 'secret'), 'secret');
  mkdirSync(join(root, 'a'), { recursive: true });
  mkdirSync(join(root, 'b'));
  writeFileSync(join(root, 'a', 'f'), 'f');
  symlinkSync('..', join(root, 'a', 'up'));
  symlinkSync('../..', join(root, 'a', 'upup'));
  symlinkSync('up/up/a', join(root, 'a', 'deep'));
  symlinkSync(parent, join(root, 'b', 'abs'));
  symlinkSync('../a', join(root, 'b', 'in'));
  symlinkSync('../../secret', join(root, 'b', 'out'));
  symlinkSync('loop', join(root, 'loop'));
  return { parent, root };
}

function inodesUnder(dir: string, into = new Set<bigint>()): Set<bigint> {
  into.add(lstatSync(dir, { bigint: true }).ino);
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p, { bigint: true });
    into.add(st.ino);
    if (st.isDirectory()) inodesUnder(p, into);
  }
  return into;
}

const component = fc.constantFrom('a', 'b', 'f', 'up', 'upup', 'deep', 'abs', 'in', 'out', 'loop', '..', '.', '', 'secret', 'root', 'new');
const guestPath = fc.tuple(fc.boolean(), fc.array(component, { minLength: 1, maxLength: 8 })).map(([abs, parts]) => (abs ? '/' : '') + parts.join('/'));

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root + '/');
}

test('resolvePath never leaves the root', (t) => {
  const { root } = tree(t);
  fc.assert(
    fc.property(guestPath, fc.boolean(), fc.constantFrom<string[]>([], ['a'], ['b']), (path, follow, base) => {
      let host: string;
      try {
        host = resolvePath(root, base, path, follow).host;
      } catch (e) {
        if (e instanceof Errno) return; // refused: fine
        throw e;
      }
      assert.ok(inside(root, host), `${path} resolved to ${host}`);
      // every existing directory on the way is really inside, and so is a followed final target
      let existing = host;
      while (!lstatExists(existing)) existing = existing.slice(0, existing.lastIndexOf('/'));
      const st = lstatSync(existing);
      if (!st.isSymbolicLink()) assert.ok(inside(root, realpathSync(existing)), `${path} reaches ${realpathSync(existing)}`);
      else assert.equal(follow && existing === host, false, 'a followed final symlink must have been replaced');
    }),
    { numRuns: 2000 },
  );
});

function lstatExists(p: string): boolean {
  return lstatSync(p, { throwIfNoEntry: false }) !== undefined;
}

test('path_open through WASI only ever opens files inside the preopen', (t) => {
  const { root } = tree(t);
  const insideInodes = inodesUnder(root);
  const d = new Driver({ mounts: [{ hostPath: root, guestPath: '/r', readOnly: true }] });
  t.after(() => d.wasi.close());
  const st = d.alloc(64);
  fc.assert(
    fc.property(guestPath, fc.boolean(), (path, follow) => {
      const [e, fd] = d.open(3, path, { follow, rights: RIGHTS.FD_READ | RIGHTS.FD_FILESTAT_GET });
      if (e !== 0) return;
      try {
        assert.equal(d.call('fd_filestat_get', fd, st), 0);
        assert.ok(insideInodes.has(d.u64(st + 8)), `${path} opened an inode outside the preopen`);
      } finally {
        d.call('fd_close', fd);
      }
    }),
    { numRuns: 1500 },
  );
});

test('symlinkTargetInside agrees with a lexical walk', () => {
  assert.equal(symlinkTargetInside([], '..'), false);
  assert.equal(symlinkTargetInside(['a'], '..'), true);
  assert.equal(symlinkTargetInside(['a'], '../..'), false);
  assert.equal(symlinkTargetInside(['a'], './b/../../c'), true);
  assert.equal(symlinkTargetInside(['a'], '/a'), false);
  assert.equal(symlinkTargetInside([], ''), false);
  fc.assert(
    fc.property(fc.array(fc.constantFrom('x', '..', '.'), { maxLength: 10 }), fc.nat(3), (parts, depth) => {
      const parent = Array.from({ length: depth }, () => 'd');
      let level = depth;
      let ok = true;
      for (const p of parts) {
        if (p === '..') level--;
        else if (p === 'x') level++;
        if (level < 0) ok = false;
      }
      assert.equal(symlinkTargetInside(parent, parts.join('/') || '.'), ok);
    }),
  );
});
