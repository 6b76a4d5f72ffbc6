/**
 * The jail's generated pieces, checked without starting anything: the seccomp program (run through a BPF
 * evaluator for both architectures), bubblewrap's command line, the Seatbelt profile, ldd parsing, mount keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSeccompFilter, decodeFilter, deniedSyscalls, evaluateFilter, SECCOMP, syscallNumber, type SeccompArch } from '../../src/backends/wasm/jail/seccomp.js';
import { bwrapArgs, isReservedPath } from '../../src/backends/wasm/jail/bwrap.js';
import { seatbeltProfile, sbplString } from '../../src/backends/wasm/jail/seatbelt.js';
import { parseLdd } from '../../src/backends/wasm/jail/libs.js';
import { prlimitArgs, DEFAULT_RLIMITS } from '../../src/backends/wasm/jail/rlimits.js';
import { mountKey } from '../../src/backends/wasm/pool.js';
import { decodeWorkerArgs, encodeWorkerArgs } from '../../src/backends/wasm/worker/protocol.js';
import { workspaceComponents } from '../../src/backends/wasm/workspace.js';
import { ValidationError } from '../../src/core/errors.js';

const EPERM = SECCOMP.RET_ERRNO | SECCOMP.EPERM;
const ENOSYS = SECCOMP.RET_ERRNO | SECCOMP.ENOSYS;

for (const arch of ['x64', 'arm64'] as SeccompArch[]) {
  test(`seccomp (${arch}): denied calls get EPERM, others pass`, () => {
    const f = buildSeccompFilter(arch);
    assert.equal(f.length % 8, 0);
    const A = SECCOMP.AUDIT_ARCH[arch];
    for (const name of deniedSyscalls(arch)) {
      assert.equal(evaluateFilter(f, { arch: A, nr: syscallNumber(name, arch)! }), EPERM, name);
    }
    // read, write, mmap, futex (x64 numbers 0, 1, 9, 202; arm64 63, 64, 222, 98)
    const allowed = arch === 'x64' ? [0, 1, 9, 202] : [63, 64, 222, 98];
    for (const nr of allowed) assert.equal(evaluateFilter(f, { arch: A, nr }), SECCOMP.RET_ALLOW, `nr ${nr}`);
  });

  test(`seccomp (${arch}): sockets only AF_UNIX; clone only threads; clone3 ENOSYS; foreign ABI killed`, () => {
    const f = buildSeccompFilter(arch);
    const A = SECCOMP.AUDIT_ARCH[arch];
    const socket = SECCOMP.SYSCALL.socket[arch];
    assert.equal(evaluateFilter(f, { arch: A, nr: socket, args: [SECCOMP.AF_UNIX] }), SECCOMP.RET_ALLOW);
    for (const family of [2, 10, 16, 17]) assert.equal(evaluateFilter(f, { arch: A, nr: socket, args: [family] }), EPERM, `AF ${family}`);
    const clone = SECCOMP.SYSCALL.clone[arch];
    const threadFlags = 0x003d0f00; // what glibc's pthread_create passes
    assert.equal(evaluateFilter(f, { arch: A, nr: clone, args: [threadFlags] }), SECCOMP.RET_ALLOW);
    assert.equal(evaluateFilter(f, { arch: A, nr: clone, args: [0x11] }), EPERM, 'fork-like clone (SIGCHLD)');
    assert.equal(evaluateFilter(f, { arch: A, nr: clone, args: [threadFlags | 0x10000000] }), EPERM, 'CLONE_NEWUSER');
    assert.equal(evaluateFilter(f, { arch: A, nr: SECCOMP.SYSCALL.clone3[arch] }), ENOSYS);
    assert.equal(evaluateFilter(f, { arch: 0x40000003, nr: 1 }), SECCOMP.RET_KILL_PROCESS, 'i386 ABI');
  });
}

test('seccomp (x64): x32 system calls are refused', () => {
  const f = buildSeccompFilter('x64');
  assert.equal(evaluateFilter(f, { arch: SECCOMP.AUDIT_ARCH.x64, nr: 0x40000000 + 1 }), EPERM);
});

test('seccomp: program is well formed (every jump lands inside, ends in a return)', () => {
  const prog = decodeFilter(buildSeccompFilter('x64'));
  prog.forEach((i, pc) => {
    if ((i.code & 0x07) === 0x05) {
      assert.ok(pc + 1 + i.jt < prog.length && pc + 1 + i.jf < prog.length, `jump at ${pc}`);
    }
  });
  assert.equal(prog[prog.length - 1].code, 0x06);
  assert.ok(deniedSyscalls('x64').includes('ptrace') && deniedSyscalls('arm64').includes('bpf'));
  assert.ok(!deniedSyscalls('arm64').includes('iopl'), 'arm64 has no iopl');
});

test('bwrap: namespaces, clean env, /tmp before binds, mounts last with their mode, tmpfs read-only', () => {
  const a = bwrapArgs({
    readOnly: ['/usr/bin/node'],
    env: { A: '1' },
    mounts: [
      { hostPath: '/data/in/sub', guestPath: '/x', readOnly: false },
      { hostPath: '/data/in', guestPath: '/in', readOnly: true },
    ],
    seccompFd: 4,
    command: ['/usr/bin/node', 'w.js'],
  });
  for (const flag of ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv']) assert.ok(a.includes(flag), flag);
  assert.deepEqual(a.slice(a.indexOf('--setenv'), a.indexOf('--setenv') + 3), ['--setenv', 'A', '1']);
  assert.ok(a.indexOf('--tmpfs') < a.indexOf('--ro-bind'), '/tmp must not hide binds below it');
  const ro = a.lastIndexOf('--ro-bind');
  assert.deepEqual(a.slice(ro, ro + 3), ['--ro-bind', '/data/in', '/data/in']);
  const rw = a.indexOf('--bind');
  assert.ok(rw > ro, 'a nested mount comes after its parent');
  assert.deepEqual(a.slice(rw, rw + 3), ['--bind', '/data/in/sub', '/data/in/sub']);
  assert.deepEqual(a.slice(a.indexOf('--seccomp'), a.indexOf('--seccomp') + 2), ['--seccomp', '4']);
  assert.deepEqual(a.slice(a.indexOf('--')), ['--', '/usr/bin/node', 'w.js']);
  // the jail's own tmpfs (root, /dev, /tmp) is read-only once the binds are in place: nothing unbounded to fill,
  // nothing that outlives a run for the next caller
  for (const p of ['/tmp', '/dev', '/']) {
    const i = a.findIndex((x, j) => x === '--remount-ro' && a[j + 1] === p);
    assert.ok(i > rw, `--remount-ro ${p} after the binds`);
  }
  assert.ok(isReservedPath('/') && isReservedPath('/proc/1') && !isReservedPath('/data'));
});

test('seatbelt: deny by default, no network, writes only where allowed', () => {
  const p = seatbeltProfile({
    node: '/opt/node/bin/node',
    readOnly: ['/app/dist'],
    mounts: [{ hostPath: '/w/rw', guestPath: '/w', readOnly: false }, { hostPath: '/w/ro "q"', guestPath: '/r', readOnly: true }],
  });
  assert.match(p, /^\(version 1\)\n\(deny default\)/);
  assert.match(p, /\(deny network\*\)/);
  assert.match(p, /\(allow process-exec \(literal "\/opt\/node\/bin\/node"\)\)/);
  const write = p.split('\n').find((l) => l.startsWith('(allow file-write* '))!;
  assert.ok(write.includes('"/w/rw"') && !write.includes('/w/ro') && !write.includes('/app/dist'));
  const read = p.split('\n').find((l) => l.startsWith('(allow file-read* (subpath'))!;
  assert.ok(read.includes('"/app/dist"') && read.includes(sbplString('/w/ro "q"')));
  assert.equal(sbplString('a"b\\c'), '"a\\"b\\\\c"');
});

test('ldd output parsing, prlimit arguments', () => {
  const libs = parseLdd(`\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n`);
  assert.deepEqual(libs, ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  const a = prlimitArgs(DEFAULT_RLIMITS);
  assert.ok(a.includes('--core=0:0') && a.some((x) => x.startsWith('--nofile=')) && a.some((x) => x.startsWith('--nproc=')));
  assert.ok(!a.some((x) => x.startsWith('--as=')), 'no address-space limit (Wasm reserves guard regions)');
});

test('mount keys ignore guest paths and order; worker args round-trip', () => {
  const a = mountKey([{ hostPath: '/a', guestPath: '/x', readOnly: true }, { hostPath: '/b', guestPath: '/y', readOnly: false }]);
  const b = mountKey([{ hostPath: '/b', guestPath: '/z', readOnly: false }, { hostPath: '/a', guestPath: '/a', readOnly: true }]);
  assert.equal(a, b);
  assert.notEqual(a, mountKey([{ hostPath: '/a', guestPath: '/a', readOnly: false }, { hostPath: '/b', guestPath: '/b', readOnly: false }]));
  assert.equal(mountKey([]), '');
  const args = { role: 'runner' as const, pythonSnapshot: '/c/p.snapshot', prewarm: ['javascript' as const] };
  assert.deepEqual(decodeWorkerArgs(encodeWorkerArgs(args)), args);
});

test('workspace paths: under /workspace, no ..', () => {
  assert.deepEqual(workspaceComponents('/workspace/a/b.txt'), ['a', 'b.txt']);
  assert.deepEqual(workspaceComponents('a/./b'), ['a', 'b']);
  assert.deepEqual(workspaceComponents('/workspace'), []);
  for (const bad of ['/etc/passwd', '../x', '/workspace/../etc', 'a/../../b', '/workspacefoo', 'a\0b']) {
    assert.throws(() => workspaceComponents(bad), ValidationError, bad);
  }
});
