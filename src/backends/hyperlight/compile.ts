/**
 * Wasm module -> micro-VM guest image, ahead of time: wasm2c translates the module to C, gcc compiles it with the
 * per-module glue (glue.ts) and links it with the freestanding guest runtime (guest/) into a static ELF at
 * AK_IMAGE_BASE. Results are cached by content (module bytes + toolchain fingerprint) under the cache directory,
 * so a module is compiled once per machine; the runtime objects shared by every guest are compiled once too.
 *
 *   planGuest       what the module needs, and the clear errors for what the micro-VM cannot run
 *   translateGuest  wasm2c + glue.c into a directory
 *   compileGuest    the whole pipeline with the cache (what the backend calls)
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AbortError, AgentKernelError, UnsupportedError, ValidationError, throwIfAborted } from '../../core/errors.js';
import { dir as cacheDirOf } from '../../core/paths.js';
import { WASM_MAGIC } from '../../runtimes/wasm/binary.js';
import { detectFeatures, inspectModule } from '../../runtimes/wasm/module.js';
import { WASI_SIGNATURES } from '../../runtimes/wasi/signatures.js';
import { readElfImage } from './elf.js';
import {
  generateGlue, MODULE_NAME, notInvokable, WASI_MODULE, type ExtraExport, type FuncSig, type GuestExport, type HostImport,
  type ImportedMemory, type WasiImport,
} from './glue.js';
import { guestToolchain, type GuestToolchain } from './toolchain.js';

const run = promisify(execFile);

/**
 * Proposals the guest cannot run: wasm2c 1.0.32 rejects threads, tail calls, memory64 and extended-const; its
 * SIMD support can abort on valid modules, and the rest have no runtime support in the guest.
 */
const UNSUPPORTED_FEATURES = [
  'simd',
  'relaxed_simd',
  'threads',
  'tail_call',
  'memory64',
  'extended_const',
  'exceptions',
  'multi_memory',
  'gc',
  'function_references',
];

export interface GuestPlan {
  /** Function exports in module order; `index` is set on the ones AK_OP_INVOKE can call. */
  exports: GuestExport[];
  /** wasi_snapshot_preview1 functions imported, with their (checked) signatures. */
  wasiImports: WasiImport[];
  /** Function imports from GuestExtras.hostModules, in module order (host calls, or guest-implemented). */
  hostImports: HostImport[];
  /** A linear memory imported from one of GuestExtras.hostModules (the guest defines it). */
  importedMemory?: ImportedMemory;
  /** Exports `_start: [] -> []` (a WASI command). */
  hasStart: boolean;
  /** Exports `_initialize: [] -> []` (a WASI reactor). */
  hasInitialize: boolean;
}

export interface CompiledGuest extends GuestPlan {
  /** The guest image: a static ELF to load at AK_IMAGE_BASE. */
  imagePath: string;
  /** Cache key (hex sha256). */
  key: string;
  /** AK_ABI_VERSION the image speaks. */
  abiVersion: number;
  /** Size of the ELF file, and the guest memory its segments occupy. */
  imageBytes: number;
  imageSpan: number;
  /** Served from the cache: neither wasm2c nor gcc ran. */
  cached: boolean;
  /** Milliseconds per stage of this call (zero stages did not run). */
  timings: { wasm2cMs: number; compileMs: number; linkMs: number; totalMs: number };
}

/**
 * What a guest needs beyond a WASI module: imports from other modules (a toolchain's own, e.g. Emscripten's
 * module "a") served by the host or by extra C sources linked into the guest, and C functions of those sources
 * that the host invokes like exports. Part of the cache key.
 */
export interface GuestExtras {
  /** Modules whose function imports become host imports (and whose memory import the guest defines). */
  hostModules: string[];
  /** `module.name` of imports the extra sources implement themselves (with wasm2c's symbol and signature). */
  guestImports?: string[];
  /** Invokable C functions of the extra sources, numbered after the module's invokable exports. */
  extraExports?: ExtraExport[];
  /** C sources compiled with the module's header (module.h) on the include path, and generated headers. */
  sources: { name: string; text: string }[];
}

export interface CompileGuestOptions {
  signal?: AbortSignal;
  extras?: GuestExtras;
  /** Where the image is cached. @default `<cache>/hyperlight` of the agentkernel home */
  cacheDir?: string;
  /**
   * Progress for long compiles: called once if the compile is still running after a second. Defaults to a line
   * on stderr; pass `() => {}` to silence it.
   */
  onProgress?: (message: string) => void;
}

