/**
 * The `qemu` backend end to end on this machine (under TCG where KVM cannot boot a stock kernel): boot, exec with
 * exit code, separate streams and stdin, files both ways, a persistent sandbox's copy-on-write disk surviving
 * stop/start, two sandboxes not seeing each other's files, and the warm pool handing each run a fresh VM.
 * Boots take seconds under software emulation, so the sandboxes and the pool boot once, in parallel, and are shared.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, NotFoundError, UnsupportedError } from '../../src/core/errors.js';
import type { MicroVmBackend } from '../../src/backends/microvm/backend.js';

const home = mkdtempSync(join(tmpdir(), 'ak-microvm-home-'));
process.env.AGENTKERNEL_HOME = home;
const { createQemuBackend } = await import('../../src/backends/qemu/index.js');
const { buildGuestImage } = await import('../../src/backends/microvm/guest-image.js');
const { SandboxStore } = await import('../../src/service/store.js');

/** Why this machine cannot run the test, or undefined when it can (building the guest on the way). */
async function skipReason(): Promise<string | undefined> {
  try {
    await buildGuestImage();
  } catch (e) {
    return `microVM guest cannot be built here: ${(e as Error).message}`;
  }
  const a = await createQemuBackend({ poolSize: 0 }).availability();
  return a.available ? undefined : `qemu unavailable: ${a.reason}`;
}

const skip = await skipReason();
if (skip) console.log(`# skipping qemu microVM tests: ${skip}`);
const RUN = { timeoutMs: 120_000 };
const SMALL = { memoryMb: 256, network: false };

describe('qemu microVM backend', { skip }, () => {
  let vm: MicroVmBackend;
  let other: MicroVmBackend;
  const A = 'vm-a';
  const B = 'vm-b';

  before(async () => {
    mkdirSync(join(home, 'store'));
    const store = new SandboxStore(join(home, 'store'));
    vm = createQemuBackend({ store, poolSize: 2 });
    other = createQemuBackend({ store, poolSize: 0 }); // a second process's view of the same state
    await Promise.all([
      vm.create({ name: A, ...SMALL }),
      vm.create({ name: B, ...SMALL }),
      vm.prewarm({ memoryMb: 256, profile: 'restrictive' }),
    ]);
  });

  after(async () => {
    for (const n of [A, B]) await vm.remove(n).catch(() => {});
    await vm.close();
    await other.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('availability reports the acceleration, and TCG keeps it out of automatic selection', async () => {
    const a = await vm.availability();
    assert.equal(a.available, true);
    const accel = a.details?.acceleration;
    assert.ok(accel === 'kvm' || accel === 'tcg');
    if (accel === 'tcg') {
      assert.equal(a.autoSelect, false);
      assert.match(a.reason ?? '', /software emulation/);
    }
  });

  test('exec: exit code, separate streams, stdin, env, cwd, and the acceleration in the isolation report', async () => {
    const r = await other.exec(A, ['sh', '-c', 'echo out; echo err >&2; read x; echo "got $x in $(pwd) as $V"; exit 7'], {
      ...RUN, stdin: 'line\n', env: { V: 'v1' }, cwd: '/tmp',
    });
    assert.equal(r.exitCode, 7);
    assert.equal(r.stdout, 'out\ngot line in /tmp as v1\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.backend, 'qemu');
    assert.equal(r.isolation?.layers[0], 'microvm');
    assert.ok(r.isolation?.layers.includes('kvm') || r.isolation?.layers.includes('tcg'));
    const missing = await vm.exec(A, ['no-such-command'], RUN);
    assert.equal(missing.exitCode, 127);
    const chunks: string[] = [];
    const streamed = await vm.exec(A, ['sh', '-c', 'echo one; echo two'], { ...RUN, onStdout: (c) => chunks.push(c) });
    assert.equal(chunks.join(''), streamed.stdout);
    assert.equal(streamed.stdout, 'one\ntwo\n');
  });

  test('a command past its timeout is killed and reported as 124', async () => {
    const r = await vm.exec(A, ['sleep', '30'], { timeoutMs: 1_000 });
    assert.equal(r.exitCode, 124);
    assert.equal(r.timedOut, true);
  });

  test('files both ways, listing and removal', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 10, 13]);
    await vm.writeFile(A, '/root/dir/data.bin', bytes);
    assert.deepEqual(Buffer.from(await other.readFile(A, '/root/dir/data.bin')), Buffer.from(bytes));
    await vm.exec(A, ['sh', '-c', 'echo made inside > /root/dir/inside.txt'], RUN);
    assert.equal(Buffer.from(await vm.readFile(A, '/root/dir/inside.txt')).toString(), 'made inside\n');
    const entries = await vm.listFiles(A, '/root/dir');
    assert.deepEqual(entries.map((e) => [e.name, e.type, e.size]), [['data.bin', 'file', 6], ['inside.txt', 'file', 12]]);
    await vm.removeFile(A, '/root/dir');
    await assert.rejects(vm.readFile(A, '/root/dir/data.bin'), NotFoundError);
    await assert.rejects(vm.listFiles(A, '/nope'), NotFoundError);
  });

  test('two sandboxes do not see each other\'s files', async () => {
    await vm.writeFile(A, '/root/only-a.txt', 'a');
    await assert.rejects(vm.readFile(B, '/root/only-a.txt'), NotFoundError);
    const r = await vm.exec(B, ['ls', '/root'], RUN);
    assert.equal(r.stdout, '');
  });

  test('stop keeps the copy-on-write disk; start boots on it again; exec on a stopped sandbox is refused', async () => {
    await vm.writeFile(A, '/root/kept.txt', 'survives stop');
    await vm.exec(A, ['sh', '-c', 'echo from-shell > /etc/marker'], RUN);
    assert.equal((await vm.stop(A)).status, 'stopped');
    assert.equal((await other.list()).find((s) => s.name === A)?.status, 'stopped');
    await assert.rejects(vm.exec(A, ['true'], RUN), ConflictError);
    assert.equal((await other.start(A)).status, 'running');
    assert.equal(Buffer.from(await vm.readFile(A, '/root/kept.txt')).toString(), 'survives stop');
    assert.equal((await vm.exec(A, ['cat', '/etc/marker'], RUN)).stdout, 'from-shell\n');
  });

  test('pool: each ephemeral run gets a fresh VM; a file written by one run is gone for the next', async () => {
    const opts = { ...RUN, memoryMb: 256, profile: 'restrictive' };
    const first = await vm.run(['sh', '-c', 'echo secret > /tmp/left-behind; id -u; cat /tmp/left-behind'], opts);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal(first.stdout, '65534\nsecret\n', 'restrictive runs as nobody');
    const second = await vm.run(['sh', '-c', 'cat /tmp/left-behind'], opts);
    assert.notEqual(second.exitCode, 0);
    assert.match(second.stderr, /No such file/);
  });

  test('remove deletes the VM and its disk; unsupported options say so', async () => {
    await vm.remove(B);
    assert.equal((await other.list()).some((s) => s.name === B), false);
    await assert.rejects(vm.exec(B, ['true']), NotFoundError);
    await assert.rejects(vm.run(['true'], { image: 'debian:12' }), UnsupportedError);
    await assert.rejects(vm.create({ name: 'vm-c', mounts: [{ hostPath: '/tmp', guestPath: '/mnt', readOnly: true }] }), UnsupportedError);
  });
});
