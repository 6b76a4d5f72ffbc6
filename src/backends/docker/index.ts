/**
 * The docker backend: the shared container driver with docker's few specifics. Another OCI runtime (gVisor's
 * runsc) is chosen per container with `run --runtime NAME` and must be registered with the daemon.
 */
import { UnavailableError } from '../../core/errors.js';
import { ContainerBackend, type ContainerBackendOptions } from '../container/backend.js';
import type { ContainerEngine, EngineProfile } from '../container/engine.js';

export function dockerProfile(binary = 'docker'): EngineProfile {
  return {
    name: 'docker',
    binary,
    globalArgs: () => [],
    createArgs: (runtime) => (runtime ? ['--runtime', runtime] : []),
    async checkRuntime(engine: ContainerEngine, runtime: string) {
      const out = await engine.check(['info', '--format', '{{json .Runtimes}}'], { timeoutMs: 15_000 });
      const runtimes = JSON.parse(out.trim() || '{}') as Record<string, unknown>;
      if (!runtimes[runtime]) {
        throw new UnavailableError(
          `the docker daemon has no '${runtime}' runtime registered (it has: ${Object.keys(runtimes).join(', ') || 'none'}); ` +
            'install gVisor, run `runsc install` and restart dockerd',
          { engine: 'docker', runtime },
        );
      }
    },
    removeNow: ['rm', '--force'],
    drainStdin: false,
    describe: () => ({}),
  };
}

export class DockerBackend extends ContainerBackend {
  constructor(opts: ContainerBackendOptions & { binary?: string } = {}) {
    super(dockerProfile(opts.binary), opts);
  }
}

export function createDockerBackend(opts: ContainerBackendOptions & { binary?: string } = {}): DockerBackend {
  return new DockerBackend(opts);
}
