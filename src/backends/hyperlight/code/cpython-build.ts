/**
 * CPython for the micro-VM, built from source once per installation: no wasm32-wasi CPython is published in the
 * package registries this project may use, but Debian ships what it takes to make one — clang with the wasm32
 * target, wasm-ld, wasi-libc and the compiler-rt builtins — and the CPython 3.11 source package (the version of
 * Debian's own python3, which the cross build needs as its build Python).
 *
 *   source     AGENTKERNEL_CPYTHON_SOURCE (a source tree or .tar.gz/.tar.xz), else `apt-get source` python3.11
 *   configure  CPython's own wasm32-wasi support (Tools/wasm/config.site-wasm32-wasi), test modules left out
 *   link       libpython + the driver guest/python/ak_python.c into one WASI reactor, debug info stripped
 *   stdlib     Lib/ without tests, GUI and packaging tools, plus the build's _sysconfigdata, for a read-only preopen
 *
 * The result (`<dir>/python-<key>.wasm`, `<dir>/lib/python3.11`) then goes through the same wasm2c pipeline as any
 * module. The interpreter is keyed by the source archive and the toolchain, the linked guest also by the driver;
 * both are published by rename.
 */
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { AgentKernelError, UnavailableError } from '../../../core/errors.js';
import { processExists } from '../../../core/process.js';

const run = promisify(execFile);

export const PYTHON_VERSION = '3.11';
/** Where the guest finds its standard library (a read-only preopen of `<dir>/lib/python3.11`). */
export const GUEST_STDLIB = `/usr/local/lib/python${PYTHON_VERSION}`;

/** Parts of Lib/ a sandboxed snippet never imports: tests, GUI toolkits, installers, the IDE. */
const STDLIB_SKIP = new Set([
  'test', 'idlelib', 'tkinter', 'turtledemo', 'ensurepip', 'lib2to3', 'venv', 'pydoc_data', '__pycache__',
  'turtle.py', 'site-packages',
]);

export interface CPythonBuild {
  /** The WASI reactor: CPython with the driver's exports. */
  wasm: string;
  /** The standard library directory to preopen at GUEST_STDLIB. */
  stdlib: string;
  /** sha256 naming this build. */
  key: string;
}

interface WasiClang {
  cc: string;
  ar: string;
  ranlib: string;
  version: string;
}

const WASI_TARGET = ['--target=wasm32-wasi', '--sysroot=/usr'];

/** Debian's clang that can link for wasm32-wasi against Debian's wasi-libc (tried newest first). */
async function wasiClang(scratch: string): Promise<WasiClang> {
  const probe = join(scratch, 'probe.c');
  await writeFile(probe, 'int main(void) { return 0; }\n');
  const tried: string[] = [];
  for (const v of ['19', '18', '17', '16', '15', '14', '']) {
    const cc = v ? `clang-${v}` : 'clang';
    try {
      await run(cc, [...WASI_TARGET, '-O2', probe, '-o', join(scratch, 'probe.wasm')]);
      const { stdout } = await run(cc, ['--version']);
      const llvm = v ? `/usr/lib/llvm-${v}/bin` : '';
      const tool = (name: string) => (llvm && existsSync(join(llvm, name)) ? join(llvm, name) : name);
      return { cc, ar: tool('llvm-ar'), ranlib: tool('llvm-ranlib'), version: stdout.split('\n')[0] ?? cc };
    } catch (e) {
      tried.push(`${cc}: ${((e as { stderr?: string }).stderr || (e as Error).message).split('\n')[0]}`);
    }
  }
  throw new UnavailableError(
    'building CPython for the micro-VM needs clang for wasm32-wasi: apt-get install clang lld wasi-libc ' +
      `libclang-rt-14-dev-wasm32 (tried ${tried.join('; ')})`,
  );
}