const sameSig = (a: FuncSig, b: FuncSig) =>
  a.params.length === b.params.length &&
  a.results.length === b.results.length &&
  a.params.every((t, i) => t === b.params[i]) &&
  a.results.every((t, i) => t === b.results[i]);
const showSig = (s: FuncSig) => `(${s.params.join(', ')}) -> (${s.results.join(', ')})`;

/**
 * What the module needs from the guest, or a clear error: ValidationError for bytes that are not a Wasm binary
 * and for imports the micro-VM cannot provide (anything but WASI preview1 functions), UnsupportedError naming
 * the proposals it uses that the guest cannot run.
 */
export async function planGuest(
  bytes: Uint8Array,
  wasiFunctions: readonly string[],
  extras: Pick<GuestExtras, 'hostModules' | 'guestImports'> = { hostModules: [] },
): Promise<GuestPlan> {
  if (bytes.length < 8 || !WASM_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new ValidationError('not a WebAssembly binary module (compile .wat text to a binary first)');
  }
  const used = await detectFeatures(bytes);
  const refused = UNSUPPORTED_FEATURES.filter((f) => used.includes(f));
  if (refused.length > 0) {
    throw new UnsupportedError(
      `the micro-VM cannot run modules that use ${refused.join(', ')} (not supported by its wasm2c-compiled guest); ` +
        `run it with the portable 'wasm' backend instead`,
      { features: refused },
    );
  }

  const info = inspectModule(bytes);
  const wasiImports: WasiImport[] = [];
  const hostImports: HostImport[] = [];
  let importedMemory: ImportedMemory | undefined;
  const refusedImports: string[] = [];
  for (const imp of info.imports) {
    const label = `${imp.module}.${imp.name}`;
    if (extras.hostModules.includes(imp.module) && imp.kind === 'func') {
      const sig = { params: [...(imp.params ?? [])], results: [...(imp.results ?? [])] };
      const reason = notInvokable(sig);
      if (reason || sig.results.length > 1) {
        refusedImports.push(`${label} (${reason ?? 'more than one result'})`);
        continue;
      }
      const inGuest = extras.guestImports?.includes(label);
      hostImports.push({ module: imp.module, name: imp.name, ...sig, ...(inGuest ? {} : { index: hostImports.filter((h) => h.index !== undefined).length }) });
      continue;
    }
    const mem = info.memory;
    if (extras.hostModules.includes(imp.module) && imp.kind === 'memory' && !importedMemory && mem?.imported && !mem.memory64 && !mem.shared) {
      importedMemory = { module: imp.module, name: imp.name, initial: mem.min, ...(mem.max !== undefined ? { maximum: mem.max } : {}) };
      continue;
    }
    if (imp.module !== WASI_MODULE || imp.kind !== 'func') {
      refusedImports.push(`${label} (${imp.kind})`);
      continue;
    }
    const expected = WASI_SIGNATURES[imp.name] as FuncSig | undefined;
    if (!expected || !wasiFunctions.includes(imp.name)) {
      refusedImports.push(`${label} (not a WASI preview1 function)`);
      continue;
    }
    const sig: FuncSig = { params: imp.params ?? [], results: imp.results ?? [] };
    if (!sameSig(sig, expected)) {
      refusedImports.push(`${label} (declared ${showSig(sig)}, WASI defines ${showSig(expected)})`);
      continue;
    }
    wasiImports.push({ name: imp.name, params: [...sig.params], results: [...sig.results] });
  }
  if (refusedImports.length > 0) {
    throw new ValidationError(
      `the micro-VM provides only WASI preview1 (${WASI_MODULE}) functions to a module; it cannot provide: ${refusedImports.join(', ')}`,
      { imports: refusedImports },
    );
  }

  const exports: GuestExport[] = [];
  let next = 0;
  let hasStart = false;
  let hasInitialize = false;
  for (const exp of info.exports) {
    if (exp.kind !== 'func') continue;
    const sig: FuncSig = { params: exp.params ?? [], results: exp.results ?? [] };
    const reason = notInvokable(sig);
    exports.push({ name: exp.name, params: [...sig.params], results: [...sig.results], ...(reason ? { reason } : { index: next++ }) });
    const nullary = sig.params.length === 0 && sig.results.length === 0;
    if (exp.name === '_start' && nullary) hasStart = true;
    if (exp.name === '_initialize' && nullary) hasInitialize = true;
  }
  return { exports, wasiImports, hostImports, ...(importedMemory ? { importedMemory } : {}), hasStart, hasInitialize };
}

