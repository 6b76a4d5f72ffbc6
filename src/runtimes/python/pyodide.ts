/**
 * Python: CPython compiled to WebAssembly (Pyodide), loaded once per process from the installed package's own
 * files (never the network) and reset in place between runs instead of reloaded:
 *   - the interpreter's linear memory is copied once after loading and put back after each run (MemoryImage);
 *   - the in-memory filesystem and open descriptors, which live in JavaScript, are put back too (FsImage);
 *   - host directories are NODEFS mounts for the duration of a run, read-only ones guarded (mounts.ts);
 *   - memory growth past the run's cap is refused (the guest sees MemoryError) and reported as exit 137;
 *   - the deadline is enforced from a watcher thread through Pyodide's interrupt buffer (deadline.ts).
 * The reset of one run overlaps the caller's handling of its result; the next run waits for it.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { PyodideAPI } from 'pyodide';
import { EXIT } from '../../core/types.js';
import { ValidationError } from '../../core/errors.js';
import { guestCwd } from '../command.js';
import type { CodeRequest, CodeRuntime, OutputSink, RuntimeOutcome } from '../types.js';
import { DeadlineWatch } from './deadline.js';
import { moduleMemory, type EmModule } from './emscripten.js';
import { FsImage } from './fs-image.js';
import { MemoryImage } from './memory-image.js';
import { installReadOnlyGuard, mountAll, unmountAll } from './mounts.js';
import { outcomeOf, timedOut } from './outcome.js';
import { RUNNER_MODULE, RUNNER_SETUP } from './runner.js';

const MiB = 1024 * 1024;


export interface PyodideRuntimeOptions {
  /** A memory snapshot made by PyodideRuntime.makeSnapshot(), for a fast first load. */
  snapshot?: Uint8Array;
}

/** How the interpreter was last loaded (shown by status/bench). */
export interface PyodideLoadInfo {
  fromSnapshot: boolean;
  /** loadPyodide() plus the runtime's own setup, in milliseconds */
  loadMs: number;
  /** bytes of linear memory in the clean state */
  cleanStateBytes: number;
}

interface Instance {
  py: PyodideAPI;
  m: EmModule;
  run: RunnerFn;
  memory: MemoryImage;
  fs: FsImage;
}

/** The runner's `run` (runner.ts); `keep` reuses the session's __main__ and sets its `tools`. */
export type RunnerFn = (code: string, filename: string, argvJson: string, envJson: string, cwd: string, keep?: boolean, toolsJson?: string) => string;

type PythonCallable = ((...args: unknown[]) => unknown) & { destroy(): void };

function pyodideDir(): string {
  return dirname(createRequire(import.meta.url).resolve('pyodide/package.json'));
}

function loadConfig(extra: Record<string, unknown>): Record<string, unknown> {
  const drop = (): void => {};
  return {
    indexURL: `${pyodideDir()}/`,
    // `import js` must not hand the guest this process's globals
    jsglobals: {},
    stdout: drop,
    stderr: drop,
    ...extra,
  };
}

export async function load(extra: Record<string, unknown>): Promise<PyodideAPI> {
  const { loadPyodide } = await import('pyodide');
  return loadPyodide(loadConfig(extra));
}

export class PyodideRuntime implements CodeRuntime {
  readonly language = 'python' as const;
  /** Set after each load. */
  loadInfo?: PyodideLoadInfo;

  private instance?: Promise<Instance>;
  private queue: Promise<unknown> = Promise.resolve();
  private pendingReset?: Promise<void>;
  private readonly deadline = new DeadlineWatch();
  /** the running request's memory cap in bytes (read by the memory.grow guard) */
  private capBytes = Infinity;
  private refusedGrowth = false;

  constructor(private readonly opts: PyodideRuntimeOptions = {}) {}

  /** A full loadPyodide() and then Pyodide's memory snapshot of it, for `new PyodideRuntime({ snapshot })`. */
  static async makeSnapshot(): Promise<Uint8Array> {
    const py = await load({ _makeSnapshot: true });
    return (py as unknown as { makeMemorySnapshot(): Uint8Array }).makeMemorySnapshot();
  }

  async prepare(): Promise<void> {
    await this.ready();
  }