/** The host's python3.11: the cross build runs it to generate parts of itself. */
async function buildPython(): Promise<string> {
  for (const p of [`/usr/bin/python${PYTHON_VERSION}`, `python${PYTHON_VERSION}`]) {
    try {
      const { stdout } = await run(p, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
      if (stdout.trim() === PYTHON_VERSION) return p;
    } catch {
      // not this one
    }
  }
  throw new UnavailableError(`building CPython ${PYTHON_VERSION} for the micro-VM needs python${PYTHON_VERSION} on the host (apt-get install python3)`);
}

/** The CPython source archive (or tree): the configured one, else Debian's source package fetched with apt. */
async function sourceArchive(dir: string, log: (line: string) => void): Promise<string> {
  const configured = process.env.AGENTKERNEL_CPYTHON_SOURCE;
  if (configured) {
    if (!existsSync(configured)) throw new UnavailableError(`AGENTKERNEL_CPYTHON_SOURCE=${configured} does not exist`);
    return configured;
  }
  const find = async () => (await readdir(dir)).find((f) => /^python3\.11_.*\.orig\.tar\.(gz|xz)$/.test(f));
  await mkdir(dir, { recursive: true });
  let found = await find();
  if (!found) {
    log(`fetching Debian's python${PYTHON_VERSION} source package (apt-get source)`);
    try {
      // a registry that fails to answer once (a transient fetch error) is asked again, twice
      for (let attempt = 1; ; attempt++) {
        try {
          await run('apt-get', ['source', '--download-only', `python${PYTHON_VERSION}`], { cwd: dir, maxBuffer: 16 << 20 });
          break;
        } catch (e) {
          if (attempt >= 3 || !/Failed to fetch|Temporary failure|Could not connect|timed out/i.test(String((e as { stderr?: string }).stderr ?? ''))) throw e;
          log(`apt-get source failed (attempt ${attempt}), trying again`);
          await new Promise((r) => setTimeout(r, 5000 * attempt));
        }
      }
    } catch (e) {
      throw new UnavailableError(
        `could not fetch the CPython ${PYTHON_VERSION} source with apt-get source (${String((e as { stderr?: string }).stderr || (e as Error).message).trim().split('\n').pop()}); ` +
          'add a deb-src entry for Debian and run apt-get update, or set AGENTKERNEL_CPYTHON_SOURCE to a CPython 3.11 source tree or archive',
      );
    }
    found = await find();
    if (!found) throw new UnavailableError(`apt-get source python${PYTHON_VERSION} left no .orig.tar archive in ${dir}`);
  }
  return join(dir, found);
}

async function hashFile(path: string): Promise<string> {
  const s = await stat(path);
  if (s.isDirectory()) return `dir:${path}:${s.mtimeMs}`;
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Runs a build step, its output into a log file; a failure says which step and shows the log's end. */
async function step(what: string, cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Promise<void> {
  const { createWriteStream } = await import('node:fs');
  const logStream = createWriteStream(opts.logFile, { flags: 'a' });
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(logStream, { end: false });
    child.stderr.pipe(logStream, { end: false });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  await new Promise<void>((r) => logStream.end(r));
  if (code !== 0) {
    const tail = (await readFile(opts.logFile, 'utf8')).split('\n').slice(-25).join('\n');
    // the tools were there and failed: a real failure, not a missing part
    throw new AgentKernelError('INTERNAL', `building CPython for the micro-VM failed at ${what} (exit ${code}); the log's end:\n${tail}`);
  }
}

/** The extra make rules: the driver compiled with the build's flags and linked like python.wasm, as a reactor. */
function driverMakefile(driverSource: string, obj: string, wasm: string): string {
  return [
    `${obj}: ${driverSource}`,
    `\t$(CC) -c $(PY_CFLAGS) $(PY_CPPFLAGS) -o $@ ${driverSource}`,
    `${wasm}: ${obj} $(LINK_PYTHON_DEPS)`,
    `\t$(LINKCC) $(PY_CORE_LDFLAGS) $(LINKFORSHARED) -mexec-model=reactor -Wl,--strip-debug -o $@ ${obj} $(LINK_PYTHON_OBJS) $(LIBS) $(MODLIBS) $(SYSLIBS)`,
    '',
  ].join('\n');
}

async function copyStdlib(src: string, dest: string): Promise<void> {
  await cp(src, dest, {
    recursive: true,
    filter: (p) => !STDLIB_SKIP.has(basename(p)) && !p.endsWith('.pyc'),
  });
}

const hash = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 24);

/**
 * Builds (or finds built) CPython for wasm32-wasi with the guest driver under `root`. `log` hears each long step.
 * The interpreter (a few minutes on two cores) is kept with its build tree, keyed by source and toolchain, so a
 * changed driver is only linked again (seconds).
 */
export async function buildCPython(root: string, driverSource: string, log: (line: string) => void): Promise<CPythonBuild> {
  await mkdir(root, { recursive: true });
  const scratch = join(root, 'probe');
  await mkdir(scratch, { recursive: true });
  const [clang, hostPython] = await Promise.all([wasiClang(scratch), buildPython()]);
  const archive = await sourceArchive(join(root, 'source'), log);
  const base = join(root, hash(await hashFile(archive), clang.version, PYTHON_VERSION));
  if (!existsSync(join(base, 'cpython.json'))) await buildInterpreter(base, archive, clang, hostPython, log);
  const key = hash(basename(base), await hashFile(driverSource));
  const wasm = join(base, `python-${key}.wasm`);
  if (!existsSync(wasm)) {
    log('linking the CPython guest driver');
    const build = join(base, 'build');
    const mk = `ak-driver-${process.pid}.mk`;
    const tmp = `ak-python-${process.pid}.wasm`;
    await writeFile(join(build, mk), driverMakefile(driverSource, `ak_python-${process.pid}.o`, tmp));
    try {
      await step('link', 'make', ['-f', 'Makefile', '-f', mk, tmp], { cwd: build, env: process.env, logFile: join(build, `${mk}.log`) });
      await rename(join(build, tmp), wasm);
    } finally {
      await Promise.all([mk, `${mk}.log`, `ak_python-${process.pid}.o`, tmp].map((f) => rm(join(build, f), { force: true })));
    }
  }
  return { wasm, stdlib: join(base, 'lib', `python${PYTHON_VERSION}`), key };
}


/** configure + make of the interpreter into `base` (staged beside it, published by rename). */
async function buildInterpreter(base: string, archive: string, clang: WasiClang, hostPython: string, log: (line: string) => void): Promise<void> {
  // staging directories of builds whose process died (hundreds of MB each)
  for (const f of await readdir(dirname(base))) {
    const m = /\.tmp-(\d+)$/.exec(f);
    if (m && !processExists(Number(m[1]))) await rm(join(dirname(base), f), { recursive: true, force: true });
  }
  const work = `${base}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const srcDir = join(work, 'src');
    if ((await stat(archive)).isDirectory()) {
      await cp(archive, srcDir, { recursive: true });
    } else {
      log('unpacking the CPython source');
      await run('tar', ['-xf', archive, '-C', work], { maxBuffer: 16 << 20 });
      const top = (await readdir(work)).find((d) => /^Python-3\.11/.test(d));
      if (!top) throw new UnavailableError(`${archive} holds no Python-3.11.* directory`);
      await rename(join(work, top), srcDir);
    }
    const build = join(work, 'build');
    await mkdir(build, { recursive: true });
    const logFile = join(work, 'build.log');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CC: `${clang.cc} ${WASI_TARGET.join(' ')}`,
      CPP: `${clang.cc} ${WASI_TARGET.join(' ')} -E`,
      AR: clang.ar,
      RANLIB: clang.ranlib,
      CONFIG_SITE: join(srcDir, 'Tools', 'wasm', 'config.site-wasm32-wasi'),
      // the host's libraries (zlib, lzma, ...) must not be found for the wasm32 target
      PKG_CONFIG_PATH: '',
      PKG_CONFIG_LIBDIR: '/nonexistent',
      PKG_CONFIG_SYSROOT_DIR: '/nonexistent',
    };
    log(`configuring CPython ${PYTHON_VERSION} for wasm32-wasi (${clang.version})`);
    // a relative source directory keeps the build tree valid once the staging directory is renamed
    await step('configure', '../src/configure', [
      '-C', '--host=wasm32-unknown-wasi', '--build=x86_64-pc-linux-gnu', `--with-build-python=${hostPython}`,
      '--disable-test-modules',
    ], { cwd: build, env, logFile });
    const jobs = String(Math.max(1, availableParallelism()));
    log(`compiling CPython for wasm32-wasi (make -j${jobs}; a few minutes)`);
    // python.wasm proves the interpreter links; pybuilddir.txt names the directory of the build's _sysconfigdata
    await step('make', 'make', [`-j${jobs}`, 'python.wasm', 'pybuilddir.txt'], { cwd: build, env, logFile });

    log('copying the standard library');
    const stdlib = join(work, 'lib', `python${PYTHON_VERSION}`);
    await copyStdlib(join(srcDir, 'Lib'), stdlib);
    const builddir = join(build, (await readFile(join(build, 'pybuilddir.txt'), 'utf8')).trim());
    const dynload = join(stdlib, 'lib-dynload');
    await mkdir(dynload, { recursive: true });
    for (const f of await readdir(builddir)) if (f.startsWith('_sysconfigdata')) await cp(join(builddir, f), join(dynload, f));
    await writeFile(join(work, 'cpython.json'), JSON.stringify({ clang: clang.version, source: basename(archive) }));
    // another process may have finished the same build meanwhile: the first one published stays
    if (existsSync(join(base, 'cpython.json'))) {
      await rm(work, { recursive: true, force: true });
      return;
    }
    await rm(base, { recursive: true, force: true });
    try {
      await rename(work, base);
    } catch (e) {
      if (!existsSync(join(base, 'cpython.json'))) throw e;
      await rm(work, { recursive: true, force: true });
    }
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}
