// The WASI filesystem calls, driven directly (as a guest would call them) against real temp directories.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRNO, RIGHTS } from '../../src/runtimes/wasi/constants.js';
import { Driver, tempDir } from './harness.js';

const CREAT = 1, DIRECTORY = 2, EXCL = 4, TRUNC = 8;
const READ = RIGHTS.FD_READ | RIGHTS.FD_SEEK | RIGHTS.FD_TELL | RIGHTS.FD_FILESTAT_GET;
const WRITE = RIGHTS.FD_WRITE | RIGHTS.FD_SEEK | RIGHTS.FD_TELL | RIGHTS.FD_FILESTAT_SET_SIZE;

function setup(t: Parameters<typeof tempDir>[0], readOnly = false) {
  const dir = tempDir(t);
  const d = new Driver({ mounts: [{ hostPath: dir, guestPath: '/sandbox', readOnly }] });
  t.after(() => d.wasi.close());
  return { dir, d };
}

test('preopens are described by fd_prestat_get / fd_prestat_dir_name, in mount order from fd 3', (t) => {
  const a = tempDir(t);
  const b = tempDir(t);
  const d = new Driver({ mounts: [{ hostPath: a, guestPath: '/a', readOnly: true }, { hostPath: b, guestPath: '/data/b', readOnly: false }] });
  t.after(() => d.wasi.close());
  for (const [fd, name] of [[3, '/a'], [4, '/data/b']] as const) {
    const p = d.alloc(8);
    assert.equal(d.call('fd_prestat_get', fd, p), 0);
    assert.equal(d.u32(p + 4), name.length);
    const buf = d.alloc(64);
    assert.equal(d.call('fd_prestat_dir_name', fd, buf, name.length), 0);
    assert.equal(Buffer.from(d.mem.subarray(buf, buf + name.length)).toString(), name);
    assert.equal(d.call('fd_prestat_dir_name', fd, buf, name.length - 1), ERRNO.NAMETOOLONG);
  }
  assert.equal(d.call('fd_prestat_get', 5, d.alloc(8)), ERRNO.BADF);
  assert.equal(d.call('fd_prestat_get', 1, d.alloc(8)), ERRNO.BADF);
});

test('create, write, seek, read back, append, truncate', (t) => {
  const { dir, d } = setup(t);
  const [e, fd] = d.open(3, 'f.txt', { oflags: CREAT | TRUNC, rights: READ | WRITE });
  assert.equal(e, 0);
  assert.deepEqual(d.write(fd, 'hello world'), [0, 11]);
  const off = d.alloc(8);
  assert.equal(d.call('fd_seek', fd, 6n, 0, off), 0);
  assert.equal(d.u64(off), 6n);
  assert.deepEqual(d.read(fd), [0, 'world']);
  assert.equal(d.call('fd_tell', fd, off), 0);
  assert.equal(d.u64(off), 11n);
  assert.equal(d.call('fd_seek', fd, -5n, 2, off), 0);
  assert.equal(d.u64(off), 6n);
  assert.equal(d.call('fd_seek', fd, -100n, 1, off), ERRNO.INVAL);
  assert.equal(d.call('fd_filestat_set_size', fd, 5n), 0);
  assert.equal(readFileSync(join(dir, 'f.txt'), 'utf8'), 'hello');
  assert.equal(d.call('fd_close', fd), 0);
  assert.equal(d.call('fd_close', fd), ERRNO.BADF);

  const [e2, app] = d.open(3, 'f.txt', { rights: WRITE, fdflags: 1 /* APPEND */ });
  assert.equal(e2, 0);
  d.write(app, '!');
  assert.equal(readFileSync(join(dir, 'f.txt'), 'utf8'), 'hello!');
  // O_EXCL on an existing file
  assert.equal(d.open(3, 'f.txt', { oflags: CREAT | EXCL, rights: WRITE })[0], ERRNO.EXIST);
});

test('pread/pwrite leave the file offset alone', (t) => {
  const { dir, d } = setup(t);
  writeFileSync(join(dir, 'p'), '0123456789');
  const [, fd] = d.open(3, 'p', { rights: READ | WRITE });
  const buf = d.alloc(16), iov = d.alloc(8), n = d.alloc(4);
  d.view.setUint32(iov, buf, true);
  d.view.setUint32(iov + 4, 3, true);
  assert.equal(d.call('fd_pread', fd, iov, 1, 4n, n), 0);
  assert.equal(Buffer.from(d.mem.subarray(buf, buf + d.u32(n))).toString(), '456');
  d.mem.set(Buffer.from('abc'), buf);
  assert.equal(d.call('fd_pwrite', fd, iov, 1, 8n, n), 0);
  assert.equal(readFileSync(join(dir, 'p'), 'utf8'), '01234567abc');
  assert.deepEqual(d.read(fd, 2), [0, '01']);
});

