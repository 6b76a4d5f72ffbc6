/**
 * The tools that turn a Wasm module into a micro-VM guest: Debian's wasm2c (wabt 1.0.32, with wasm-rt.h) and
 * gcc, plus the guest runtime sources (guest/) and the ABI header. Found once per process; their versions and
 * a hash of every source file form the cache fingerprint, so a changed tool or runtime never reuses a stale
 * guest.
 *
 * wasm2c is looked up on PATH *outside* node_modules: npm puts node_modules/.bin first on PATH in scripts, and
 * the npm package named wasm2c there is an unrelated program.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UnavailableError } from '../../core/errors.js';
import { location } from '../../core/paths.js';

const run = promisify(execFile);

export interface GuestToolchain {
  /** Absolute path of wabt's wasm2c. */
  wasm2c: string;
  wasm2cVersion: string;
  /** Directory holding the wasm-rt.h that matches this wasm2c. */
  wasmRtInclude: string;
  gcc: string;
  gccVersion: string;
  /** gcc's own freestanding headers (stddef.h, stdint.h, stdarg.h). */
  gccInclude: string;
  /** The CPU has SSE4.1 (one-instruction float rounding in the guest). */
  sse41: boolean;
  /** guest/ in this package: include/ (libc headers), runtime/ (C and asm), guest.ld. */
  guestDir: string;
  /** The directory of abi.h. */
  abiInclude: string;
  /** AK_IMAGE_BASE and AK_ABI_VERSION as written in abi.h. */
  imageBase: bigint;
  abiVersion: number;
  /** The WASI functions the ABI numbers (AK_WASI_FUNCS in abi.h), by index. */
  wasiFunctions: string[];
  /** sha256 over tool versions, CPU flags used, and every guest source and header: part of every cache key. */
  fingerprint: string;
}

/** The package root: the nearest ancestor of this file that holds guest/ and native/common/abi.h. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'guest', 'runtime')) && existsSync(join(dir, 'native', 'common', 'abi.h'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new UnavailableError('the guest runtime sources (guest/) are missing from this installation');
    dir = up;
  }
}

function findOnPath(name: string, skip: (dir: string) => boolean): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || skip(dir)) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

const insideNodeModules = (dir: string) => resolve(dir).split(sep).includes('node_modules');

/**
 * What a tool printed for these arguments, remembered across processes for the same binary (path, inode, size,
 * mtime): three tool starts cost every one-shot CLI call tens of milliseconds, while the answers change only
 * when the tool is reinstalled.
 */
let memo: { path: string; known: Record<string, string> } | undefined;

