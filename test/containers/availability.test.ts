/** availability(): the exact reason when an engine cannot be used (missing CLI, daemon down), facts when it can. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerBackend } from '../../src/backends/container/backend.js';
import { explainFailure } from '../../src/backends/container/availability.js';
import { dockerProfile, createDockerBackend } from '../../src/backends/docker/index.js';
import { createPodmanBackend } from '../../src/backends/podman/index.js';
import { UnavailableError } from '../../src/core/errors.js';
import { findOnPath } from '../../src/backends/podman/which.js';
import { SandboxStore } from '../../src/service/store.js';
import { tempDir } from './tmp.js';

const store = () => new SandboxStore(tempDir('ak-store'));

test('a missing CLI: unavailable, and saying which', async () => {
  for (const make of [createDockerBackend, createPodmanBackend]) {
    const b = make({ binary: '/nonexistent/agentkernel-no-such-engine', store: store(), poolSize: 0 });
    const a = await b.availability();
    assert.equal(a.available, false);
    assert.match(a.reason!, /not installed or not on PATH/);
    await assert.rejects(b.run(['true'], { image: 'busybox' }), UnavailableError);
  }
});

test('a docker daemon that is not running: unavailable, with how to start it', { skip: findOnPath('docker') ? false : 'the docker CLI is not installed' }, async () => {
  const profile = { ...dockerProfile(), globalArgs: () => ['--host', `unix://${join(tmpdir(), 'agentkernel-no-daemon.sock')}`] };
  const a = await new ContainerBackend(profile, { store: store(), poolSize: 0 }).availability();
  assert.equal(a.available, false);
  assert.match(a.reason!, /daemon is not running/);
  assert.match(a.reason!, /dockerd/);
});

test('failure wording: permission denied and unknown complaints', () => {
  assert.match(explainFailure('docker', 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock'),
    /permission denied.*'docker' group/);
  assert.match(explainFailure('podman', 'Error: something odd\n'), /podman is not usable: Error: something odd/);
});

test('an available engine reports its versions', async (t) => {
  for (const make of [createDockerBackend, createPodmanBackend]) {
    const a = await make({ store: store(), poolSize: 0 }).availability();
    if (!a.available) {
      t.diagnostic(`${a.reason}`);
      continue;
    }
    assert.ok(a.details?.clientVersion, JSON.stringify(a.details));
  }
});
