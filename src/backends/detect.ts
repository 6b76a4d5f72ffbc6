/**
 * Backend selection. `-B/--backend NAME` (or config/env) wins; otherwise the first backend, in the order below,
 * that is available on this machine AND has the capability the operation needs. The order follows the project's
 * design: the strongest isolation that can do the job first, the portable `wasm` engine last (it always works).
 */
import { UnavailableError } from '../core/errors.js';
import type { Availability, Backend, BackendName, CapabilityName } from '../core/types.js';
import { hasCapability, requireCapability } from './base.js';
import { BACKENDS, backendEntry, loadBackend } from './registry.js';

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

/** Preference order for automatic selection; capability filtering removes backends that cannot do the work. */
export const SELECTION_ORDER: readonly BackendName[] = ['hyperlight', 'firecracker', 'qemu', 'apple', 'podman', 'docker', 'wasm'];

export interface BackendStatus {
  name: BackendName;
  summary: string;
  implemented: boolean;
  available: boolean;
  reason?: string;
  details?: Record<string, unknown>;
}

/** Availability of one backend, never throwing (a probe that fails is an unavailable backend with its reason). */
export async function probe(name: BackendName): Promise<BackendStatus> {
  const e = backendEntry(name);
  const base = { name, summary: e.summary, implemented: Boolean(e.load) };
  if (!e.load) return { ...base, available: false, reason: 'not implemented in this version of agentkernel' };
  try {
    const b = await loadBackend(name);
    const a = await b.availability();
    return { ...base, available: a.available, reason: a.reason, details: a.details };
  } catch (err) {
    return { ...base, available: false, reason: (err as Error).message };
  }
}

export async function probeAll(): Promise<BackendStatus[]> {
  return Promise.all(BACKENDS.map((b) => probe(b.name)));
}

/**
 * Pick the backend for an operation. With an explicit name the backend must be available and capable (clear
 * errors otherwise); without one, the first available capable backend in SELECTION_ORDER.
 */
export async function selectBackend(capability: CapabilityName, explicit?: BackendName): Promise<Backend> {
  if (explicit) {
    const b = await loadBackend(explicit);
    requireCapability(b, capability);
    const a = await cachedAvailability(b);
    if (!a.available) throw new UnavailableError(`backend '${explicit}' is unavailable: ${a.reason ?? 'unknown reason'}`, { backend: explicit });
    return b;
  }
  const skipped: string[] = [];
  for (const name of SELECTION_ORDER) {
    const e = backendEntry(name);
    if (!e.load) continue;
    let b: Backend;
    try {
      b = await loadBackend(name);
    } catch (err) {
      skipped.push(`${name}: ${(err as Error).message}`);
      continue;
    }
    if (!hasCapability(b.capabilities(), capability)) continue;
    const a = await cachedAvailability(b);
    if (a.available) return b;
    skipped.push(`${name}: ${a.reason ?? 'unavailable'}`);
  }
  throw new UnavailableError(`no available backend can do '${capability}' here (${skipped.join('; ') || 'none implements it'})`);
}