test('rights: an fd opened for reading cannot write; rights can be dropped, never gained', (t) => {
  const { dir, d } = setup(t);
  writeFileSync(join(dir, 'r'), 'data');
  const [, fd] = d.open(3, 'r', { rights: RIGHTS.FD_READ });
  assert.deepEqual(d.write(fd, 'x'), [ERRNO.NOTCAPABLE, 0]);
  assert.equal(d.call('fd_seek', fd, 0n, 0, d.alloc(8)), ERRNO.NOTCAPABLE);
  assert.equal(d.call('fd_fdstat_set_rights', fd, RIGHTS.FD_READ | RIGHTS.FD_WRITE, 0n), ERRNO.NOTCAPABLE);
  assert.equal(d.call('fd_fdstat_set_rights', fd, 0n, 0n), 0);
  assert.deepEqual(d.read(fd), [ERRNO.NOTCAPABLE, '']);
  const st = d.alloc(24);
  assert.equal(d.call('fd_fdstat_get', fd, st), 0);
  assert.equal(d.mem[st], 4); // regular file
  assert.equal(d.u64(st + 8), 0n);
  // a directory whose rights were dropped cannot open anything
  assert.equal(d.call('fd_fdstat_set_rights', 3, RIGHTS.FD_READDIR, 0n), 0);
  assert.equal(d.open(3, 'r')[0], ERRNO.NOTCAPABLE);
  assert.equal(readFileSync(join(dir, 'r'), 'utf8'), 'data');
});

test('standard streams: stdin reads, stdout/stderr write, no seeking', (t) => {
  const d = new Driver({ stdin: new TextEncoder().encode('abc') });
  t.after(() => d.wasi.close());
  assert.deepEqual(d.read(0, 2), [0, 'ab']);
  assert.deepEqual(d.read(0), [0, 'c']);
  assert.deepEqual(d.read(0), [0, '']);
  assert.deepEqual(d.write(1, 'out'), [0, 3]);
  assert.deepEqual(d.write(2, 'err'), [0, 3]);
  assert.deepEqual(d.write(0, 'x')[0], ERRNO.NOTCAPABLE);
  assert.equal(d.call('fd_seek', 1, 0n, 0, d.alloc(8)), ERRNO.SPIPE);
  assert.equal(d.out.stdoutText, 'out');
  assert.equal(d.out.stderrText, 'err');
  const st = d.alloc(24);
  assert.equal(d.call('fd_fdstat_get', 1, st), 0);
  assert.equal(d.mem[st], 0, 'streams are not character devices, so libc does not take them for ttys');
});

test('directories: create, list, rename, remove; unlink files', (t) => {
  const { dir, d } = setup(t);
  assert.equal(d.pathCall('path_create_directory', 3, 'a'), 0);
  assert.equal(d.pathCall('path_create_directory', 3, 'a'), ERRNO.EXIST);
  assert.equal(d.pathCall('path_create_directory', 3, 'a/b/c'), ERRNO.NOENT);
  writeFileSync(join(dir, 'a', 'x'), 'x');
  const [e, afd] = d.open(3, 'a', { oflags: DIRECTORY });
  assert.equal(e, 0);
  const [re, names] = d.readdir(afd);
  assert.equal(re, 0);
  assert.deepEqual(names.sort(), ['.', '..', 'x']);
  // paths relative to an opened subdirectory
  assert.equal(d.open(afd, 'x')[0], 0);
  assert.equal(d.open(afd, '../a/x')[0], 0);
  assert.equal(d.open(afd, '../../x')[0], ERRNO.NOTCAPABLE);
  const [o1, l1] = d.str('a/x');
  const [o2, l2] = d.str('y');
  assert.equal(d.call('path_rename', 3, o1, l1, 3, o2, l2), 0);
  assert.ok(existsSync(join(dir, 'y')));
  assert.equal(d.pathCall('path_remove_directory', 3, 'y'), ERRNO.NOTDIR);
  assert.equal(d.pathCall('path_unlink_file', 3, 'a'), ERRNO.ISDIR);
  assert.equal(d.pathCall('path_unlink_file', 3, 'y'), 0);
  assert.equal(d.pathCall('path_remove_directory', 3, 'a'), 0);
  assert.equal(d.pathCall('path_remove_directory', 3, '.'), ERRNO.BUSY, 'the preopen itself stays');
  assert.equal(existsSync(dir), true);
  assert.equal(d.readdir(d.open(3, 'y', { oflags: CREAT })[1])[0], ERRNO.NOTDIR);
});

