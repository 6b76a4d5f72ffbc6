/**
 * Backend selection. `-B/--backend NAME` (or config/env) wins; otherwise the first backend, in the order of the
 * operation's workload, that is available on this machine, may be picked automatically (Availability.autoSelect)
 * AND has the capability the operation needs. The orders follow the project's design: the strongest isolation that
 * can do the job first, the portable `wasm` engine last (it always works).
 */
import { UnavailableError } from '../core/errors.js';
import type { Availability, Backend, BackendName, Capabilities, CapabilityName } from '../core/types.js';
import { hasCapability, unsupported } from './base.js';
import { BACKENDS, backendEntry, loadBackend } from './registry.js';

/** What an operation is: Wasm modules, interpreted code, or work that needs a real shell and filesystem. */
export type Workload = 'wasm' | 'code' | 'shell';

/** Wasm and code prefer the micro-VM that runs Wasm without a guest OS; shells prefer full Linux microVMs. */
export const WORKLOAD_ORDER: Readonly<Record<Workload, readonly BackendName[]>> = {
  wasm: ['hyperlight', 'firecracker', 'qemu', 'apple', 'podman', 'docker', 'wasm'],
  code: ['hyperlight', 'firecracker', 'qemu', 'apple', 'podman', 'docker', 'wasm'],
  shell: ['firecracker', 'qemu', 'apple', 'podman', 'docker', 'wasm'],
};

/** The preference order of the widest workload, for docs and listings; selection uses WORKLOAD_ORDER. */
export const SELECTION_ORDER: readonly BackendName[] = WORKLOAD_ORDER.wasm;

export function workloadOf(capability: CapabilityName): Workload {
  if (capability.startsWith('runCode:') || capability === 'snapshot') return 'code';
  if (capability === 'runWasm' || capability === 'invoke' || capability === 'wasmComponent') return 'wasm';
  return 'shell';
}

/** The backends an operation with `capability` may land on, in preference order. */
export function selectionOrder(capability: CapabilityName): readonly BackendName[] {
  return WORKLOAD_ORDER[workloadOf(capability)];
}

/**
 * Availability probes run commands (`docker version`) or read files; a server handling many requests must not pay
 * that per request. A short-lived answer is reused; `probe()` (status, setup) always asks afresh.
 */
const AVAILABILITY_TTL_MS = 5_000;
const availabilityCache = new Map<BackendName, { at: number; value: Promise<Availability> }>();

function cachedAvailability(b: Backend): Promise<Availability> {
  const hit = availabilityCache.get(b.name);
  if (hit && Date.now() - hit.at < AVAILABILITY_TTL_MS) return hit.value;
  const value = b.availability().catch((err: Error) => ({ available: false, reason: err.message }));
  availabilityCache.set(b.name, { at: Date.now(), value });
  return value;
}

/** What selection needs of a backend: its capabilities and availability. */
export interface SelectableBackend {
  readonly name: BackendName;
  capabilities(): Capabilities;
  availability(): Promise<Availability>;
}

/**
 * One entry selection can consider. `load` is called only when selection reaches it (backends load lazily);
 * an entry without `load` is not implemented in this version.
 */
export interface Candidate<B extends SelectableBackend = SelectableBackend> {
  name: BackendName;
  load?: () => Promise<B>;
}

/**
 * Pick among `candidates` (any order; each workload's order decides). The seam that tests drive with fake
 * backends; the real path passes the registry. With `explicit`, that backend must be available and capable,
 * whatever its autoSelect says.
 */
