/**
 * Apple's `container` CLI as a dialect of the shared container driver. It differs from docker's in three ways
 * that matter here:
 * - output is JSON only (`ls --format json`, `inspect`), no Go templates and no `ps --filter`: labels are filtered
 *   here, and the JSON shape changed at 1.0 (`status: "running"` became `status: { state: "running" }`), so
 *   parsing accepts both;
 * - each container is its own lightweight VM: `--cpus` takes whole CPUs and `--memory` sizes the VM;
 * - some docker flags do not exist: no --cap-drop, --security-opt, --pids-limit, and --tmpfs takes a path only.
 *   Those settings are reported as missing layers (EngineDialect.gaps, and inspect data without them), never
 *   claimed.
 * Sandbox names and image references are validated before they get here, and every positional value follows `--`.
 */
import { UnsupportedError, ValidationError } from '../../core/errors.js';
import type { Availability, SandboxStatus } from '../../core/types.js';
import type { InspectData } from '../container/applied.js';
import type { EngineDialect, PlanGap } from '../container/dialect.js';
import type { ContainerEngine } from '../container/engine.js';
import { IDLE_INIT, NON_ROOT_USER, type ContainerPlan, type RunArgsOptions } from '../container/plan.js';
import { statSync } from 'node:fs';

/** One container as `container ls --format json` / `container inspect` describe it, either generation. */
export interface AppleContainer {
  name: string;
  /** 'running', 'stopped', 'stopping', 'unknown'… as the CLI words it. */
  state: string;
  labels: Record<string, string>;
  image?: string;
  cpus?: number;
  memoryBytes?: number;
  readOnly?: boolean;
  /** Names of the networks it is attached to ('none', or nothing at all, for no network). */
  networks: string[];
  mounts: { type: string; source: string; destination: string; readOnly: boolean }[];
  runtime?: string;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Swift enums with payloads encode as `{ "virtiofs": {} }`; plain ones as strings. */
function enumCase(v: unknown): string {
  if (typeof v === 'string') return v;
  return Object.keys(obj(v))[0] ?? 'unknown';
}

function normalise(item: unknown): AppleContainer | undefined {
  const it = obj(item);
  const cfg = obj(it.configuration ?? it.config);
  const name = str(it.name) ?? str(cfg.name) ?? str(cfg.id) ?? str(it.id);
  if (!name) return undefined;
  const status = it.status;
  const state = typeof status === 'string' ? status : str(obj(status).state) ?? str(it.state) ?? 'unknown';
  const resources = obj(cfg.resources);
  const readOnly = cfg.readOnly ?? cfg.readonly;
  const networks = (Array.isArray(cfg.networks) ? cfg.networks : []).map((n) =>
    typeof n === 'string' ? n : str(obj(n).network) ?? str(obj(n).name) ?? str(obj(n).id) ?? 'unknown');
  const mounts = (Array.isArray(cfg.mounts) ? cfg.mounts : []).map((m) => {
    const o = obj(m);
    const options = Array.isArray(o.options) ? o.options : [];
    return {
      type: enumCase(o.type),
      source: str(o.source) ?? '',
      destination: str(o.destination) ?? str(o.target) ?? '',
      readOnly: options.includes('ro') || options.includes('readonly') || o.readonly === true,
    };
  });
  return {
    name,
    state: state.toLowerCase(),
    labels: stringMap(cfg.labels ?? it.labels),
    image: str(obj(cfg.image).reference) ?? str(cfg.image),
    cpus: num(resources.cpus),
    memoryBytes: num(resources.memoryInBytes),
    ...(typeof readOnly === 'boolean' ? { readOnly } : {}),
    networks,
    mounts,
    runtime: str(cfg.runtimeHandler),
  };
}

/** Parse the JSON array printed by `container ls --all --format json` or `container inspect NAME…`. */
export function parseContainers(json: string): AppleContainer[] {
  const text = json.trim();
  if (text === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ValidationError(`unexpected output from Apple's container CLI (not JSON): ${text.slice(0, 200)}`);
  }
  const items = Array.isArray(data) ? data : [data];
  return items.map(normalise).filter((c): c is AppleContainer => c !== undefined);
}

export function sandboxStatus(state: string): SandboxStatus {
  if (state === 'running') return 'running';
  if (state === 'created') return 'created';
  return 'stopped';
}

/** The container in the shape the shared applied.ts reads (docker's inspect field names). */
export function toInspectData(c: AppleContainer): InspectData {
  const noNetwork = c.networks.length === 0 || c.networks.every((n) => n === 'none');
  const binds = c.mounts.filter((m) => m.type === 'virtiofs' || m.type === 'bind');
  return {
    HostConfig: {
      NetworkMode: noNetwork ? 'none' : c.networks.join(','),
      ReadonlyRootfs: c.readOnly ?? false,
      Tmpfs: Object.fromEntries(c.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, ''])),
      PidsLimit: null,
      Memory: c.memoryBytes,
      NanoCpus: c.cpus === undefined ? undefined : c.cpus * 1e9,
      Runtime: c.runtime,
    },
    Mounts: binds.map((m) => ({ Type: 'bind', Source: m.source, Destination: m.destination, RW: !m.readOnly })),
    State: { Status: c.state, Running: c.state === 'running' },
  };
}

/** Apple gives a container whole CPUs: a fractional request gets the next whole number. */
export function wholeCpus(cpus: number): number {
  return Math.max(1, Math.ceil(cpus - 1e-9));
}

