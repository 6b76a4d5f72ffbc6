/**
 * The apple backend without Apple hardware: host checks, command construction (argv arrays, profile flags,
 * hostile values never becoming flags), parsing of both generations of the CLI's JSON, and the shared container
 * driver run end to end against a stand-in `container` CLI (fake-cli.ts) that records what it is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAgentKernelError } from '../../src/core/errors.js';
import { appleGaps, appleRunArgs, parseContainers, sandboxStatus, toInspectData, wholeCpus } from '../../src/backends/apple/dialect.js';
import { hostProblem, macosMajor, type HostFacts } from '../../src/backends/apple/host.js';
import { appleProfile, createAppleBackend, parseAppleVersion, probeApple } from '../../src/backends/apple/index.js';
import { appliedFromEngine, appliedFromPlan, isolationReport, withGaps } from '../../src/backends/container/applied.js';
import { ContainerEngine } from '../../src/backends/container/engine.js';
import { IDLE_INIT, planContainer } from '../../src/backends/container/plan.js';
import { tempDir, tempStore } from '../containers/tmp.js';
import { installFakeCli } from './fake-cli.js';

const MAC: HostFacts = { platform: 'darwin', arch: 'arm64', kernelRelease: '25.1.0' };
const LABELS = { 'agentkernel.sandbox': 'box' };

test('host: macOS 26+ on Apple silicon only, with the exact reason otherwise', () => {
  assert.equal(hostProblem({ platform: 'linux', arch: 'x64', kernelRelease: '6.8.0' }), 'requires macOS 26 or later (this is linux)');
  assert.equal(hostProblem({ platform: 'win32', arch: 'x64', kernelRelease: '10.0' }), 'requires macOS 26 or later (this is win32)');
  assert.equal(hostProblem({ platform: 'darwin', arch: 'arm64', kernelRelease: '24.6.0' }), 'requires macOS 26 or later (this is macOS 15, Darwin 24.6.0)');
  assert.equal(hostProblem({ platform: 'darwin', arch: 'x64', kernelRelease: '25.0.0' }), 'requires a Mac with Apple silicon (this is x64)');
  assert.equal(hostProblem(MAC), undefined);
  assert.deepEqual(['19.6.0', '20.1.0', '24.0.0', '25.0.0', '26.2.0'].map(macosMajor), [10, 11, 15, 26, 27]);
  assert.equal(macosMajor('garbage'), undefined);
  assert.equal(parseAppleVersion('container CLI version 0.5.0 (build: release, commit: 3fcf647)\n'), '0.5.0');
});

test('availability: off macOS no command is run, and the reason is the host', async () => {
  const engine = new ContainerEngine(appleProfile('/nonexistent/container'));
  const a = await probeApple(engine, { platform: 'linux', arch: 'x64', kernelRelease: '6.8.0' });
  assert.deepEqual(a, { available: false, reason: 'requires macOS 26 or later (this is linux)' });
  const here = await createAppleBackend({ store: tempStore(), poolSize: 0 }).availability();
  if (process.platform !== 'darwin') assert.equal(here.reason, `requires macOS 26 or later (this is ${process.platform})`);
});

test('availability on a (pretended) Mac: missing CLI, stopped service, ready', async () => {
  const missing = await probeApple(new ContainerEngine(appleProfile('/nonexistent/container')), MAC);
  assert.equal(missing.available, false);
  assert.match(missing.reason!, /the apple CLI \('\/nonexistent\/container'\) is not installed or not on PATH: install it from https:\/\/github\.com\/apple\/container/);
  const dir = tempDir('ak-apple');
  const fake = installFakeCli(dir);
  const engine = new ContainerEngine(appleProfile(fake.binary));
  writeFileSync(join(dir, 'service-down'), '');
  const down = await probeApple(engine, MAC);
  assert.equal(down.available, false);
  assert.match(down.reason!, /container system service is not running \(Error: apiserver is not running.*\): start it with `.*container system start`/);
  assert.deepEqual(fake.calls(), [['--version'], ['system', 'status']]);
  rmSync(join(dir, 'service-down'));
  const ok = await probeApple(engine, MAC);
  assert.equal(ok.available, true, ok.reason);
  assert.equal(ok.details?.clientVersion, '1.1.0');
  assert.equal(ok.details?.macos, 26);
});

test('run argv per profile: exact flags, values never become flags, positional values after --', () => {
  const restrictive = planContainer({ image: 'debian:bookworm-slim', profile: 'restrictive', env: { X: '--privileged', Y: 'a b' } });
  assert.deepEqual(appleRunArgs(restrictive, { name: 'agentkernel-box', labels: LABELS, removeOnStop: false, engineArgs: [] }), [
    'run', '--detach', '--name', 'agentkernel-box', '--label', 'agentkernel.sandbox=box',
    '--network', 'none', '--read-only', '--tmpfs', '/tmp', '--memory', '256M', '--cpus', '1', '--user', '65534:65534',
    '--env', 'X=--privileged', '--env', 'Y=a b',
    '--entrypoint', '/bin/sh', '--', 'debian:bookworm-slim', ...IDLE_INIT,
  ]);
  const moderate = planContainer({ image: 'python:3.12-slim', profile: 'moderate', cpus: 1.5 });
  const m = appleRunArgs(moderate, { name: 'agentkernel-run-1', labels: { 'agentkernel.pool': 'h:1' }, removeOnStop: true, engineArgs: [] });
  assert.deepEqual(m.slice(0, 9), ['run', '--detach', '--name', 'agentkernel-run-1', '--rm', '--label', 'agentkernel.pool=h:1', '--memory', '512M']);
  assert.deepEqual(m.slice(9, 11), ['--cpus', '2'], 'whole CPUs');
  for (const flag of ['--network', '--read-only', '--user', '--cap-drop', '--security-opt', '--pids-limit', '--memory-swap', '--pull']) {
    assert.ok(!m.includes(flag), `moderate run has no ${flag}`);
  }
  const dir = tempDir('ak-apple-mnt');
  const permissive = planContainer({ image: 'debian:bookworm-slim', profile: 'permissive', mounts: [{ hostPath: dir, guestPath: '/work', readOnly: true }] });
  const p = appleRunArgs(permissive, { name: 'agentkernel-p', labels: {}, removeOnStop: false, engineArgs: [] });
  assert.deepEqual(p.slice(p.indexOf('--mount'), p.indexOf('--mount') + 2), ['--mount', `type=bind,source=${dir},target=/work,readonly`]);
  assert.equal(p[p.indexOf('--') + 1], 'debian:bookworm-slim');
  assert.deepEqual([wholeCpus(0.5), wholeCpus(1), wholeCpus(2.0000000001), wholeCpus(3)], [1, 1, 2, 3]);
});

test('what Apple cannot do is refused or reported, never silently skipped', () => {
  const file = join(tempDir('ak-apple-file'), 'f.txt');
  writeFileSync(file, 'x');
  const withFile = planContainer({ image: 'debian:bookworm-slim', profile: 'permissive', mounts: [{ hostPath: file, guestPath: '/f.txt', readOnly: true }] });
  assert.throws(() => appleRunArgs(withFile, { name: 'n', labels: {}, removeOnStop: false, engineArgs: [] }),
    (e: unknown) => isAgentKernelError(e) && e.code === 'UNSUPPORTED' && /host directories only/.test(e.message));
  const gvisor = planContainer({ image: 'debian:bookworm-slim', runtime: 'runsc' });
  assert.throws(() => appleRunArgs(gvisor, { name: 'n', labels: {}, removeOnStop: false, engineArgs: [] }), /no OCI runtime choice \('runsc'\)/);

  const restrictive = planContainer({ image: 'debian:bookworm-slim', profile: 'restrictive' });
  const gaps = appleGaps(restrictive);
  assert.deepEqual(gaps.map((g) => g.layer), ['capabilities', 'no-new-privileges', 'seccomp', 'pids', 'tmpfs size']);
  const report = isolationReport(withGaps(appliedFromPlan(restrictive, 'apple', 'engine default'), gaps), ['vm']);
  assert.equal(report.layers[0], 'vm');
  for (const claimed of ['no-capabilities', 'no-new-privileges', 'seccomp']) assert.ok(!report.layers.includes(claimed), `${claimed} is not claimed`);
  assert.ok(report.layers.includes('no-network') && report.layers.includes('read-only-root') && report.layers.includes('non-root'));
  assert.deepEqual(report.missing?.map((m) => m.layer), ['capabilities', 'no-new-privileges', 'seccomp', 'pids', 'tmpfs size']);
  const permissive = planContainer({ image: 'debian:bookworm-slim', profile: 'permissive', cpus: 0.5 });
  assert.deepEqual(appleGaps(permissive).map((g) => g.layer), ['seccomp', 'pids', 'cpus']);
});

// Sample outputs in both generations of the CLI's JSON (pre-1.0: status is a string; 1.x: an object).
const LEGACY_LS = JSON.stringify([
  {
    status: 'running',
    configuration: {
      id: 'agentkernel-box', image: { reference: 'docker.io/library/debian:bookworm-slim' }, labels: { 'agentkernel.sandbox': 'box' },
      networks: ['default'], resources: { cpus: 1, memoryInBytes: 268435456 }, mounts: [], runtimeHandler: 'container-runtime-linux',
    },
    networks: [{ address: '192.168.64.3/24', gateway: '192.168.64.1', hostname: 'agentkernel-box' }],
  },
  { status: 'stopped', configuration: { id: 'someone-else', image: { reference: 'alpine:latest' }, labels: {} } },
]);
const V1_INSPECT = JSON.stringify([
  {
    id: 'agentkernel-box',
    configuration: {
      id: 'agentkernel-box', image: { reference: 'debian:bookworm-slim' }, labels: { 'agentkernel.sandbox': 'box', constructor: 'x' },
      networks: [], readOnly: true, resources: { cpus: 2, memoryInBytes: 536870912 },
      mounts: [
        { type: { tmpfs: {} }, source: '', destination: '/tmp', options: [] },
        { type: { virtiofs: {} }, source: '/Users/me/src', destination: '/work', options: ['ro'] },
      ],
      runtimeHandler: 'container-runtime-linux',
    },
    status: { state: 'stopped', startedDate: '2026-06-01T10:00:00Z' },
  },
]);

test('parsing `ls --format json` and `inspect` output of both CLI generations', () => {
  const legacy = parseContainers(LEGACY_LS);
  assert.deepEqual(legacy.map((c) => [c.name, c.state, sandboxStatus(c.state)]), [['agentkernel-box', 'running', 'running'], ['someone-else', 'stopped', 'stopped']]);
  assert.deepEqual(legacy[0].labels, { 'agentkernel.sandbox': 'box' });
  assert.deepEqual(legacy[0].networks, ['default']);
  const [v1] = parseContainers(V1_INSPECT);
  assert.equal(v1.state, 'stopped');
  assert.equal(v1.readOnly, true);
  assert.deepEqual(parseContainers(''), []);
  assert.throws(() => parseContainers('Error: not json'), /not JSON/);

  const data = toInspectData(v1);
  assert.equal(data.HostConfig?.NetworkMode, 'none');
  assert.deepEqual(data.Mounts, [{ Type: 'bind', Source: '/Users/me/src', Destination: '/work', RW: false }]);
  assert.deepEqual(Object.keys(data.HostConfig?.Tmpfs ?? {}), ['/tmp']);
  const plan = planContainer({ image: 'debian:bookworm-slim', profile: 'moderate' });
  const applied = appliedFromEngine(plan, 'apple', 'engine default', data, {
    capEff: '000001ffffffffff', capBnd: '000001ffffffffff', noNewPrivs: false, seccompMode: 0, uid: '0', gid: '0', rootReadOnly: true,
  });
  assert.equal(applied.runtime, 'container-runtime-linux');
  assert.equal(applied.memoryMb, 512);
  assert.equal(applied.cpus, 2);
  const missing = new Map(applied.missing?.map((m) => [m.layer, m.reason]));
  assert.match(missing.get('pids')!, /unset/);
  assert.match(missing.get('cpus')!, /cpu limit is 2, asked 1/);
  assert.ok(missing.has('capabilities') && missing.has('seccomp') && missing.has('no-new-privileges'));
});

test('the container driver on the apple dialect, against a stand-in CLI: create, exec, list, stop, start, remove, run', async () => {
  const dir = tempDir('ak-apple-cli');
  const fake = installFakeCli(dir);
  const b = createAppleBackend({ binary: fake.binary, host: MAC, store: tempStore(), poolSize: 0 });
  assert.equal((await b.availability()).available, true);
  assert.equal(b.name, 'apple');

  await assert.rejects(b.create({ name: '--rm', image: 'debian:bookworm-slim' }), /invalid sandbox name/);
  await assert.rejects(b.create({ name: 'x', image: '-v' }), /invalid image reference/);
  await assert.rejects(b.create({ name: 'x', image: 'missing:latest' }), (e: unknown) =>
    isAgentKernelError(e) && e.code === 'NOT_FOUND' && /container image load --input IMAGE\.tar/.test(e.message));
  fake.reset();

  const info = await b.create({ name: 'box', image: 'debian:bookworm-slim', profile: 'restrictive' });
  assert.equal(info.status, 'running');
  const calls = fake.calls();
  assert.deepEqual(calls.map((c) => c[0]), ['image', 'run', 'inspect', 'exec']);
  assert.deepEqual(calls[0], ['image', 'inspect', '--', 'debian:bookworm-slim']);
  assert.deepEqual(calls[2], ['inspect', '--', 'agentkernel-box']);
  assert.deepEqual(calls[3].slice(calls[3].indexOf('--'), calls[3].indexOf('--') + 3), ['--', 'agentkernel-box', '/bin/sh'], 'guest check');
  const applied = info.applied as { network: string; memoryMb: number; missing?: { layer: string }[] };
  assert.equal(applied.network, 'none');
  assert.equal(applied.memoryMb, 256);
  assert.ok(applied.missing?.some((m) => m.layer === 'pids'), 'no pids limit is reported as missing');

  const r = await b.exec('box', ['sh', '-c', 'echo out; echo err >&2; exit 3'], { env: { A: '--rm' } });
  assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.backend], [3, 'out\n', 'err\n', 'apple']);
  assert.equal(r.isolation?.layers[0], 'vm');
  const execCall = fake.calls().at(-1)!;
  assert.deepEqual(execCall.slice(0, 3), ['exec', '--env', 'A=--rm']);
  assert.deepEqual(execCall.slice(execCall.indexOf('--')), ['--', 'agentkernel-box', 'sh', '-c', 'echo out; echo err >&2; exit 3']);

  assert.deepEqual((await b.list()).map((s) => [s.name, s.status]), [['box', 'running']]);
  assert.equal((await b.stop('box')).status, 'stopped');
  assert.deepEqual(fake.calls().at(-1), ['stop', '--time', '2', '--', 'agentkernel-box']);
  await assert.rejects(b.exec('box', ['true']), (e: unknown) => isAgentKernelError(e) && e.code === 'CONFLICT' && /is not running/.test(e.message));
  assert.equal((await b.start('box')).status, 'running');
  await b.writeFile('box', join(dir, 'written.txt'), 'hello'); // the stand-in runs guest commands on the host
  assert.equal(new TextDecoder().decode(await b.readFile('box', join(dir, 'written.txt'))), 'hello');

  await b.remove('box');
  assert.deepEqual(fake.calls().at(-1), ['delete', '--force', '--', 'agentkernel-box']);
  assert.deepEqual(await b.list(), []);

  const run = await b.run(['echo', 'ephemeral'], { image: 'debian:bookworm-slim', profile: 'moderate' });
  assert.equal(run.stdout, 'ephemeral\n');
  assert.ok(run.isolation?.missing?.some((m) => m.layer === 'capabilities'), 'ephemeral runs do not claim dropped capabilities');
  assert.ok(!run.isolation?.layers.includes('no-capabilities'));
  await b.close();
  // every container the run made is gone (the pool removes it in the background; close() waits for that)
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'db.json'), 'utf8')), {});
});
