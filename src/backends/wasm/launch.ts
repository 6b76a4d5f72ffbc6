/**
 * What a worker is started with: the worker script, node's flags, and the host paths its jail shows read-only
 * (the package's compiled code and dependencies, the Pyodide snapshot cache), nothing else of the project.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dir } from '../../core/paths.js';
import type { Language, Mount } from '../../core/types.js';
import type { WorkerLaunch } from './jail/index.js';
import { encodeWorkerArgs } from './worker/protocol.js';

const here = dirname(fileURLToPath(import.meta.url));

export const WORKER_SCRIPT = join(here, 'worker', 'main.js');

/** The package root: the nearest directory above this file with a package.json. */
function packageRoot(): string {
  let d = here;
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error(`no package.json above ${here}`);
    d = up;
  }
  return d;
}

/**
 * Read-only binds for the worker's own code: package.json (it makes dist/*.js ES modules), the compiled code,
 * and the dependencies (the package's node_modules, or the node_modules it is installed in).
 */
export function packageBinds(): string[] {
  const root = packageRoot();
  const binds = [join(root, 'package.json')];
  // the compiled tree this file belongs to (dist/ when built here)
  let compiled = here;
  while (dirname(compiled) !== root && dirname(compiled) !== compiled) compiled = dirname(compiled);
  binds.push(compiled);
  if (existsSync(join(root, 'node_modules'))) binds.push(join(root, 'node_modules'));
  // installed as a dependency: its dependencies sit beside it
  for (let d = dirname(root); d !== dirname(d); d = dirname(d)) {
    if (basename(d) === 'node_modules') {
      binds.push(d);
      break;
    }
  }
  return binds;
}

export function pyodideVersion(): string {
  const req = createRequire(import.meta.url);
  return (JSON.parse(readFileSync(req.resolve('pyodide/package.json'), 'utf8')) as { version: string }).version;
}

/** Where Pyodide snapshots are kept (created on first use). */
export function snapshotDir(): string {
  return dir('cache', 'pyodide');
}

export function snapshotPath(): string {
  return join(snapshotDir(), `${pyodideVersion()}.snapshot`);
}

export interface LaunchOptions {
  /** Heap of the worker's own JavaScript (V8 old space), MiB. */
  workerHeapMb: number;
  prewarm: Language[];
}

let seq = 0;

/**
 * node's flags for a runner. --disallow-code-generation-from-strings: no runtime needs eval or new Function, and
 * without them a guest that reaches a JS object through an interpreter's bridge (e.g. Python's `js` module:
 * `js.constructor.constructor("return process")`) cannot turn it into code running as the worker.
 */
const RUNNER_FLAGS = (o: LaunchOptions): string[] => [`--max-old-space-size=${o.workerHeapMb}`, '--expose-gc', '--disallow-code-generation-from-strings'];

export function runnerLaunch(mounts: Mount[], o: LaunchOptions): WorkerLaunch {
  return {
    script: WORKER_SCRIPT,
    scriptArgs: encodeWorkerArgs({ role: 'runner', pythonSnapshot: snapshotPath(), prewarm: o.prewarm }),
    nodeFlags: RUNNER_FLAGS(o),
    readOnly: [...packageBinds(), snapshotDir()],
    mounts,
    name: `agentkernel-wasm-${process.pid}-${++seq}`,
  };
}

/** The snapshot maker: the cache directory read-write, no mounts, no guest code. */
export function snapshotLaunch(o: LaunchOptions): WorkerLaunch {
  return {
    script: WORKER_SCRIPT,
    scriptArgs: encodeWorkerArgs({ role: 'snapshot', prewarm: [] }),
    nodeFlags: [`--max-old-space-size=${Math.max(o.workerHeapMb, 1024)}`],
    readOnly: packageBinds(),
    readWrite: [snapshotDir()],
    mounts: [],
    name: `agentkernel-wasm-snapshot-${process.pid}-${++seq}`,
  };
}
