/**
 * The podman backend: the shared container driver with podman's specifics. Podman has no daemon: each call
 * runs the engine in this process's limits and cgroup setup, adapted by host.ts. The OCI runtime is a global
 * flag, so a container created under gVisor (runsc) is always addressed with it. Podman 4 may lose the output
 * of an `exec -i` whose command exits without reading all its stdin, so such commands drain it first.
 */
import { UnavailableError } from '../../core/errors.js';
import { ContainerBackend, type ContainerBackendOptions } from '../container/backend.js';
import type { EngineProfile } from '../container/engine.js';
import { detectPodmanHost, type PodmanHost } from './host.js';
import { findOnPath } from './which.js';

export function podmanProfile(binary = 'podman', host: PodmanHost = detectPodmanHost()): EngineProfile {
  const runtimePath = (runtime?: string): string | undefined => (runtime ? findOnPath(runtime) ?? runtime : host.runtime);
  return {
    name: 'podman',
    binary,
    globalArgs: (runtime) => {
      const r = runtimePath(runtime);
      return r ? ['--runtime', r] : [];
    },
    createArgs: () => [...host.ulimitArgs],
    async checkRuntime(_engine, runtime) {
      if (!findOnPath(runtime)) {
        throw new UnavailableError(`the OCI runtime '${runtime}' is not installed (podman runs it from PATH); install gVisor's runsc`, {
          engine: 'podman', runtime,
        });
      }
    },
    removeNow: ['rm', '--force', '--time', '0'],
    drainStdin: true,
    describe: () => ({
      ...(host.runtime ? { runtime: host.runtime, runtimeReason: host.runtimeReason } : {}),
      ...(host.ulimitArgs.length ? { ulimits: host.ulimitArgs.filter((a) => a !== '--ulimit') } : {}),
    }),
  };
}

export class PodmanBackend extends ContainerBackend {
  constructor(opts: ContainerBackendOptions & { binary?: string } = {}) {
    super(podmanProfile(opts.binary), opts);
  }
}

export function createPodmanBackend(opts: ContainerBackendOptions & { binary?: string } = {}): PodmanBackend {
  return new PodmanBackend(opts);
}
