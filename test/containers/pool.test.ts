/**
 * The warm pool of ephemeral runs: a container serves one caller only (files, processes and identity of one run
 * never reach the next), warming is demand-driven, close() leaves nothing behind, and containers of pools whose
 * process died are reaped.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import type { ContainerBackend } from '../../src/backends/container/backend.js';
import { POOL_LABEL } from '../../src/backends/container/pool.js';
import { ENGINES, TEST_IMAGE, tempStore } from './engines.js';

/** Waits (without a deadline of its own: the test runner's timeout bounds it) until the pool has a ready container. */
async function untilReady(be: ContainerBackend, n = 1): Promise<void> {
  while (be.pool.stats().ready < n) await new Promise((r) => setTimeout(r, 50));
}

async function poolContainers(be: ContainerBackend, owner: string): Promise<string[]> {
  const out = await be.engine.check(['ps', '--all', '--filter', `label=${POOL_LABEL}=${owner}`, '--format', '{{.Names}}']);
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

for (const engine of ENGINES) {
  describe(`${engine.name}: warm pool for ephemeral runs`, { skip: engine.skip }, () => {
    test('a pooled container is never handed to a second caller: files, processes and hostname are fresh', { timeout: 60_000 }, async () => {
      const be = engine.make({ store: tempStore(), poolSize: 1 });
      try {
        const opts = { image: TEST_IMAGE, profile: 'moderate' };
        await be.prewarm(opts);
        assert.equal(be.pool.stats().ready, 1);
        const first = await be.run(['sh', '-c', 'echo secret > /tmp/left-behind; sleep 600 >/dev/null 2>&1 & hostname'], opts);
        assert.equal(first.exitCode, 0);
        await untilReady(be);
        const second = await be.run(['sh', '-c', 'cat /tmp/left-behind 2>&1; ps -o args | grep -c "[s]leep 600"; hostname'], opts);
        const [cat, sleepers, host] = second.stdout.trim().split('\n');
        assert.match(cat, /No such file/, 'the file of the previous caller is gone');
        assert.equal(sleepers, '0', 'the process of the previous caller is gone');
        assert.notEqual(host, first.stdout.trim(), 'a different container');
      } finally {
        await be.close();
      }
    });

    test('warming is demand-driven, and close() removes every container of the pool', { timeout: 60_000 }, async () => {
      const be = engine.make({ store: tempStore(), poolSize: 1 });
      const opts = { image: TEST_IMAGE, profile: 'restrictive' };
      try {
        await be.run(['true'], opts);
        assert.deepEqual(be.pool.stats(), { ready: 0, starting: 0 }, 'a single run warms nothing');
        await be.run(['true'], opts);
        const s = be.pool.stats();
        assert.equal(s.ready + s.starting, 1, 'a repeated kind of run keeps one container ready');
        await untilReady(be);
        const r = await be.run(['sh', '-c', 'echo warm run; id -u'], opts);
        assert.equal(r.stdout, 'warm run\n65534\n', 'the warm container has the profile of the run');
      } finally {
        await be.close();
      }
      assert.deepEqual(await poolContainers(be, be.pool.owner), []);
    });

    test('a timed-out pooled run is stopped by removing its container', { timeout: 60_000 }, async () => {
      const be = engine.make({ store: tempStore(), poolSize: 1 });
      try {
        const opts = { image: TEST_IMAGE, profile: 'moderate' };
        await be.prewarm(opts);
        const r = await be.run(['sleep', '60'], { ...opts, timeoutMs: 800 });
        assert.equal(r.exitCode, 124);
        assert.equal(r.timedOut, true);
      } finally {
        await be.close();
      }
      assert.deepEqual(await poolContainers(be, be.pool.owner), []);
    });

    test('containers left by a pool whose process died are reaped', { timeout: 60_000 }, async () => {
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its PID is no longer alive
      const owner = `${hostname()}:${dead}`;
      const be = engine.make({ store: tempStore(), poolSize: 0 });
      try {
        await be.engine.check(['run', '--detach', '--label', `${POOL_LABEL}=${owner}`, ...be.engine.profile.createArgs(),
          '--entrypoint', '/bin/sh', '--', TEST_IMAGE, '-c', 'sleep 600']);
        assert.equal((await poolContainers(be, owner)).length, 1);
        await be.run(['true'], { image: TEST_IMAGE });
      } finally {
        await be.close(); // reaping runs in the background of the first run; close() waits for it
      }
      assert.deepEqual(await poolContainers(be, owner), []);
    });
  });
}
