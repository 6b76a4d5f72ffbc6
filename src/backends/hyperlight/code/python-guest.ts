/**
 * The CPython guest: CPython 3.11 built for wasm32-wasi with its driver (cpython-build.ts, guest/python/ak_python.c)
 * and compiled through the wasm2c pipeline like any module. Its WASI calls are served by the host's WASI, with the
 * standard library as a read-only preopen; the driver's exports are invoked like any export.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentKernelError } from '../../../core/errors.js';
import { compileGuest, type CompiledGuest } from '../compile.js';
import { guestToolchain } from '../toolchain.js';
import { buildCPython } from './cpython-build.js';
import { guestCacheDir, readMarker, writeMarker } from './guest-cache.js';

export type PythonDriverName = 'ak_py_init' | 'ak_py_init_error' | 'ak_py_input' | 'ak_py_run' | 'ak_py_grow' | 'ak_py_refused';
const DRIVER: PythonDriverName[] = ['ak_py_init', 'ak_py_init_error', 'ak_py_input', 'ak_py_run', 'ak_py_grow', 'ak_py_refused'];
/** The driver's imports from the host (module "agentkernel"): a session's tool calls. */
export type PythonHostImport = 'tool_call' | 'tool_result';
const HOST_MODULE = 'agentkernel';

export interface PythonGuest {
  guest: CompiledGuest;
  elf: Uint8Array;
  /** Host directory of the standard library (preopened read-only at GUEST_STDLIB). */
  stdlib: string;
  /** An empty host directory preopened read-only at `/`, so that `/` is a directory the guest can stand in. */
  root: string;
  /** AK_OP_INVOKE index of each driver export. */
  driver: Record<PythonDriverName, number>;
  /** Host import index (AK_HC_IMPORT_BASE + i) -> which import. */
  hostImports: PythonHostImport[];
}

interface Marker {
  imagePath: string;
  wasm: string;
  /** sha256 of the driver source the build was linked with */
  driver: string;
  stdlib: string;
  root: string;
  key: string;
}

let loading: Promise<PythonGuest> | undefined;
let prepared = false;

/**
 * Whether CPython is built and compiled for the micro-VM on this machine (by `agentkernel setup` or an earlier
 * run). Until then the backend does not offer Python: a first build takes minutes.
 */
export function pythonGuestPrepared(): boolean {
  prepared ||= readMarker('python') !== undefined;
  return prepared;
}

/** Builds CPython, compiles it for the micro-VM (both once per installation, cached) and loads it. */
export function pythonGuest(onProgress?: (message: string) => void): Promise<PythonGuest> {
  loading ??= loadPythonGuest(onProgress).catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

async function loadPythonGuest(onProgress?: (message: string) => void): Promise<PythonGuest> {
  const say = (text: string) => (onProgress ? onProgress(text) : process.stderr.write(`${text}\n`));
  const tc = await guestToolchain();
  const cache = guestCacheDir();
  // once built, the build's tools are not needed again: the marker names the build (of this very driver)
  const driverSource = join(tc.guestDir, 'python', 'ak_python.c');
  const driverHash = createHash('sha256').update(await readFile(driverSource)).digest('hex');
  const known = readMarker<Marker>('python');
  const built = known && known.driver === driverHash && existsSync(known.wasm) && existsSync(known.stdlib)
    ? { wasm: known.wasm, stdlib: known.stdlib, key: known.key }
    : await buildCPython(join(cache, 'cpython'), driverSource, (l) => say(`agentkernel: CPython for the micro-VM: ${l}...`));
  const guest = await compileGuest(new Uint8Array(await readFile(built.wasm)), {
    extras: { hostModules: [HOST_MODULE], sources: [] },
    cacheDir: cache,
    onProgress: () => say('agentkernel: compiling CPython for the micro-VM (wasm2c + gcc, once per installation: several minutes)...'),
  });
  const driver = {} as Record<PythonDriverName, number>;
  for (const name of DRIVER) {
    const index = guest.exports.find((e) => e.name === name)?.index;
    if (index === undefined) throw new AgentKernelError('INTERNAL', `the CPython guest does not export ${name}`);
    driver[name] = index;
  }
  const hostImports: PythonHostImport[] = [];
  for (const imp of guest.hostImports) {
    if (imp.index === undefined) continue;
    if (imp.name !== 'tool_call' && imp.name !== 'tool_result') throw new AgentKernelError('INTERNAL', `the CPython guest imports ${HOST_MODULE}.${imp.name}`);
    hostImports[imp.index] = imp.name;
  }
  const root = join(cache, 'cpython', 'root');
  await mkdir(root, { recursive: true });
  const elf = await readFile(guest.imagePath);
  const marker: Marker = { imagePath: guest.imagePath, wasm: built.wasm, driver: driverHash, stdlib: built.stdlib, root, key: built.key };
  await writeMarker('python', { ...marker });
  prepared = true;
  return { guest, elf, stdlib: built.stdlib, root, driver, hostImports };
}