/** Flags for every C and assembler file of a guest. `harness` builds for the native test harness instead of the VM. */
export function guestCFlags(tc: GuestToolchain, opts: { harness?: boolean } = {}): string[] {
  return [
    '-std=gnu11',
    '-ffreestanding',
    '-nostdinc',
    '-isystem', tc.gccInclude,
    // <...> resolves only to our libc headers and gcc's own; "..." also to wasm-rt.h's directory, last, because
    // that is usually /usr/include, whose C library headers must stay out of the guest
    '-I', join(tc.guestDir, 'include'),
    '-iquote', join(tc.guestDir, 'runtime'),
    '-iquote', tc.abiInclude,
    '-iquote', tc.wasmRtInclude,
    '-fno-stack-protector',
    '-fno-pic',
    '-fno-pie',
    '-fcf-protection=none',
    '-fno-asynchronous-unwind-tables',
    '-ffunction-sections',
    '-fdata-sections',
    // x86-64's SSE2 baseline; the VM enables SSE (CR4.OSFXSR) but not AVX state (no OSXSAVE)
    ...(tc.sse41 ? ['-msse4.1'] : []),
    ...(opts.harness ? ['-DAK_HARNESS'] : []),
  ];
}

/** Extra flags for C files: wasm-rt.h settings first (ak_config.h). */
function cOnlyFlags(tc: GuestToolchain): string[] {
  return ['-include', join(tc.guestDir, 'runtime', 'ak_config.h')];
}

export const RUNTIME_SOURCES = ['entry.S', 'libc.c', 'math.c', 'malloc.c', 'wasm_rt.c', 'runtime.c', 'wasi.c'];

async function gcc(tc: GuestToolchain, args: string[], signal?: AbortSignal, cwd?: string): Promise<void> {
  try {
    await run(tc.gcc, args, { signal, cwd, maxBuffer: 16 << 20 });
  } catch (err) {
    throwIfAborted(signal);
    const e = err as { stderr?: string; message: string };
    throw new AgentKernelError('INTERNAL', `guest build failed: ${tailLines(e.stderr || e.message, 20)}`, { command: [tc.gcc, ...args].join(' ') });
  }
}

function tailLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/**
 * Compile one C or assembler file of the guest. Guest runtime files get warnings as errors (they are ours);
 * wasm2c's output and the glue compile quietly. gcc runs in the source's directory and gets its bare name, so
 * no build directory ends up in the object: two builds of one module give the same image byte for byte.
 */
