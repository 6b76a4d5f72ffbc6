/**
 * Security profiles applied for real: each claim is proven by a command in the container that tries (reach the
 * network, write the root filesystem, use a capability, fork past the pids limit, allocate past the memory cap).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, UnavailableError } from '../../src/core/errors.js';
import { EXIT } from '../../src/core/types.js';
import type { ContainerBackend } from '../../src/backends/container/backend.js';
import { ENGINES, TEST_IMAGE, tempDir, tempStore, uniqueName } from './engines.js';

/** Prints one fact per line: uid, network interfaces, root writable?, capabilities, a connection attempt. */
const PROBE = [
  'echo "uid=$(id -u)"',
  'echo "ifaces=$(ls /sys/class/net | tr "\\n" " ")"',
  // /etc belongs to root with mode 755: writable by root even without CAP_DAC_OVERRIDE, unless the root is read-only
  'if touch /etc/probe 2>/dev/null; then echo root=rw; else echo root=ro; fi',
  'if touch /tmp/probe 2>/dev/null; then echo tmp=rw; else echo tmp=ro; fi',
  'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\\t"',
  'echo "net=$(nc -w 3 192.0.2.1 80 </dev/null 2>&1 | tr "\\n" " ")"',
].join('; ');

function facts(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z]+)[=:](.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

for (const engine of ENGINES) {
  describe(`${engine.name}: security profiles`, { skip: engine.skip }, () => {
    let be: ContainerBackend;
    const sandboxes: string[] = [];

    before(() => {
      be = engine.make({ store: tempStore() });
    });
    after(async () => {
      for (const n of sandboxes) await be.remove(n).catch(() => {});
      await be.close();
    });

    test('restrictive: no network, read-only root with a writable /tmp, no capabilities, non-root', async () => {
      const r = await be.run(['sh', '-c', PROBE], { image: TEST_IMAGE, profile: 'restrictive' });
      const f = facts(r.stdout);
      assert.equal(f.uid, '65534');
      assert.equal(f.ifaces, 'lo', 'only the loopback interface exists');
      assert.match(f.net, /unreachable/i, 'a connection attempt finds no network');
      assert.equal(f.root, 'ro');
      assert.equal(f.tmp, 'rw');
      assert.equal(f.CapEff, '0000000000000000');
      assert.equal(f.NoNewPrivs, '1');
      assert.equal(f.Seccomp, '2', "the engine's seccomp filter is in force");
      for (const layer of ['no-network', 'read-only-root', 'no-capabilities', 'no-new-privileges', 'seccomp', 'non-root']) {
        assert.ok(r.isolation?.layers.includes(layer), `isolation report lacks ${layer}`);
      }
    });

    test('moderate: network, writable root, root user without capabilities', async () => {
      const r = await be.run(['sh', '-c', `${PROBE}; touch /tmp/f; chown 1 /tmp/f 2>&1 || true`], { image: TEST_IMAGE, profile: 'moderate' });
      const f = facts(r.stdout);
      assert.equal(f.uid, '0');
      assert.ok(f.ifaces.split(' ').some((i) => i !== 'lo'), `a network interface besides lo: ${f.ifaces}`);
      assert.doesNotMatch(f.net, /unreachable/i);
      assert.equal(f.root, 'rw');
      assert.equal(f.CapEff, '0000000000000000');
      assert.match(r.stdout, /Operation not permitted/, 'chown needs a capability root no longer has');
      assert.ok(!r.isolation?.layers.includes('no-network'));
    });

    test('permissive: capabilities kept, host directories mountable (read-only unless asked)', async () => {
      const dir = tempDir('ak-mount');
      chmodSync(dir, 0o777);
      writeFileSync(join(dir, 'from-host.txt'), 'host data');
      const ro = await be.run(['sh', '-c', `${PROBE}; cat /work/from-host.txt; echo; touch /work/new 2>&1 || true`], {
        image: TEST_IMAGE, profile: 'permissive', mounts: [{ hostPath: dir, guestPath: '/work', readOnly: true }],
      });
      assert.notEqual(facts(ro.stdout).CapEff, '0000000000000000');
      assert.match(ro.stdout, /host data/);
      assert.match(ro.stdout, /Read-only file system/);
      await be.run(['sh', '-c', 'echo from-guest > /work/out.txt'], {
        image: TEST_IMAGE, profile: 'permissive', mounts: [{ hostPath: dir, guestPath: '/work', readOnly: false }],
      });
      assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), 'from-guest\n');
      await assert.rejects(be.run(['true'], { image: TEST_IMAGE, profile: 'moderate', mounts: [{ hostPath: dir, guestPath: '/work', readOnly: true }] }),
        /does not allow host mounts/);
    });

    test('memory cap: a command that allocates past it is killed (137)', async () => {
      const r = await be.run(['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived ${#x}'], {
        image: TEST_IMAGE, profile: 'moderate', memoryMb: 32,
      });
      assert.equal(r.exitCode, EXIT.MEMORY, `exit ${r.exitCode}: ${r.stdout}${r.stderr}`);
      assert.doesNotMatch(r.stdout, /survived/);
    });

    test('pids limit: forking past it fails inside the sandbox', async () => {
      const r = await be.run(['sh', '-c', 'for i in $(seq 1 100); do sleep 30 & done 2>&1; echo done'], { image: TEST_IMAGE, profile: 'restrictive' });
      assert.match(r.stdout + r.stderr, /fork|Resource temporarily unavailable/i);
    });

    test('a restrictive sandbox: inspect shows every restriction, writes outside /tmp are refused', async () => {
      const name = uniqueName('strict');
      const info = await be.create({ name, image: TEST_IMAGE, profile: 'restrictive' });
      sandboxes.push(name);
      const a = info.applied as Record<string, unknown>;
      assert.deepEqual(
        [a.network, a.readOnlyRoot, a.capabilitiesDropped, a.noNewPrivileges, a.seccomp, a.pidsLimit, a.memoryMb, a.cpus, a.user, a.missing],
        ['none', true, 'ALL', true, 'engine default', 64, 256, 1, '65534:65534', undefined],
      );
      assert.ok((a.tmpfs as string[]).includes('/tmp'));
      await assert.rejects(be.writeFile(name, '/etc/evil', 'x'), ConflictError);
      await be.writeFile(name, '/tmp/fine', 'x');
      assert.equal((await be.exec(name, ['id', '-u'])).stdout, '65534\n');
    });

    test("gVisor: runtime 'runsc' runs under it where installed, else a clear UnavailableError", async () => {
      const g = engine.make({ store: tempStore(), runtime: 'runsc' });
      try {
        const r = await g.run(['uname', '-a'], { image: TEST_IMAGE }).catch((e: Error) => e);
        if (r instanceof Error) {
          assert.ok(r instanceof UnavailableError, String(r));
          assert.match(r.message, /runsc/);
        } else {
          assert.ok(r.isolation?.layers.includes('gvisor'));
        }
      } finally {
        await g.close();
      }
    });
  });
}
