/**
 * The jail itself, from the inside: node code started exactly as a worker is (same binds, namespaces, seccomp,
 * rlimits) tries to reach the network, host files and processes. Skipped, with the reason, where this machine
 * cannot build the jail. Also: the host's memory watch stops a worker that outgrows its cap.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync, existsSync } from 'node:fs';
import { TEST_HOME, inJail, tempDir, uniqueName } from './helpers.js';
import { Jail } from '../../src/backends/wasm/jail/index.js';
import { packageBinds } from '../../src/backends/wasm/launch.js';
import { WorkerProcess } from '../../src/backends/wasm/worker-process.js';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test/wasm-backend -> the project root
const projectRoot = join(here, '..', '..', '..');

const plan = await new Jail().probe();
const noJail = plan.kind !== 'bwrap' ? `no namespace jail here: ${plan.report.missing?.map((m) => `${m.layer}: ${m.reason}`).join('; ')}` : undefined;
const noSeccomp = !plan.seccomp ? `seccomp unavailable: ${plan.report.missing?.find((m) => m.layer === 'seccomp')?.reason}` : undefined;

let server: Server;
let port = 0;
let connections = 0;
before(async () => {
  assert.equal(process.env.AGENTKERNEL_HOME, TEST_HOME);
  server = createServer((s) => {
    connections++;
    s.end('host\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => server.close());

const PROBE = (port: number, paths: Record<string, string>) => `
const fs = require('fs'), net = require('net'), cp = require('child_process'), os = require('os');
const r = {};
const attempt = (f) => { try { return f(); } catch (e) { return e.code || e.message; } };
for (const [k, p] of Object.entries(${JSON.stringify(paths)})) r[k] = attempt(() => (fs.readFileSync(p), 'read'));
r.listHome = attempt(() => fs.readdirSync(${JSON.stringify(homedir())}).length >= 0 && 'listed');
r.root = fs.readdirSync('/').sort();
r.pids = fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).map(Number);
r.writeDist = attempt(() => (fs.writeFileSync(${JSON.stringify(join(projectRoot, 'dist', 'jail-probe-write'))}, 'x'), 'wrote'));
r.spawn = attempt(() => { const x = cp.spawnSync(process.execPath, ['-e', '0']); return x.error ? x.error.code : 'ran'; });
r.hostname = os.hostname();
r.env = Object.keys(process.env).filter((k) => !k.startsWith('NODE_CHANNEL'));
r.interfaces = attempt(() => Object.keys(os.networkInterfaces()));
const s = net.connect(${port}, '127.0.0.1');
s.on('connect', () => { r.net = 'connected'; process.send(r); });
s.on('error', (e) => { r.net = e.code; process.send(r); });
`;

test('inside the jail: no network, no host files beyond the binds, no host processes, no process creation', { skip: noJail }, async (t) => {
  const mine = tempDir(t);
  writeFileSync(join(mine, 'secret.txt'), 'host only');
  const r = (await inJail(PROBE(port, {
    passwd: '/etc/passwd',
    shadow: '/etc/shadow',
    projectSource: join(projectRoot, 'src', 'core', 'types.ts'),
    projectPackage: join(projectRoot, 'package.json'),
    unboundTemp: join(mine, 'secret.txt'),
  }))) as Record<string, unknown>;
  assert.notEqual(r.net, 'connected', 'reached a host loopback service');
  assert.equal(connections, 0);
  // seccomp refuses even the netlink socket that lists interfaces; without it only the namespace's loopback shows
  if (Array.isArray(r.interfaces)) assert.deepEqual(r.interfaces, ['lo']);
  else assert.ok(typeof r.interfaces === 'string');
  assert.equal(r.passwd, 'ENOENT');
  assert.equal(r.shadow, 'ENOENT');
  assert.equal(r.projectSource, 'ENOENT', 'the project beyond dist/ and node_modules/ is not there');
  assert.equal(r.projectPackage, 'read', 'package.json is bound (it makes dist/ ES modules)');
  assert.equal(r.unboundTemp, 'ENOENT');
  if (existsSync(homedir())) assert.notEqual(r.listHome, 'listed', '$HOME is not there');
  assert.notEqual(r.writeDist, 'wrote', 'binds are read-only');
  assert.ok((r.pids as number[]).length <= 3, `sees only its own processes: ${String(r.pids)}`);
  assert.ok(!(r.root as string[]).includes('home') && !(r.root as string[]).includes('etc'), `root: ${String(r.root)}`);
  // bubblewrap sets PWD for --chdir; nothing of the host's environment passes
  assert.deepEqual((r.env as string[]).filter((k) => k !== 'PWD'), [], 'the environment is cleared');
  assert.equal(r.hostname, 'agentkernel');
});

test('inside the jail: seccomp refuses sockets and process creation with EPERM', { skip: noJail ?? noSeccomp }, async () => {
  const r = (await inJail(PROBE(port, {}))) as Record<string, unknown>;
  assert.equal(r.net, 'EPERM');
  assert.equal(r.spawn, 'EPERM');
});

test('inside the jail: mounts appear at their host path with their mode', { skip: noJail }, async (t) => {
  const ro = tempDir(t);
  const rw = tempDir(t);
  writeFileSync(join(ro, 'a.txt'), 'A');
  const code = `
const fs = require('fs');
const attempt = (f) => { try { return f(); } catch (e) { return e.code; } };
process.send({
  read: attempt(() => fs.readFileSync(${JSON.stringify(join(ro, 'a.txt'))}, 'utf8')),
  writeRo: attempt(() => (fs.writeFileSync(${JSON.stringify(join(ro, 'b.txt'))}, 'x'), 'wrote')),
  writeRw: attempt(() => (fs.writeFileSync(${JSON.stringify(join(rw, 'c.txt'))}, 'y'), 'wrote')),
});`;
  const r = (await inJail(code, { mounts: [{ hostPath: ro, guestPath: ro, readOnly: true }, { hostPath: rw, guestPath: rw, readOnly: false }] })) as Record<string, unknown>;
  assert.equal(r.read, 'A');
  assert.equal(r.writeRo, 'EROFS');
  assert.equal(r.writeRw, 'wrote');
  assert.ok(existsSync(join(rw, 'c.txt')));
});

test('the host memory watch kills a worker that outgrows its cap', async () => {
  const w = await WorkerProcess.start(new Jail(), {
    script: join(here, 'fixtures', 'hog-worker.js'),
    scriptArgs: [],
    nodeFlags: [],
    readOnly: packageBinds(),
    mounts: [],
    name: uniqueName('hog'),
  }, 'hog');
  const end = await w.run({ kind: 'ping' }, { memoryMb: 64, hardTimeoutMs: 60_000, outputBytes: 1024, onOutput: () => {} });
  assert.equal(end.kind, 'killed');
  assert.equal(end.kind === 'killed' && end.reason, 'memory');
  await w.exitedPromise();
  assert.equal(w.state, 'dead');
});