export async function compileGuestObject(
  tc: GuestToolchain,
  src: string,
  out: string,
  opts: { optLevel?: number; ours?: boolean; harness?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const isC = src.endsWith('.c');
  const args = [
    `-O${opts.optLevel ?? 2}`,
    ...guestCFlags(tc, opts),
    ...(isC ? cOnlyFlags(tc) : []),
    // the runtime's own libc must not be compiled into calls to itself
    ...(opts.ours ? ['-Wall', '-Wextra', '-Werror', '-fno-tree-loop-distribute-patterns'] : ['-w']),
    '-c', basename(src),
    '-o', resolve(out),
  ];
  await gcc(tc, args, opts.signal, dirname(src));
}

/** Builds of the runtime's objects in progress, by directory: concurrent compiles share one. */
const runtimeBuilds = new Map<string, Promise<string[]>>();

/**
 * The runtime's objects, compiled once per toolchain fingerprint into the cache and shared by every guest. No
 * caller's signal cancels the build: others may be waiting for it.
 */
export function runtimeObjects(tc: GuestToolchain): Promise<string[]> {
  const dir = join(cacheDirOf('cache', 'hyperlight'), `runtime-${tc.fingerprint.slice(0, 24)}`);
  let p = runtimeBuilds.get(dir);
  if (!p) {
    p = buildRuntimeObjects(tc, dir).finally(() => runtimeBuilds.delete(dir));
    runtimeBuilds.set(dir, p);
  }
  return p;
}

async function buildRuntimeObjects(tc: GuestToolchain, final: string): Promise<string[]> {
  const objects = (d: string) => RUNTIME_SOURCES.map((s) => join(d, s.replace(/\.[cS]$/, '.o')));
  if (await allExist(objects(final))) return objects(final);
  const tmp = await mkdtemp(join(final, '..', 'tmp-runtime-'));
  try {
    for (const src of RUNTIME_SOURCES) {
      await compileGuestObject(tc, join(tc.guestDir, 'runtime', src), join(tmp, src.replace(/\.[cS]$/, '.o')), { ours: true });
    }
    try {
      await rename(tmp, final);
    } catch (err) {
      // another process published the same objects first: theirs are identical
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return objects(final);
}

async function allExist(files: string[]): Promise<boolean> {
  for (const f of files) {
    try {
      await stat(f);
    } catch {
      return false;
    }
  }
  return true;
}

export interface GuestSources {
  moduleC: string;
  moduleH: string;
  glueC: string;
}

/** Run wasm2c on the module and write the glue next to its output, in `dir`. */
export async function translateGuest(
  bytes: Uint8Array,
  plan: GuestPlan,
  tc: GuestToolchain,
  dir: string,
  signal?: AbortSignal,
  extras?: GuestExtras,
): Promise<GuestSources> {
  const wasm = join(dir, 'module.wasm');
  const moduleC = join(dir, 'module.c');
  const moduleH = join(dir, 'module.h');
  await writeFile(wasm, bytes);
  let failure = '';
  try {
    await run(tc.wasm2c, ['-n', MODULE_NAME, wasm, '-o', moduleC], { signal, maxBuffer: 16 << 20 });
  } catch (err) {
    throwIfAborted(signal);
    const e = err as { stderr?: string; code?: number | string; signal?: string; message: string };
    const how = e.signal ? `killed by ${e.signal}` : typeof e.code === 'number' ? `exit status ${e.code}` : e.message;
    failure = `${how}${e.stderr?.trim() ? `: ${tailLines(e.stderr, 10)}` : ', no message'}`;
  }
  // wasm2c has been seen to exit 0 without output and 1 without a message: both the status and the files count
  if (!failure && !((await sizeOf(moduleC)) > 0 && (await sizeOf(moduleH)) > 0)) failure = 'it wrote no C output';
  if (failure) {
    throw new UnsupportedError(`wasm2c cannot translate this module for the micro-VM (${failure})`, { tool: tc.wasm2c });
  }
  const header = await readFile(moduleH, 'utf8');
  const glueC = join(dir, 'glue.c');
  await writeFile(glueC, generateGlue({ ...plan, header, headerFile: 'module.h', ...(extras?.extraExports ? { extraExports: extras.extraExports } : {}) }));
  for (const f of extras?.sources ?? []) await writeFile(join(dir, basename(f.name)), f.text);
  return { moduleC, moduleH, glueC };
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return -1;
  }
}

/** Big generated C takes minutes at -O2 for little gain; -O1 keeps interpreters (megabytes of C) practical. */
function optLevelFor(cBytes: number): number {
  return cBytes > 4 << 20 ? 1 : 2;
}

interface CacheMeta extends GuestPlan {
  abiVersion: number;
  imageBytes: number;
  imageSpan: number;
}

const inFlight = new Map<string, Promise<CompiledGuest>>();

/**
 * Compile a module into a guest image, or return the cached one. Concurrent calls for the same module share one
 * build in this process; across processes each builds privately and publishes by rename, so readers only ever
 * see complete files.
 */
export async function compileGuest(bytes: Uint8Array, opts: CompileGuestOptions = {}): Promise<CompiledGuest> {
  throwIfAborted(opts.signal);
  const tc = await guestToolchain();
  const hash = createHash('sha256').update(`agentkernel-guest\0abi ${tc.abiVersion}\0${tc.fingerprint}\0`);
  if (opts.extras) hash.update(`extras\0${JSON.stringify(opts.extras)}\0`);
  const key = hash.update(bytes).digest('hex');
  const root = opts.cacheDir ?? cacheDirOf('cache', 'hyperlight');
  await mkdir(root, { recursive: true });
  const id = join(root, key);
  let p = inFlight.get(id);
  if (!p) {
    // shared by every caller, so no caller's signal may cancel it: an abandoned build still fills the cache
    p = compileOrLoad(bytes, root, key, tc, opts.onProgress, opts.extras).finally(() => inFlight.delete(id));
    inFlight.set(id, p);
  }
  return opts.signal ? untilAborted(p, opts.signal) : p;
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function compileOrLoad(
  bytes: Uint8Array,
  root: string,
  key: string,
  tc: GuestToolchain,
  onProgress: ((message: string) => void) | undefined,
  extras?: GuestExtras,
): Promise<CompiledGuest> {
  const started = performance.now();
  const imagePath = join(root, `${key}.elf`);
  const metaPath = join(root, `${key}.json`);

  const hit = await loadCached(imagePath, metaPath, tc);
  if (hit) return { ...hit, imagePath, key, cached: true, timings: { wasm2cMs: 0, compileMs: 0, linkMs: 0, totalMs: performance.now() - started } };

  const plan = await planGuest(bytes, tc.wasiFunctions, extras);
  const progress = onProgress ?? ((m: string) => process.stderr.write(`${m}\n`));
  const timer = setTimeout(() => progress('agentkernel: compiling the Wasm module for the micro-VM (wasm2c + gcc, once per module)...'), 1000);
  timer.unref();
  const work = await mkdtemp(join(root, 'tmp-build-'));
  try {
    const runtime = runtimeObjects(tc);
    runtime.catch(() => {}); // awaited below; avoid an unhandled rejection while wasm2c runs

    let t = performance.now();
    const src = await translateGuest(bytes, plan, tc, work, undefined, extras);
    const wasm2cMs = performance.now() - t;

    t = performance.now();
    const optLevel = optLevelFor(await sizeOf(src.moduleC));
    const moduleO = join(work, 'module.o');
    const glueO = join(work, 'glue.o');
    const extraC = (extras?.sources ?? []).filter((f) => f.name.endsWith('.c')).map((f) => join(work, basename(f.name)));
    const extraO = extraC.map((c) => c.replace(/\.c$/, '.o'));
    await Promise.all([
      compileGuestObject(tc, src.moduleC, moduleO, { optLevel }),
      compileGuestObject(tc, src.glueC, glueO),
      ...extraC.map((c, i) => compileGuestObject(tc, c, extraO[i]!, { ours: true })),
      runtime,
    ]);
    const compileMs = performance.now() - t;

    t = performance.now();
    const elf = join(work, 'guest.elf');
    await linkGuest(tc, [...(await runtime), moduleO, glueO, ...extraO], elf);
    const linkMs = performance.now() - t;

    const image = await readFile(elf);
    const { span } = readElfImage(image, tc.imageBase);
    const meta: CacheMeta = { ...plan, abiVersion: tc.abiVersion, imageBytes: image.length, imageSpan: Number(span) };
    // publish: image first, then the metadata that makes it a cache hit
    const metaTmp = join(work, `meta-${randomBytes(4).toString('hex')}.json`);
    await writeFile(metaTmp, JSON.stringify(meta));
    await rename(elf, imagePath);
    await rename(metaTmp, metaPath);
    return { ...meta, imagePath, key, cached: false, timings: { wasm2cMs, compileMs, linkMs, totalMs: performance.now() - started } };
  } finally {
    clearTimeout(timer);
    await rm(work, { recursive: true, force: true });
  }
}

async function loadCached(imagePath: string, metaPath: string, tc: GuestToolchain): Promise<CacheMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as CacheMeta;
    if (meta.abiVersion !== tc.abiVersion || (await sizeOf(imagePath)) !== meta.imageBytes) return undefined;
    return meta;
  } catch {
    return undefined;
  }
}

/** Link a VM guest: static, no C library, at AK_IMAGE_BASE (guest.ld). */
export async function linkGuest(tc: GuestToolchain, objects: string[], out: string, signal?: AbortSignal): Promise<void> {
  await mkdir(join(out, '..'), { recursive: true });
  await gcc(
    tc,
    [
      '-nostdlib',
      '-static',
      '-no-pie',
      `-Wl,--defsym=ak_image_base=0x${tc.imageBase.toString(16)}`,
      '-T', join(tc.guestDir, 'guest.ld'),
      '-Wl,--gc-sections',
      '-Wl,--build-id=none',
      '-o', out,
      ...objects,
      '-lgcc',
    ],
    signal,
  );
}
