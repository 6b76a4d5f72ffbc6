/**
 * The list of backends and how to load each. Loading is lazy (dynamic import) so that a CLI command pays only
 * for the backend it uses. Adding a backend = one folder under src/backends/ + one entry here.
 */
import { UnavailableError } from '../core/errors.js';
import type { Backend, BackendName } from '../core/types.js';

export interface BackendEntry {
  name: BackendName;
  /** One line for `status` and docs. */
  summary: string;
  /** Present when the backend is implemented in this version. */
  load?: () => Promise<Backend>;
}

export const BACKENDS: readonly BackendEntry[] = [
  {
    name: 'hyperlight',
    summary: 'WebAssembly in KVM micro-VMs without a guest OS (Wasm + hardware isolation)',
    load: async () => new (await import('./hyperlight/backend.js')).HyperlightBackend(),
  },
  {
    name: 'firecracker',
    summary: 'Firecracker Linux microVMs (full shells behind a hardware boundary)',
    load: async () => (await import('./firecracker/index.js')).createFirecrackerBackend(),
  },
  {
    name: 'qemu',
    summary: 'QEMU microvm Linux microVMs (full shells behind a hardware boundary; software emulation where KVM cannot boot them)',
    load: async () => (await import('./qemu/index.js')).createQemuBackend(),
  },
  {
    name: 'apple',
    summary: 'Apple Containers on macOS 26+ (full shells, one lightweight VM per container)',
    load: async () => (await import('./apple/index.js')).createAppleBackend(),
  },
  {
    name: 'podman',
    summary: 'Podman containers (full shells)',
    load: async () => (await import('./podman/index.js')).createPodmanBackend(),
  },
  {
    name: 'docker',
    summary: 'Docker containers (full shells)',
    load: async () => (await import('./docker/index.js')).createDockerBackend(),
  },
  {
    name: 'wasm',
    summary: 'portable engine: V8 WebAssembly, QuickJS, Pyodide and a bash interpreter in jailed worker processes',
    load: async () => (await import('./wasm/index.js')).createWasmBackend(),
  },
];

export function backendEntry(name: BackendName): BackendEntry {
  const e = BACKENDS.find((b) => b.name === name);
  if (!e) throw new UnavailableError(`unknown backend '${name}'`);
  return e;
}

const loaded = new Map<BackendName, Promise<Backend>>();

/** The process-wide instance of a backend (backends hold pools, so there is one of each). */
export function loadBackend(name: BackendName): Promise<Backend> {
  let p = loaded.get(name);
  if (!p) {
    const e = backendEntry(name);
    if (!e.load) {
      return Promise.reject(new UnavailableError(`backend '${name}' is not implemented in this version of agentkernel`, { backend: name }));
    }
    p = e.load();
    p.catch(() => loaded.delete(name));
    loaded.set(name, p);
  }
  return p;
}

/** Close every backend loaded so far (pools, workers, VMs). */
export async function closeLoadedBackends(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  await Promise.allSettled(all.map(async (p) => (await p).close()));
}
