/**
 * The apple backend: Apple Containers (github.com/apple/container) through the `container` CLI, as one more
 * engine of the shared container driver. Every container is its own lightweight VM on macOS 26+ with Apple
 * silicon; the driver's lifecycle, exec, files, pool and image checks are reused as they are, and only command
 * construction and output parsing differ (dialect.ts).
 */
import { isAgentKernelError, UnsupportedError } from '../../core/errors.js';
import type { Availability } from '../../core/types.js';
import { ContainerBackend, type ContainerBackendOptions } from '../container/backend.js';
import { lastLine, type ContainerEngine, type EngineProfile } from '../container/engine.js';
import { appleDialect } from './dialect.js';
import { currentHost, hostProblem, macosMajor, type HostFacts } from './host.js';

const PROBE_TIMEOUT_MS = 5_000;

/** `container --version` prints e.g. "container CLI version 0.5.0 (build: release, commit: 3fcf647)". */
export function parseAppleVersion(out: string): string | undefined {
  return /version\s+v?([0-9][^\s()]*)/i.exec(out)?.[1];
}

/** Usable here, and if not exactly why: the host (OS, version, chip), then the CLI, then its system service. */
export async function probeApple(engine: ContainerEngine, host: HostFacts = currentHost()): Promise<Availability> {
  const why = hostProblem(host);
  if (why) return { available: false, reason: why };
  const bin = engine.profile.binary;
  let v;
  try {
    v = await engine.call(['--version'], { timeoutMs: PROBE_TIMEOUT_MS });
  } catch (err) {
    const reason = (err as Error).message;
    if (isAgentKernelError(err) && err.code === 'UNAVAILABLE') {
      return { available: false, reason: `${reason}: install it from https://github.com/apple/container/releases` };
    }
    return { available: false, reason };
  }
  if (v.exitCode !== 0) return { available: false, reason: `'${bin} --version' failed: ${lastLine(v.stderr) || `exit ${v.exitCode}`}` };
  const s = await engine.call(['system', 'status'], { timeoutMs: PROBE_TIMEOUT_MS }).catch((err: Error) => ({ exitCode: -1, stdout: '', stderr: err.message }));
  if (s.exitCode !== 0) {
    return {
      available: false,
      reason: `the container system service is not running (${lastLine(s.stderr) || lastLine(s.stdout) || `exit ${s.exitCode}`}): start it with \`${bin} system start\``,
    };
  }
  return {
    available: true,
    details: { engine: 'apple', binary: bin, clientVersion: parseAppleVersion(v.stdout), macos: macosMajor(host.kernelRelease), isolation: 'one VM per container' },
  };
}

export function appleProfile(binary = 'container', host?: HostFacts): EngineProfile {
  return {
    name: 'apple',
    binary,
    globalArgs: () => [],
    createArgs: () => [],
    async checkRuntime(_engine, runtime) {
      throw new UnsupportedError(`Apple Containers run every container in its own VM and have no OCI runtime choice ('${runtime}')`, {
        backend: 'apple', runtime,
      });
    },
    removeNow: ['delete', '--force'],
    drainStdin: false,
    describe: () => ({}),
    dialect: appleDialect((engine) => probeApple(engine, host)),
  };
}

export type AppleBackendOptions = ContainerBackendOptions & { binary?: string; host?: HostFacts };

export class AppleBackend extends ContainerBackend {
  constructor(opts: AppleBackendOptions = {}) {
    super(appleProfile(opts.binary, opts.host), opts);
  }
}

export function createAppleBackend(opts: AppleBackendOptions = {}): AppleBackend {
  return new AppleBackend(opts);
}