/** `container run --detach …`: create and start a container idling under IDLE_INIT. */
export function appleRunArgs(plan: ContainerPlan, opts: RunArgsOptions): string[] {
  if (plan.runtime) {
    throw new UnsupportedError(`Apple Containers run every container in its own VM and have no OCI runtime choice ('${plan.runtime}')`, {
      backend: 'apple', runtime: plan.runtime,
    });
  }
  const p = plan.profile;
  const args = ['run', '--detach', '--name', opts.name];
  if (opts.removeOnStop) args.push('--rm');
  for (const [k, v] of Object.entries(opts.labels)) args.push('--label', `${k}=${v}`);
  if (!plan.network) args.push('--network', 'none');
  if (p.readOnlyRoot) args.push('--read-only', '--tmpfs', '/tmp');
  args.push('--memory', `${plan.memoryMb}M`, '--cpus', String(wholeCpus(plan.cpus)));
  if (p.nonRootUser) args.push('--user', NON_ROOT_USER);
  for (const m of plan.mounts) {
    // the VM shares host directories over virtiofs; a single file cannot be shared
    if (!statSync(m.hostPath).isDirectory()) {
      throw new UnsupportedError(`Apple Containers can mount host directories only, and ${m.hostPath} is a file: mount its directory instead`, {
        backend: 'apple', hostPath: m.hostPath,
      });
    }
    args.push('--mount', `type=bind,source=${m.hostPath},target=${m.guestPath}${m.readOnly ? ',readonly' : ''}`);
  }
  for (const [k, v] of Object.entries(plan.env)) args.push('--env', `${k}=${v}`);
  args.push(...opts.engineArgs);
  args.push('--entrypoint', '/bin/sh', '--', plan.image, ...IDLE_INIT);
  return args;
}

/** What the profile asks for that Apple's CLI has no flag for. */
export function appleGaps(plan: ContainerPlan): PlanGap[] {
  const p = plan.profile;
  const gaps: PlanGap[] = [];
  if (p.dropCapabilities) {
    gaps.push({ layer: 'capabilities', reason: "Apple's container CLI has no --cap-drop: the guest keeps its capabilities (inside its own VM)" });
    gaps.push({ layer: 'no-new-privileges', reason: "Apple's container CLI has no --security-opt no-new-privileges" });
  }
  gaps.push({ layer: 'seccomp', reason: "Apple's container CLI has no seccomp option; the guest's own check reports what is in force" });
  gaps.push({ layer: 'pids', reason: `Apple's container CLI has no --pids-limit (asked ${plan.pidsLimit})` });
  if (wholeCpus(plan.cpus) !== plan.cpus) {
    gaps.push({ layer: 'cpus', reason: `Apple Containers get whole CPUs: ${wholeCpus(plan.cpus)} given, asked ${plan.cpus}` });
  }
  if (p.readOnlyRoot) gaps.push({ layer: 'tmpfs size', reason: "Apple's --tmpfs takes no size or mode: /tmp is not capped" });
  return gaps;
}

const CALL_TIMEOUT_MS = 15_000;
const MISSING_CONTAINER_RE = /not found|no such container|does not exist/i;

async function listAll(engine: ContainerEngine): Promise<AppleContainer[]> {
  return parseContainers(await engine.check(['ls', '--all', '--format', 'json'], { timeoutMs: CALL_TIMEOUT_MS }));
}

async function inspectOne(engine: ContainerEngine, container: string): Promise<AppleContainer | undefined> {
  const r = await engine.call(['inspect', '--', container], { timeoutMs: CALL_TIMEOUT_MS });
  if (r.exitCode !== 0) {
    if (MISSING_CONTAINER_RE.test(r.stderr)) return undefined;
    throw engine.failure('inspect', r);
  }
  return parseContainers(r.stdout).find((c) => c.name === container) ?? parseContainers(r.stdout)[0];
}

export function appleDialect(probe: (engine: ContainerEngine) => Promise<Availability>): EngineDialect {
  return {
    probe,
    runArgs: appleRunArgs,
    gaps: appleGaps,
    extraLayers: ['vm'],
    async inspect(engine, container) {
      const c = await inspectOne(engine, container);
      if (!c) throw engine.failure('inspect', { exitCode: 1, stdout: '', stderr: `container ${container} not found` });
      return toInspectData(c);
    },
    async containerState(engine, container) {
      const c = await inspectOne(engine, container);
      if (!c) return 'missing';
      return c.state === 'running' ? 'running' : c.state === 'stopped' ? 'exited' : c.state;
    },
    async containerStates(engine, label) {
      const m = new Map<string, SandboxStatus>();
      for (const c of await listAll(engine)) if (Object.hasOwn(c.labels, label)) m.set(c.name, sandboxStatus(c.state));
      return m;
    },
    async listLabelled(engine, label) {
      return (await listAll(engine)).filter((c) => Object.hasOwn(c.labels, label)).map((c) => ({ name: c.name, owner: c.labels[label] }));
    },
    imageInspectArgs: (image) => ['image', 'inspect', '--', image],
    provideImageHint: (_engine, image) =>
      '`container image load --input IMAGE.tar` (an image saved elsewhere with `container image save` or `docker save`), ' +
      `or \`container image pull ${image}\` where a registry is reachable`,
    missingContainerRe: MISSING_CONTAINER_RE,
  };
}
