/** Input validation, image detection and profile → flags: everything decided before an engine is called. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../src/core/errors.js';
import { validateArgv, validateEnv, validateGuestPath, validateImageRef, validateMounts } from '../../src/backends/container/validate.js';
import { detectImage, DEFAULT_IMAGE } from '../../src/backends/container/images.js';
import { planContainer, runArgs, securityArgs, NON_ROOT_USER } from '../../src/backends/container/plan.js';
import { parseListing } from '../../src/backends/container/files.js';
import { parseGuestFacts, appliedFromEngine } from '../../src/backends/container/applied.js';
import { hardLimit } from '../../src/backends/podman/host.js';
import { poolKey } from '../../src/backends/container/pool.js';
import { tempDir } from './tmp.js';

test('image references: the registry grammar, nothing that can become a flag', () => {
  for (const ok of ['busybox', 'debian:bookworm-slim', 'python:3.12-slim', 'agentkernel-test/busybox:1', 'localhost:5000/team/app:v1.2',
    'ghcr.io/org/img@sha256:' + 'a'.repeat(64), 'quay.io/a/b:tag@sha256:' + 'b'.repeat(64)]) {
    assert.equal(validateImageRef(ok), ok);
  }
  for (const bad of ['-it', '--privileged', '-v/:/host', 'Busybox', 'busy box', 'img:tag:tag', '', ' busybox', 'a/../b', 'img:-tag',
    'img@sha256:short', 'img\nname', '/abs', 'a//b', 'x'.repeat(600)]) {
    assert.throws(() => validateImageRef(bad), ValidationError, bad);
  }
  assert.throws(() => validateImageRef(42), ValidationError);
});

test('guest paths: absolute, no "..", no NUL; trailing slash dropped', () => {
  assert.equal(validateGuestPath('/tmp/x'), '/tmp/x');
  assert.equal(validateGuestPath('/tmp//x/'), '/tmp/x');
  assert.equal(validateGuestPath('/'), '/');
  for (const bad of ['tmp/x', '../etc/passwd', '/tmp/../../etc/shadow', '/a/..', '', '/a\0b', '-rf']) {
    assert.throws(() => validateGuestPath(bad), ValidationError, JSON.stringify(bad));
  }
});

test('environment names are identifiers; argv is a non-empty list of strings', () => {
  assert.deepEqual(validateEnv({ A_1: 'x=y', _B: '' }), { A_1: 'x=y', _B: '' });
  for (const bad of [{ '-e': 'x' }, { 'A=B': 'x' }, { '1A': 'x' }, { A: 'x\0' }, { A: 3 }]) {
    assert.throws(() => validateEnv(bad), ValidationError);
  }
  assert.deepEqual(validateArgv(['echo', '--', '-n']), ['echo', '--', '-n']);
  for (const bad of [[], [''], ['a\0b'], 'echo', [1]]) assert.throws(() => validateArgv(bad), ValidationError);
});

test('mounts: existing absolute host paths, nothing that splits a --mount flag', () => {
  const dir = tempDir('ak-mnt');
  assert.deepEqual(validateMounts([{ hostPath: dir, guestPath: '/work', readOnly: true }]), [{ hostPath: dir, guestPath: '/work', readOnly: true }]);
  assert.throws(() => validateMounts([{ hostPath: 'rel', guestPath: '/w', readOnly: true }]), ValidationError);
  assert.throws(() => validateMounts([{ hostPath: `${dir}/missing`, guestPath: '/w', readOnly: true }]), ValidationError);
  assert.throws(() => validateMounts([{ hostPath: dir, guestPath: '/w,source=/', readOnly: true }]), ValidationError);
  assert.throws(() => validateMounts([{ hostPath: dir, guestPath: '/w/../etc', readOnly: true }]), ValidationError);
});

test('image detection: the command first, then project files, then the default; an explicit image wins', () => {
  const empty = tempDir('ak-proj');
  const cases: [string[], string][] = [
    [['python3', 'x.py'], 'python:3.12-slim'], [['pip', 'install', 'x'], 'python:3.12-slim'], [['pytest'], 'python:3.12-slim'],
    [['/usr/bin/python3.11', '-c', '1'], 'python:3.12-slim'], [['node', 'a.js'], 'node:22-slim'], [['npx', 'x'], 'node:22-slim'],
    [['cargo', 'build'], 'rust:1-slim'], [['go', 'test'], 'golang:1-bookworm'], [['bundle', 'exec'], 'ruby:3-slim'],
    [['mvn', 'package'], 'maven:3-eclipse-temurin-21'], [['java', '-jar', 'x'], 'eclipse-temurin:21'], [['php', 'x.php'], 'php:8-cli'],
    [['sh', '-c', 'python3 -m http.server'], 'python:3.12-slim'], [['ls'], DEFAULT_IMAGE],
  ];
  for (const [argv, image] of cases) assert.equal(detectImage(argv, { cwd: empty }).image, image, argv.join(' '));
  const proj = tempDir('ak-proj');
  writeFileSync(join(proj, 'Cargo.toml'), '');
  assert.deepEqual(detectImage(['make'], { cwd: proj }), { image: 'rust:1-slim', reason: 'project file Cargo.toml' });
  assert.equal(detectImage(['python3'], { cwd: proj }).image, 'python:3.12-slim', 'the command beats project files');
  assert.equal(detectImage(['python3'], { cwd: proj, image: 'busybox:1' }).image, 'busybox:1', 'an explicit image wins');
  assert.throws(() => detectImage(['ls'], { image: '--privileged' }), ValidationError);
});

test('profiles become flags: restrictive gets every restriction, permissive none but the caps', () => {
  const r = securityArgs(planContainer({ image: 'busybox', profile: 'restrictive' })).join(' ');
  for (const f of ['--network none', '--read-only', '--tmpfs /tmp:', '--cap-drop ALL', '--security-opt no-new-privileges', '--pids-limit 64',
    '--memory 256m', '--memory-swap 256m', '--cpus 1', `--user ${NON_ROOT_USER}`]) {
    assert.ok(r.includes(f), `restrictive lacks ${f}: ${r}`);
  }
  assert.ok(!r.includes('seccomp'), 'the engine default seccomp profile is never replaced');
  const m = securityArgs(planContainer({ image: 'busybox', profile: 'moderate', memoryMb: 64, cpus: 0.5 })).join(' ');
  assert.ok(m.includes('--cap-drop ALL') && m.includes('--memory 64m') && m.includes('--cpus 0.5'));
  assert.ok(!m.includes('--network') && !m.includes('--read-only') && !m.includes('--user'));
  const p = securityArgs(planContainer({ image: 'busybox', profile: 'permissive' })).join(' ');
  assert.ok(!p.includes('--cap-drop') && p.includes('--pids-limit 1024'));
  assert.ok(securityArgs(planContainer({ image: 'busybox', profile: 'moderate', network: false })).join(' ').includes('--network none'));
});

test('host mounts only where the profile allows them; bad limits and runtimes are refused', () => {
  const dir = tempDir('ak-mnt');
  const mounts = [{ hostPath: dir, guestPath: '/work', readOnly: true }];
  assert.throws(() => planContainer({ image: 'busybox', profile: 'moderate', mounts }), /does not allow host mounts/);
  assert.throws(() => planContainer({ image: 'busybox', profile: 'restrictive', mounts }), ValidationError);
  const args = securityArgs(planContainer({ image: 'busybox', profile: 'permissive', mounts }));
  assert.ok(args.includes(`type=bind,source=${dir},target=/work,readonly`));
  assert.throws(() => planContainer({ image: 'busybox', memoryMb: 0 }), ValidationError);
  assert.throws(() => planContainer({ image: 'busybox', cpus: -1 }), ValidationError);
  assert.throws(() => planContainer({ image: 'busybox', runtime: 'kata' }), ValidationError);
  assert.throws(() => planContainer({ image: 'busybox', profile: 'lax' }), /unknown security profile/);
});

test('run argv: user values sit after "--" or inside their flag value, never as flags of their own', () => {
  const plan = planContainer({ image: 'agentkernel-test/busybox:1', profile: 'restrictive', env: { X: '--privileged' } });
  const args = runArgs(plan, { name: 'agentkernel-x', labels: { 'agentkernel.sandbox': 'x' }, removeOnStop: false, engineArgs: [] });
  const dd = args.indexOf('--');
  assert.ok(dd > 0 && args[dd + 1] === plan.image, 'the image follows "--"');
  assert.equal(args[args.indexOf('X=--privileged') - 1], '--env');
  assert.ok(!args.includes('--privileged'));
  assert.ok(args.includes('--pull') && args[args.indexOf('--pull') + 1] === 'never', 'never pulls');
});

test('pool keys separate everything a container is created with, but not per-run env', () => {
  const a = planContainer({ image: 'busybox', profile: 'moderate' });
  assert.equal(poolKey(a), poolKey({ ...a, env: { A: '1' } }));
  assert.notEqual(poolKey(a), poolKey(planContainer({ image: 'busybox', profile: 'restrictive' })));
  assert.notEqual(poolKey(a), poolKey(planContainer({ image: 'busybox', profile: 'moderate', memoryMb: 100 })));
  assert.notEqual(poolKey(a), poolKey(planContainer({ image: 'busybox:2', profile: 'moderate' })));
});

test('listing output parses names with spaces and newlines', () => {
  const out = Buffer.concat([Buffer.from('file/a b\0dir/d\0symlink/l\nx\0\0'), Buffer.from('5\n4096\n7\n')]);
  assert.deepEqual(parseListing(out), [
    { name: 'a b', type: 'file', size: 5 }, { name: 'd', type: 'dir', size: 4096 }, { name: 'l\nx', type: 'symlink', size: 7 },
  ]);
  assert.deepEqual(parseListing(Buffer.alloc(0)), []);
});

test('guest facts and inspect data become the applied report, with what is missing', () => {
  const facts = parseGuestFacts('Name:\tcat\nUid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\nCapEff:\t0000000000000000\n' +
    'CapBnd:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n---\noverlay / overlay ro,relatime 0 0\ntmpfs /tmp tmpfs rw 0 0\n');
  assert.deepEqual(facts, { capEff: '0000000000000000', capBnd: '0000000000000000', noNewPrivs: true, seccompMode: 2, uid: '65534', gid: '65534', rootReadOnly: true });
  const plan = planContainer({ image: 'busybox', profile: 'restrictive' });
  const full = appliedFromEngine(plan, 'docker', 'runc', {
    HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, Tmpfs: { '/tmp': '' }, PidsLimit: 64, Memory: 256 * 1024 * 1024, NanoCpus: 1e9 },
  }, facts);
  assert.equal(full.missing, undefined);
  assert.equal(full.capabilitiesDropped, 'ALL');
  const weak = appliedFromEngine(plan, 'docker', 'runc', { HostConfig: { NetworkMode: 'bridge', Memory: 0, NanoCpus: 1e9, PidsLimit: 64 } }, { ...facts!, capEff: '00000000a80425fb' });
  assert.deepEqual(weak.missing?.map((m) => m.layer), ['network', 'capabilities', 'memory']);
});

test('podman rlimits come from /proc/self/limits', () => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax processes             96365                96365                processes\n' +
    'Max open files            1024                 20000                files\nMax locked memory         unlimited            unlimited            bytes\n';
  assert.equal(hardLimit('Max open files', limits), 20000);
  assert.equal(hardLimit('Max processes', limits), 96365);
  assert.equal(hardLimit('Max locked memory', limits), undefined);
});
