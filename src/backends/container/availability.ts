/**
 * Is the engine usable here, and if not, exactly why: the CLI missing, the daemon not running, the socket not
 * ours to use, or no answer in time. `ENGINE version` is the probe: it is fast (~20-30 ms) and, for docker, needs
 * the daemon to answer.
 */
import { isAgentKernelError } from '../../core/errors.js';
import type { Availability } from '../../core/types.js';
import { lastLine, type ContainerEngine } from './engine.js';

const PROBE_TIMEOUT_MS = 5_000;

interface VersionJson {
  Client?: { Version?: string; ApiVersion?: string; APIVersion?: string } | null;
  Server?: { Version?: string; Components?: { Name?: string; Version?: string }[] } | null;
}

export async function probeEngine(engine: ContainerEngine): Promise<Availability> {
  const e = engine.name;
  let r;
  try {
    r = await engine.call(['version', '--format', '{{json .}}'], { timeoutMs: PROBE_TIMEOUT_MS });
  } catch (err) {
    if (isAgentKernelError(err) && err.code === 'TIMEOUT') {
      return { available: false, reason: `the ${e} engine did not answer '${e} version' within ${PROBE_TIMEOUT_MS / 1000} s` };
    }
    return { available: false, reason: (err as Error).message };
  }
  let v: VersionJson = {};
  try {
    v = JSON.parse(r.stdout.trim() || '{}') as VersionJson;
  } catch {
    // older CLIs print text around the JSON on failure; the exit code and stderr below decide
  }
  if (r.exitCode !== 0) return { available: false, reason: explainFailure(e, r.stderr) };
  const details: Record<string, unknown> = {
    engine: e,
    binary: engine.profile.binary,
    clientVersion: v.Client?.Version,
    ...(v.Server ? { serverVersion: v.Server.Version ?? v.Server.Components?.find((c) => c.Name === 'Engine')?.Version } : {}),
    ...engine.profile.describe(),
  };
  return { available: true, details };
}

export function explainFailure(engine: string, stderr: string): string {
  const why = lastLine(stderr) || 'no message';
  if (/permission denied/i.test(stderr)) {
    return `permission denied talking to the ${engine} engine (${why}): run as a user allowed to use it (e.g. in the '${engine}' group)`;
  }
  if (/cannot connect|is the docker daemon running|connection refused|no such file or directory|dial unix/i.test(stderr)) {
    return `the ${engine} daemon is not running (${why}): start it, e.g. \`systemctl start ${engine}\` or \`${engine === 'docker' ? 'dockerd' : 'podman system service'} &\``;
  }
  return `${engine} is not usable: ${why}`;
}
