/**
 * The `firecracker` backend: the API requests it would send (pure functions, tested everywhere), and a real
 * boot where the firecracker binary and a KVM that can boot the guest exist (skipped with the reason otherwise).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CTRL_ALT_DEL, bootArgs, configureCalls, jailRoot, jailerArgv, vsockConnectLine } from '../../src/backends/firecracker/api.js';
import { createFirecrackerBackend } from '../../src/backends/firecracker/index.js';

test('firecracker API: machine config, boot source, CoW root drive, vsock, start, in order', () => {
  const calls = configureCalls({ kernel: '/k', initrd: '/i', disk: '/vm/disk.raw', vsockPath: '/vm/v.sock', memoryMb: 256, cpus: 2, ephemeral: false });
  assert.deepEqual(calls.map((c) => c.path), ['/machine-config', '/boot-source', '/drives/rootfs', '/vsock', '/actions']);
  assert.deepEqual(calls[0].body, { vcpu_count: 2, mem_size_mib: 256, smt: false });
  assert.deepEqual(calls[1].body, { kernel_image_path: '/k', initrd_path: '/i', boot_args: bootArgs(false) });
  assert.deepEqual(calls[2].body, { drive_id: 'rootfs', path_on_host: '/vm/disk.raw', is_root_device: false, is_read_only: false });
  assert.deepEqual(calls[3].body, { guest_cid: 3, uds_path: '/vm/v.sock' });
  assert.deepEqual(calls[4].body, { action_type: 'InstanceStart' });
  assert.deepEqual(CTRL_ALT_DEL.body, { action_type: 'SendCtrlAltDel' });
  assert.match(bootArgs(true), /ak\.ephemeral=1/);
  assert.doesNotMatch(bootArgs(false), /ak\.ephemeral/);
  assert.equal(vsockConnectLine(1024), 'CONNECT 1024\n');
  assert.deepEqual(jailerArgv({ id: 'vm1', firecracker: '/usr/bin/firecracker', uid: 1000, gid: 1000, chrootBase: '/srv/jail' }), [
    '--id', 'vm1', '--exec-file', '/usr/bin/firecracker', '--uid', '1000', '--gid', '1000', '--chroot-base-dir', '/srv/jail',
    '--', '--api-sock', '/run/firecracker.socket',
  ]);
  assert.equal(jailRoot('/srv/jail', 'vm1'), '/srv/jail/firecracker/vm1/root');
});

test('firecracker end to end (boot, exec, files)', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'ak-fc-home-'));
  const saved = process.env.AGENTKERNEL_HOME;
  process.env.AGENTKERNEL_HOME = home;
  const b = createFirecrackerBackend({ poolSize: 0 });
  try {
    const a = await b.availability();
    if (!a.available) {
      t.skip(`firecracker unavailable: ${a.reason}`);
      return;
    }
    const r = await b.run(['sh', '-c', 'echo hi; echo e >&2; exit 3'], { timeoutMs: 60_000, memoryMb: 256 });
    assert.deepEqual([r.exitCode, r.stdout, r.stderr], [3, 'hi\n', 'e\n']);
  } finally {
    await b.close();
    if (saved === undefined) delete process.env.AGENTKERNEL_HOME;
    else process.env.AGENTKERNEL_HOME = saved;
    rmSync(home, { recursive: true, force: true });
  }
});