  run(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    // one interpreter, one run at a time
    const result = this.queue.then(() => this.runExclusive(req, out));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Stop the deadline watcher thread (the runtime can still be used; the thread restarts on demand). */
  async close(): Promise<void> {
    await this.deadline.close();
  }

  private async ready(): Promise<Instance> {
    if (this.pendingReset) await this.pendingReset;
    this.instance ??= this.load();
    try {
      return await this.instance;
    } catch (e) {
      this.instance = undefined;
      throw e;
    }
  }

  private async load(): Promise<Instance> {
    const started = performance.now();
    const snapshot = this.opts.snapshot;
    const py = await load(snapshot ? { _loadSnapshot: snapshot } : {});
    const m = (py as unknown as { _module: EmModule })._module;
    py.setInterruptBuffer(this.deadline.interruptBuffer);
    const { run: runFn } = installRunner(py);
    this.guardGrowth(m);
    // the clean state: taken last, after every change above
    const fs = new FsImage(m.FS, m.MEMFS);
    const memory = new MemoryImage(m);
    this.loadInfo = { fromSnapshot: !!snapshot, loadMs: performance.now() - started, cleanStateBytes: memory.size };
    return { py, m, run: runFn, memory, fs };
  }

  /** Emscripten grows memory through memory.grow(); past the cap it gets an error, so malloc fails -> MemoryError. */
  private guardGrowth(m: EmModule): void {
    guardGrowth(m, () => this.capBytes, () => {
      this.refusedGrowth = true;
    });
  }

  private async runExclusive(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    const inst = await this.ready();
    const cap = req.memoryMb * MiB;
    if (!(cap > inst.memory.size)) {
      throw new ValidationError(
        `the Python runtime needs more than ${Math.ceil(inst.memory.size / MiB)} MiB of memory; the limit is ${req.memoryMb} MiB`,
        { memoryMb: req.memoryMb },
      );
    }
    if (req.deadline !== undefined && Date.now() >= req.deadline) return timedOut(out);
    const { FS } = inst.m;
    const cwd = guestCwd(req);
    let mounted: string[] = [];
    try {
      mounted = mountAll(FS, inst.m.NODEFS, req.mounts);
      const cwdNode = FS.analyzePath(cwd);
      if (!cwdNode.exists || !cwdNode.object || !FS.isDir(cwdNode.object.mode)) {
        throw new ValidationError(`the working directory '${cwd}' does not exist in the guest`, { cwd });
      }
    } catch (e) {
      // mount points may have been created already: they go with the reset
      if (unmountAll(FS, mounted)) this.scheduleReset(inst);
      else this.retire();
      throw e;
    }
    connectStdio(inst.py, req.stdin, out);

    const script = req.scriptPath;
    const filename = !script || (script.startsWith('-') && script !== '-') ? '<string>' : script === '-' ? '<stdin>' : script;
    const argv = [script ?? '-c', ...(req.args ?? [])];
    let raw: string | undefined;
    let hostError: unknown;
    let fired = false;
    this.capBytes = cap;
    this.refusedGrowth = false;
    if (req.deadline !== undefined) this.deadline.arm(req.deadline);
    // Emscripten's exit (os._exit) sets the host's process.exitCode: the guest's exit is not this process's
    const hostExitCode = process.exitCode;
    try {
      raw = inst.run(req.code, filename, JSON.stringify(argv), JSON.stringify(req.env), cwd);
    } catch (e) {
      hostError = e;
    } finally {
      process.exitCode = hostExitCode;
      if (req.deadline !== undefined) fired = this.deadline.disarm();
      this.capBytes = Infinity;
    }
    const overCap = inst.memory.heapTop() > cap;
    const refused = this.refusedGrowth;

    inst.fs.restoreStreams();
    const healthy = unmountAll(FS, mounted) && hostError === undefined && !overCap;
    if (healthy) this.scheduleReset(inst);
    else this.retire();

    return outcomeOf({ raw, hostError, fired, overCap, refused, memoryMb: req.memoryMb }, out);
  }

  /** Put the clean state back once the caller has its result; the next run waits for this. */
  private scheduleReset(inst: Instance): void {
    this.pendingReset = new Promise<void>((resolve) => {
      setImmediate(() => {
        try {
          inst.memory.restore();
          inst.fs.restoreTree();
        } catch {
          this.retire();
        }
        this.pendingReset = undefined;
        resolve();
      });
    });
  }

  /** Drop the interpreter; the next run loads a fresh one (from the snapshot when there is one). */
  private retire(): void {
    this.instance = undefined;
  }
}

/**
 * Sets up a loaded interpreter for runs: the runner module, line-buffered output, the preloaded modules and the
 * read-only guard of mounts. Returns the module and the runner's entry point (an owned proxy kept for the life of
 * the interpreter).
 */
export function installRunner(py: PyodideAPI): { m: EmModule; run: RunnerFn } {
  const m = (py as unknown as { _module: EmModule })._module;
  py.runPython(RUNNER_SETUP);
  const runFn = py.runPython(`__import__(${JSON.stringify(RUNNER_MODULE)}).run`) as PythonCallable;
  installReadOnlyGuard(m.FS, m.ERRNO_CODES.EROFS);
  return { m, run: runFn as unknown as RunnerFn };
}

/** Emscripten grows memory through memory.grow(); past cap() it gets an error, so malloc fails -> MemoryError. */
export function guardGrowth(m: EmModule, cap: () => number, refused: () => void): void {
  const mem = moduleMemory(m);
  const grow = mem.grow.bind(mem);
  mem.grow = (delta: number): number => {
    if (mem.buffer.byteLength + delta * 65536 > cap()) {
      refused();
      throw new RangeError('memory cap reached');
    }
    return grow(delta);
  };
}

/** The run's stdin and output streams. */
export function connectStdio(py: PyodideAPI, stdin: Uint8Array, out: OutputSink): void {
  // Pyodide hands a view of its own memory: copy before it is reused
  py.setStdout({ write: (b: Uint8Array) => (out.stdout(b.slice()), b.length), isatty: false });
  py.setStderr({ write: (b: Uint8Array) => (out.stderr(b.slice()), b.length), isatty: false });
  let pos = 0;
  py.setStdin({
    read: (buf: Uint8Array) => {
      const n = Math.min(buf.length, stdin.length - pos);
      buf.set(stdin.subarray(pos, pos + n));
      pos += n;
      return n;
    },
    isatty: false,
  });
}