test('symlinks: created only when they stay inside; readlink; not followed without the flag', (t) => {
  const { dir, d } = setup(t);
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'target'), 'T');
  const sym = (target: string, at: string) => {
    const [tp, tl] = d.str(target);
    const [np, nl] = d.str(at);
    return d.call('path_symlink', tp, tl, 3, np, nl);
  };
  assert.equal(sym('../target', 'sub/ok'), 0);
  assert.equal(readlinkSync(join(dir, 'sub', 'ok')), '../target');
  assert.equal(sym('../../etc/passwd', 'sub/bad'), ERRNO.NOTCAPABLE);
  assert.equal(sym('/etc/passwd', 'bad2'), ERRNO.NOTCAPABLE);
  assert.equal(sym('..', 'bad3'), ERRNO.NOTCAPABLE);
  assert.equal(existsSync(join(dir, 'bad2')) || existsSync(join(dir, 'sub', 'bad')), false);
  // readlink
  const [p, l] = d.str('sub/ok');
  const buf = d.alloc(64), used = d.alloc(4);
  assert.equal(d.call('path_readlink', 3, p, l, buf, 64, used), 0);
  assert.equal(Buffer.from(d.mem.subarray(buf, buf + d.u32(used))).toString(), '../target');
  // open through the link only when following
  assert.equal(d.open(3, 'sub/ok', { follow: true })[0], 0);
  assert.equal(d.open(3, 'sub/ok', { follow: false })[0], ERRNO.LOOP);
  // unlink removes the link, not the target
  assert.equal(d.pathCall('path_unlink_file', 3, 'sub/ok'), 0);
  assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'T');
  // symlink loops end with ELOOP
  symlinkSync('loop2', join(dir, 'loop1'));
  symlinkSync('loop1', join(dir, 'loop2'));
  assert.equal(d.open(3, 'loop1')[0], ERRNO.LOOP);
});

test('hard links inside a writable mount; never out of a read-only one', (t) => {
  const { dir, d } = setup(t);
  const ro = tempDir(t);
  writeFileSync(join(ro, 'ro-file'), 'ro');
  writeFileSync(join(dir, 'f'), 'f');
  const d2 = new Driver({ mounts: [{ hostPath: dir, guestPath: '/rw', readOnly: false }, { hostPath: ro, guestPath: '/ro', readOnly: true }] });
  t.after(() => d2.wasi.close());
  const link = (drv: Driver, fromFd: number, from: string, toFd: number, to: string) => {
    const [a, al] = drv.str(from);
    const [b, bl] = drv.str(to);
    return drv.call('path_link', fromFd, 0, a, al, toFd, b, bl);
  };
  assert.equal(link(d, 3, 'f', 3, 'g'), 0);
  assert.equal(lstatSync(join(dir, 'g')).nlink, 2);
  assert.equal(link(d2, 4, 'ro-file', 3, 'stolen'), ERRNO.ROFS);
  assert.equal(existsSync(join(dir, 'stolen')), false);
});

test('read-only mounts refuse every kind of change', (t) => {
  const { dir, d } = setup(t, true);
  writeFileSync(join(dir, 'f'), 'f');
  mkdirSync(join(dir, 'd'));
  assert.equal(d.open(3, 'f', { rights: RIGHTS.FD_READ })[0], 0, 'reading is fine');
  assert.equal(d.open(3, 'f', { rights: RIGHTS.FD_WRITE })[0], ERRNO.ROFS);
  assert.equal(d.open(3, 'f', { oflags: TRUNC, rights: RIGHTS.FD_READ })[0], ERRNO.ROFS);
  assert.equal(d.open(3, 'n', { oflags: CREAT, rights: RIGHTS.FD_READ })[0], ERRNO.ROFS);
  assert.equal(d.pathCall('path_create_directory', 3, 'x'), ERRNO.ROFS);
  assert.equal(d.pathCall('path_unlink_file', 3, 'f'), ERRNO.ROFS);
  assert.equal(d.pathCall('path_remove_directory', 3, 'd'), ERRNO.ROFS);
  const [tp, tl] = d.str('f');
  const [np, nl] = d.str('g');
  assert.equal(d.call('path_symlink', tp, tl, 3, np, nl), ERRNO.ROFS);
  assert.equal(d.call('path_rename', 3, tp, tl, 3, np, nl), ERRNO.ROFS);
  assert.equal(d.call('path_filestat_set_times', 3, 0, tp, tl, 0n, 0n, 2 | 8), ERRNO.ROFS);
  const [, fd] = d.open(3, 'f', { rights: RIGHTS.FD_READ | RIGHTS.FD_FILESTAT_SET_TIMES });
  assert.equal(d.call('fd_filestat_set_times', fd, 0n, 0n, 2), ERRNO.ROFS);
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'f');
  assert.equal(existsSync(join(dir, 'x')) || existsSync(join(dir, 'g')), false);
});