export async function selectFrom<B extends SelectableBackend>(
  capability: CapabilityName,
  candidates: readonly Candidate<B>[],
  opts: { explicit?: BackendName; availability?: (b: B) => Promise<Availability> } = {},
): Promise<B> {
  const availability = opts.availability ?? ((b: B) => b.availability().catch((err: Error) => ({ available: false, reason: err.message })));
  const find = (name: BackendName): Candidate<B> | undefined => candidates.find((c) => c.name === name);
  if (opts.explicit) {
    const c = find(opts.explicit);
    if (!c) throw new UnavailableError(`unknown backend '${opts.explicit}'`, { backend: opts.explicit });
    if (!c.load) throw new UnavailableError(`backend '${opts.explicit}' is not implemented in this version of agentkernel`, { backend: opts.explicit });
    const b = await c.load();
    if (!hasCapability(b.capabilities(), capability)) throw unsupported(b.name, capability, (b as Partial<Pick<Backend, 'unsupportedReason'>>).unsupportedReason?.(capability));
    const a = await availability(b);
    if (!a.available) throw new UnavailableError(`backend '${opts.explicit}' is unavailable: ${a.reason ?? 'unknown reason'}`, { backend: opts.explicit });
    return b;
  }
  const skipped: string[] = [];
  for (const name of selectionOrder(capability)) {
    const c = find(name);
    if (!c?.load) continue;
    let b: B;
    try {
      b = await c.load();
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message}`);
      continue;
    }
    if (!hasCapability(b.capabilities(), capability)) continue;
    const a = await availability(b);
    if (!a.available) {
      skipped.push(`${name}: ${a.reason ?? 'unavailable'}`);
      continue;
    }
    if (a.autoSelect === false) {
      skipped.push(`${name}: only with -B ${name} (${a.reason ?? 'not picked automatically'})`);
      continue;
    }
    return b;
  }
  throw new UnavailableError(`no available backend can do '${capability}' here (${skipped.join('; ') || 'none implements it'})`, {
    capability, skipped,
  });
}

const REGISTRY_CANDIDATES: readonly Candidate<Backend>[] = BACKENDS.map((e) => ({
  name: e.name,
  ...(e.load ? { load: () => loadBackend(e.name) } : {}),
}));

export interface BackendStatus {
  name: BackendName;
  summary: string;
  implemented: boolean;
  available: boolean;
  /** false: available, but used only when named with -B (see Availability.autoSelect). */
  autoSelect: boolean;
  reason?: string;
  details?: Record<string, unknown>;
}

/** Availability of one backend, never throwing (a probe that fails is an unavailable backend with its reason). */
export async function probe(name: BackendName): Promise<BackendStatus> {
  const e = backendEntry(name);
  const base = { name, summary: e.summary, implemented: Boolean(e.load) };
  if (!e.load) return { ...base, available: false, autoSelect: false, reason: 'not implemented in this version of agentkernel' };
  try {
    const b = await loadBackend(name);
    const a = await b.availability();
    return { ...base, available: a.available, autoSelect: a.available && a.autoSelect !== false, reason: a.reason, details: a.details };
  } catch (err) {
    return { ...base, available: false, autoSelect: false, reason: (err as Error).message };
  }
}

export async function probeAll(): Promise<BackendStatus[]> {
  return Promise.all(BACKENDS.map((b) => probe(b.name)));
}

/** The capability that stands for each workload when showing what selection would pick. */
export const WORKLOAD_PROBES: readonly { label: string; capability: CapabilityName }[] = [
  { label: 'wasm', capability: 'runWasm' },
  { label: 'code (javascript)', capability: 'runCode:javascript' },
  { label: 'code (python)', capability: 'runCode:python' },
  { label: 'shell', capability: 'exec' },
];

/**
 * What automatic selection picks for each workload, decided from already-probed statuses (so `status` probes each
 * backend once). Loading a backend to read its capabilities is cheap; availability comes from `statuses`.
 */
export async function picksFrom(statuses: readonly BackendStatus[]): Promise<{ label: string; capability: CapabilityName; backend?: BackendName; error?: string }[]> {
  const byName = new Map(statuses.map((s) => [s.name, s]));
  return Promise.all(WORKLOAD_PROBES.map(async ({ label, capability }) => {
    try {
      const b = await selectFrom(capability, REGISTRY_CANDIDATES, {
        availability: async (x) => {
          const s = byName.get(x.name);
          return s ? { available: s.available, autoSelect: s.autoSelect, reason: s.reason } : { available: false, reason: 'not probed' };
        },
      });
      return { label, capability, backend: b.name };
    } catch (err) {
      return { label, capability, error: (err as Error).message };
    }
  }));
}

/**
 * Pick the backend for an operation. With an explicit name the backend must be available and capable (clear
 * errors otherwise); without one, the first available, auto-selectable, capable backend in the workload's order.
 */
export async function selectBackend(capability: CapabilityName, explicit?: BackendName): Promise<Backend> {
  return selectFrom(capability, REGISTRY_CANDIDATES, { explicit, availability: cachedAvailability });
}
