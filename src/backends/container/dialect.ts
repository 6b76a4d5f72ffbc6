/**
 * How one container CLI words the calls the driver needs beyond the shared ones (`exec`, `start`, `stop`, removal):
 * probing, creating a container, reading its state and labels back, checking an image. Docker and podman speak the
 * same dialect (Go templates, `ps --filter`); Apple's `container` CLI speaks JSON only and lacks some flags, so it
 * brings its own (src/backends/apple). Everything else of the container backend is shared.
 */
import type { Availability, SandboxStatus } from '../../core/types.js';
import type { InspectData } from './applied.js';
import { probeEngine } from './availability.js';
import type { ContainerEngine } from './engine.js';
import { containerState, type ContainerState } from './exec.js';
import { oneShotArgs, runArgs, type ContainerPlan, type OneShotOptions, type RunArgsOptions } from './plan.js';

export interface PlanGap {
  layer: string;
  reason: string;
}

export interface EngineDialect {
  /** Is the engine usable here, and if not, exactly why. */
  probe(engine: ContainerEngine): Promise<Availability>;
  /** argv of the call that creates and starts a container idling under IDLE_INIT; UnsupportedError for what it cannot do. */
  runArgs(plan: ContainerPlan, opts: RunArgsOptions): string[];
  /**
   * argv of `run --rm` of the command itself, for a cold ephemeral run in one engine call. Optional: an engine
   * without it starts an idle container and execs into it, as pooled runs do.
   */
  oneShotArgs?(plan: ContainerPlan, opts: OneShotOptions): string[];
  /** Profile settings this engine has no way to apply: ephemeral runs report them as missing instead of claiming them. */
  gaps(plan: ContainerPlan): PlanGap[];
  /** Isolation layers every container of this engine has besides the container's own (e.g. a VM per container). */
  extraLayers: readonly string[];
  /** The engine's view of one container, in the shape applied.ts reads. */
  inspect(engine: ContainerEngine, container: string, runtime?: string): Promise<InspectData>;
  /** 'running', 'exited', 'missing'…: decides whether a failed exec was the guest's or the engine's. */
  containerState(engine: ContainerEngine, container: string, runtime?: string): Promise<ContainerState>;
  /** Container name → status of every container carrying `label`. */
  containerStates(engine: ContainerEngine, label: string): Promise<Map<string, SandboxStatus>>;
  /** Names (or ids) and label values of every container carrying `label`. */
  listLabelled(engine: ContainerEngine, label: string): Promise<{ name: string; owner: string }[]>;
  /** argv of the call that succeeds only when `image` is in the local store. */
  imageInspectArgs(image: string): string[];
  /** The commands that put a missing image into the local store, for the error that names it. */
  provideImageHint(engine: ContainerEngine, image: string): string;
  /** The engine's words for a container that does not exist. */
  missingContainerRe: RegExp;
}

/** `.Status` is the one `ps` field docker and podman word alike: "Up 3 minutes", "Exited (0) …", "Created". */
export function statusFromPs(s: string): SandboxStatus {
  return /^up\b/i.test(s) && !/paused/i.test(s) ? 'running' : /^created/i.test(s) ? 'created' : 'stopped';
}

// Functions are wrapped so that this object can be built while the modules it uses are still loading.
export const DOCKER_DIALECT: EngineDialect = {
  probe: (engine) => probeEngine(engine),
  runArgs: (plan, opts) => runArgs(plan, opts),
  oneShotArgs: (plan, opts) => oneShotArgs(plan, opts),
  gaps: () => [],
  extraLayers: [],
  async inspect(engine, container, runtime) {
    // without --format both engines print a JSON array of one object
    const raw = await engine.check(['container', 'inspect', '--', container], { runtime });
    return (JSON.parse(raw) as InspectData[])[0] ?? {};
  },
  containerState: (engine, container, runtime) => containerState(engine, container, runtime),
  async containerStates(engine, label) {
    const out = await engine.check(['ps', '--all', '--filter', `label=${label}`, '--format', '{{.Names}}\t{{.Status}}'], { timeoutMs: 15_000 });
    const m = new Map<string, SandboxStatus>();
    for (const line of out.split('\n')) {
      const [n, s = ''] = line.trim().split('\t');
      if (n) m.set(n, statusFromPs(s));
    }
    return m;
  },
  async listLabelled(engine, label) {
    const ids = (await engine.check(['ps', '--all', '--quiet', '--filter', `label=${label}`], { timeoutMs: 15_000 }))
      .split('\n').map((l) => l.trim()).filter(Boolean);
    if (ids.length === 0) return [];
    const r = await engine.call(['container', 'inspect', '--format', `{{.Id}}\t{{index .Config.Labels "${label}"}}`, '--', ...ids], { timeoutMs: 15_000 });
    // a container removed between the two calls makes inspect fail for it only; the others are still printed
    return r.stdout.split('\n').map((l) => l.trim().split('\t')).filter((f) => f[0]).map(([name, owner = '']) => ({ name, owner }));
  },
  imageInspectArgs: (image) => ['image', 'inspect', '--format', '{{.Id}}', '--', image],
  provideImageHint: ({ name: e }, image) =>
    `\`${e} load -i IMAGE.tar\` (an image saved elsewhere with \`${e} save\`), \`${e} import ROOTFS.tar ${image}\` ` +
    `(a root filesystem tarball), or \`${e} pull ${image}\` where a registry is reachable`,
  missingContainerRe: /no such container|no container with name/i,
};