test('filestat and set_times', (t) => {
  const { dir, d } = setup(t);
  writeFileSync(join(dir, 'f'), '12345');
  const [p, l] = d.str('f');
  const st = d.alloc(64);
  assert.equal(d.call('path_filestat_get', 3, 1, p, l, st), 0);
  assert.equal(d.mem[st + 16], 4);
  assert.equal(d.u64(st + 32), 5n);
  const when = 1_600_000_000_000_000_000n; // ns
  assert.equal(d.call('path_filestat_set_times', 3, 1, p, l, when, when, 1 | 4), 0);
  assert.equal(Math.round(lstatSync(join(dir, 'f')).mtimeMs), 1_600_000_000_000);
  assert.equal(d.call('path_filestat_set_times', 3, 1, p, l, when, when, 1 | 2), ERRNO.INVAL);
  const [, fd] = d.open(3, 'f', { rights: RIGHTS.FD_FILESTAT_GET | RIGHTS.FD_READ });
  assert.equal(d.call('fd_filestat_get', fd, st), 0);
  assert.equal(d.u64(st + 32), 5n);
  assert.equal(d.call('fd_filestat_get', 3, st), 0);
  assert.equal(d.mem[st + 16], 3);
});

test('paths: trailing slash on a file is ENOTDIR, NUL is EINVAL, empty is ENOENT', (t) => {
  const { dir, d } = setup(t);
  writeFileSync(join(dir, 'f'), '');
  assert.equal(d.open(3, 'f/')[0], ERRNO.NOTDIR);
  assert.equal(d.open(3, 'f/x')[0], ERRNO.NOTDIR);
  assert.equal(d.open(3, 'f\0x')[0], ERRNO.INVAL);
  assert.equal(d.open(3, '')[0], ERRNO.NOENT);
  assert.equal(d.open(3, 'missing/x')[0], ERRNO.NOENT);
  assert.equal(d.open(1, 'f')[0], ERRNO.BADF, 'stdout is not a directory');
});

test('fd_renumber moves a descriptor; maxOpenFiles caps path_open with EMFILE', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'f'), 'data');
  const d = new Driver({ mounts: [{ hostPath: dir, guestPath: '/', readOnly: true }], maxOpenFiles: 2 });
  t.after(() => d.wasi.close());
  const [, a] = d.open(3, 'f', { rights: RIGHTS.FD_READ });
  const [, b] = d.open(3, 'f', { rights: RIGHTS.FD_READ });
  assert.equal(d.open(3, 'f', { rights: RIGHTS.FD_READ })[0], ERRNO.MFILE);
  assert.equal(d.call('fd_renumber', a, b), 0);
  assert.deepEqual(d.read(b), [0, 'data']);
  assert.equal(d.call('fd_close', a), ERRNO.BADF);
  // closing one frees a slot
  assert.equal(d.open(3, 'f', { rights: RIGHTS.FD_READ })[0], 0);
  assert.equal(d.call('fd_renumber', 99, b), ERRNO.BADF);
});

test('close() releases every host descriptor and is idempotent', (t) => {
  const { dir, d } = setup(t);
  writeFileSync(join(dir, 'f'), '');
  d.open(3, 'f');
  d.wasi.close();
  d.wasi.close();
  assert.equal(d.open(3, 'f')[0], ERRNO.BADF);
});

test('a mount that does not exist is a NotFoundError', () => {
  assert.throws(() => new Driver({ mounts: [{ hostPath: '/nonexistent/ak-test', guestPath: '/x', readOnly: true }] }), { code: 'NOT_FOUND' });
});