async function version(cmd: string, args: string[]): Promise<string> {
  let key: string | undefined;
  try {
    const real = realpathSync(cmd);
    const st = statSync(real);
    key = `${real}\0${st.ino}\0${st.size}\0${st.mtimeMs}\0${args.join('\0')}`;
    if (!memo) {
      const path = location('cache', 'hyperlight', 'tool-versions.json');
      let known: Record<string, string> = {};
      try {
        known = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
      } catch {
        // no memo yet
      }
      memo = { path, known };
    }
    const hit = memo.known[key];
    if (typeof hit === 'string') return hit;
  } catch {
    // the tool cannot be stat'ed: let running it report the problem
  }
  const { stdout } = await run(cmd, args, { timeout: 10_000 });
  const out = stdout.trim();
  if (key && memo) {
    memo.known[key] = out;
    try {
      mkdirSync(dirname(memo.path), { recursive: true, mode: 0o700 });
      const tmp = `${memo.path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(memo.known), { mode: 0o600 });
      renameSync(tmp, memo.path); // readers see the old or the new file, never half of one
    } catch {
      // a memo that cannot be written only costs the next process a tool start
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function abiDefine(abi: string, name: string): string {
  const m = abi.match(new RegExp(`#define\\s+${name}\\s+(0x[0-9a-fA-F]+|\\d+)u?(?:ll|ull)?\\b`));
  if (!m) throw new UnavailableError(`abi.h does not define ${name}`);
  return m[1];
}

/** The names in AK_WASI_FUNCS, checked to be numbered 0..n-1 in order. */
export function abiWasiFunctions(abi: string): string[] {
  const names: string[] = [];
  for (const m of abi.matchAll(/\bX\((\d+),\s*(\w+)\)/g)) {
    if (Number(m[1]) !== names.length) throw new UnavailableError(`abi.h: AK_WASI_FUNCS is not numbered in order at ${m[2]}`);
    names.push(m[2]);
  }
  if (names.length === 0) throw new UnavailableError('abi.h does not list AK_WASI_FUNCS');
  return names;
}

let cached: Promise<GuestToolchain> | undefined;

/**
 * The toolchain, probed once per process. Throws UnavailableError naming what is missing (wasm2c from the
 * Debian/Ubuntu package `wabt`, gcc, wasm-rt.h, the guest sources).
 */
export function guestToolchain(): Promise<GuestToolchain> {
  cached ??= probe().catch((err) => {
    cached = undefined;   // a later call may find tools installed meanwhile
    throw err;
  });
  return cached;
}

async function probe(): Promise<GuestToolchain> {
  const wasm2c = process.env.AGENTKERNEL_WASM2C || findOnPath('wasm2c', insideNodeModules);
  if (!wasm2c) throw new UnavailableError("wasm2c not found: install wabt's wasm2c (Debian/Ubuntu package `wabt`)");
  const gcc = process.env.AGENTKERNEL_GCC || findOnPath('gcc', () => false);
  if (!gcc) throw new UnavailableError('gcc not found: it compiles Wasm modules into micro-VM guests');
  // the three probes run at once: this is paid by every process that compiles or loads a guest
  const [wasm2cVersion, gccVersion, gccInclude] = await Promise.all([
    version(wasm2c, ['--version']).catch((err: Error) => {
      throw new UnavailableError(`${wasm2c} --version failed: ${err.message}`);
    }),
    version(gcc, ['--version']).then(
      (v) => v.split('\n')[0],
      (err: Error) => {
        throw new UnavailableError(`${gcc} does not run: ${err.message}`);
      },
    ),
    version(gcc, ['-print-file-name=include']).catch((err: Error) => {
      throw new UnavailableError(`${gcc} does not run: ${err.message}`);
    }),
  ]);
  if (!/^\d+\.\d+\.\d+/.test(wasm2cVersion)) {
    throw new UnavailableError(`${wasm2c} is not wabt's wasm2c (its --version printed '${wasm2cVersion.slice(0, 80)}')`);
  }
  const wasmRtInclude = [join(dirname(dirname(wasm2c)), 'include'), '/usr/include', '/usr/local/include'].find((d) =>
    existsSync(join(d, 'wasm-rt.h')),
  );
  if (!wasmRtInclude) throw new UnavailableError(`wasm-rt.h (shipped with ${wasm2c}) not found`);
  if (!existsSync(join(gccInclude, 'stdint-gcc.h')) && !existsSync(join(gccInclude, 'stdint.h'))) {
    throw new UnavailableError(`gcc's freestanding headers not found (${gccInclude})`);
  }

  const root = packageRoot();
  const guestDir = join(root, 'guest');
  const abiInclude = join(root, 'native', 'common');
  const abi = readFileSync(join(abiInclude, 'abi.h'), 'utf8');
  const sse41 = cpuHasSse41();

  const h = createHash('sha256');
  h.update(`wasm2c ${wasm2cVersion}\ngcc ${gccVersion}\nsse4.1 ${sse41}\n`);
  const sources = filesUnder(guestDir).filter((f) => !f.endsWith('.md'));
  for (const file of [...sources, join(abiInclude, 'abi.h'), join(wasmRtInclude, 'wasm-rt.h')]) {
    h.update(`${file.slice(root.length)}\0`);
    h.update(readFileSync(file));
  }
  return {
    wasm2c,
    wasm2cVersion,
    wasmRtInclude,
    gcc,
    gccVersion,
    gccInclude,
    sse41,
    guestDir,
    abiInclude,
    imageBase: BigInt(abiDefine(abi, 'AK_IMAGE_BASE')),
    abiVersion: Number(abiDefine(abi, 'AK_ABI_VERSION')),
    wasiFunctions: abiWasiFunctions(abi),
    fingerprint: h.digest('hex'),
  };
}

function cpuHasSse41(): boolean {
  try {
    return /^flags\s*:.*\bsse4_1\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}
