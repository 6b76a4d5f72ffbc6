/**
 * Reference rows: other ways to isolate or start code, measured in the same run on the same machine, so that the
 * backends' figures can be read as ratios rather than absolute numbers on a noisy shared machine. Each runs where
 * its tool exists and works here; otherwise it is a skipped row saying why. Container references never pull an
 * image.
 */
import { existsSync, lstatSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BenchModules } from './modules.js';
import type { Plan, Skip, WorkloadTraits } from './plan.js';
import type { Expectation, Observed } from './types.js';
import { complaint, findExecutable, runProcess } from './proc.js';
import { ociBundle } from './oci.js';
import { wasm, type WasmMemory } from '../runtimes/wasm/engine.js';
import { detectPodmanHost } from '../backends/podman/host.js';
import { packageRoot } from '../backends/hyperlight/toolchain.js';

export interface ReferenceContext {
  modules: BenchModules;
  /** a private temporary directory for reference rows */
  tmpDir: string;
}

export interface Reference extends WorkloadTraits {
  plan(ctx: ReferenceContext, expect: Expectation): Promise<Plan | Skip>;
}

const HELLO: Expectation = { stdout: 'hello\n' };

/**
 * A reference that runs a program per iteration. One probe run first: a tool that exists but cannot work on this
 * machine (no privileges, unsupported cgroup layout) is skipped with its own complaint, not benchmarked.
 */
async function commandPlan(tool: string, exe: string, argsFor: (n: number) => string[], method: string): Promise<Plan | Skip> {
  let n = 0;
  const probe = await runProcess(exe, argsFor(n++)).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
  if (probe.exitCode !== 0) return { skip: `${tool} cannot run here: ${complaint(probe.stderr) || `exit code ${probe.exitCode}`}` };
  return { method, run: () => runProcess(exe, argsFor(n++)) };
}

/** Bind the host's /usr read-only and recreate the top-level links (merged-/usr systems) or bind the real dirs. */
function bwrapRootArgs(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib64', '/lib32']) {
    if (!existsSync(top)) continue;
    if (lstatSync(top).isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else args.push('--ro-bind', top, top);
  }
  return args;
}

const bwrap: Reference = {
  id: 'bwrap',
  title: 'bubblewrap: new namespaces (no network), read-only /usr, echo hello',
  expect: HELLO,
  async plan() {
    const exe = findExecutable('bwrap');
    if (!exe) return { skip: 'bwrap is not installed' };
    const args = [...bwrapRootArgs(), '--proc', '/proc', '--dev', '/dev', '--unshare-all', '--die-with-parent', '--new-session', 'echo', 'hello'];
    return commandPlan('bwrap', exe, () => args, `bwrap ${args.join(' ')}`);
  },
};

function ociReference(tool: string, globalArgs: string[] = []): Reference {
  return {
    id: tool,
    title: `${tool} run of a tiny OCI bundle (static busybox): echo hello`,
    expect: HELLO,
    async plan(ctx) {
      const exe = findExecutable(tool);
      if (!exe) return { skip: `${tool} is not installed` };
      const dir = join(ctx.tmpDir, `oci-${tool}`);
      mkdirSync(dir, { recursive: true });
      const made = await ociBundle(exe, dir, ['echo', 'hello']);
      if ('error' in made) return { skip: made.error };
      const prefix = `ak-bench-${process.pid}-${tool}`;
      return commandPlan(tool, exe, (n) => [...globalArgs, 'run', '--bundle', made.bundle, `${prefix}-${n}`], `${tool} ${globalArgs.join(' ')} run --bundle BUNDLE ID`.replace(/ +/g, ' '));
    },
  };
}

/** Images likely to have `echo`, preferred in this order; otherwise the first local image is tried. */
const PREFERRED_IMAGE = /(^|\/)(busybox|alpine|debian|ubuntu|fedora)(:|$)/;

/**
 * Podman starts containers from this process, so it needs what this host allows (lower rlimits, runc under hybrid
 * cgroups): the podman backend's own host adjustments are applied, so the reference measures podman as it runs here.
 */
function hostArgs(tool: 'docker' | 'podman'): { global: string[]; run: string[] } {
  if (tool === 'docker') return { global: [], run: [] };
  const host = detectPodmanHost();
  return { global: host.runtime ? ['--runtime', host.runtime] : [], run: host.ulimitArgs };
}

function engineReference(tool: 'docker' | 'podman'): Reference {
  return {
    id: tool,
    title: `${tool} run --rm of a local image: echo hello`,
    expect: HELLO,
    async plan() {
      const exe = findExecutable(tool);
      if (!exe) return { skip: `${tool} is not installed` };
      const ls = await runProcess(exe, ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'], { timeoutMs: 15_000 })
        .catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
      if (ls.exitCode !== 0) return { skip: `${tool} cannot list images: ${complaint(ls.stderr) || `exit code ${ls.exitCode}`}` };
      const images = ls.stdout.split('\n').map((l) => l.trim()).filter((l) => l && !l.includes('<none>'));
      if (images.length === 0) return { skip: `${tool} has no local image (the benchmark never pulls one)` };
      const image = images.find((i) => PREFERRED_IMAGE.test(i)) ?? images[0];
      const args = [...hostArgs(tool).global, 'run', '--rm', '--network', 'none', '--pull', 'never', ...hostArgs(tool).run, image, 'echo', 'hello'];
      return commandPlan(tool, exe, () => args, `${tool} ${args.join(' ')}`);
    },
  };
}

const node: Reference = {
  id: 'node',
  title: 'a new Node.js process: node -e 0',
  expect: { stdout: '' },
  async plan() {
    return commandPlan('node', process.execPath, () => ['-e', '0'], `${process.execPath} -e 0`);
  },
};

/**
 * This CLI end to end, as a user runs it: a new process for `agentkernel run --wasm hello.wasm` (in-process work,
 * no daemon), against `node -e 0` in the same report; the default backend runs the module.
 */
const cli: Reference = {
  id: 'cli',
  title: 'this CLI end to end: agentkernel run --wasm hello.wasm (a new process, no daemon)',
  expect: HELLO,
  async plan(ctx) {
    const bin = join(packageRoot(), 'bin', 'agentkernel.js');
    const file = join(ctx.tmpDir, 'hello.wasm');
    writeFileSync(file, ctx.modules.hello);
    const args = [bin, 'run', '--wasm', file];
    const env = { ...process.env, AGENTKERNEL_NO_DAEMON: '1' };
    const probe = await runProcess(process.execPath, args, { env }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
    if (probe.exitCode !== 0) return { skip: `the CLI cannot run here: ${complaint(probe.stderr) || `exit code ${probe.exitCode}`}` };
    return { method: `AGENTKERNEL_NO_DAEMON=1 ${process.execPath} ${args.join(' ')}`, run: () => runProcess(process.execPath, args, { env }) };
  },
};

/** Runs the hello module with nothing but V8's WebAssembly API and a ten-line fd_write. */
async function instantiateHello(bytes: Uint8Array): Promise<Observed> {
  let memory: WasmMemory | undefined;
  let stdout = '';
  const decoder = new TextDecoder();
  const fd_write = (fd: number, iovs: number, count: number, written: number): number => {
    const view = new DataView(memory!.buffer);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const ptr = view.getUint32(iovs + 8 * i, true);
      const len = view.getUint32(iovs + 8 * i + 4, true);
      if (fd === 1) stdout += decoder.decode(new Uint8Array(memory!.buffer, ptr, len));
      total += len;
    }
    view.setUint32(written, total, true);
    return 0;
  };
  const instance = await wasm.instantiate(await wasm.compile(bytes), { wasi_snapshot_preview1: { fd_write } });
  memory = instance.exports.memory as WasmMemory;
  (instance.exports._start as () => void)();
  return { exitCode: 0, stdout };
}

const wasmInstantiate: Reference = {
  id: 'wasm-instantiate',
  title: 'raw WebAssembly.instantiate of the hello module in this process (no sandbox around it)',
  expect: HELLO,
  async plan(ctx) {
    return { method: 'WebAssembly.compile + WebAssembly.instantiate of the bytes, then _start, with a minimal fd_write import', run: () => instantiateHello(ctx.modules.hello) };
  },
};

const pyodideLoad: Reference = {
  id: 'pyodide-load',
  title: "a fresh loadPyodide() from node_modules, then runPython('1+1')",
  expect: { stdout: '2\n' },
  concurrent: false,
  warmup: 0,
  // ~2-3 s each: three samples, whatever the duration, and no more
  minIterations: 3,
  maxIterations: 3,
  async plan() {
    let dir: string;
    let loadPyodide: (o: Record<string, unknown>) => Promise<{ runPython(code: string): unknown }>;
    try {
      dir = dirname(createRequire(import.meta.url).resolve('pyodide/package.json'));
      ({ loadPyodide } = (await import('pyodide')) as unknown as { loadPyodide: typeof loadPyodide });
    } catch (e) {
      return { skip: `pyodide is not installed: ${(e as Error).message}` };
    }
    const drop = (): void => {};
    return {
      method: `loadPyodide({ indexURL: '${dir}/' }) + runPython('1+1'), in this process`,
      async run() {
        const py = await loadPyodide({ indexURL: `${dir}/`, stdout: drop, stderr: drop, jsglobals: {} });
        return { exitCode: 0, stdout: `${String(py.runPython('1+1'))}\n` };
      },
    };
  },
};

/** In report order. */
export const REFERENCES: readonly Reference[] = [
  wasmInstantiate,
  node,
  cli,
  bwrap,
  ociReference('crun'),
  ociReference('runc'),
  ociReference('runsc', ['--network=none', '--platform=ptrace']),
  engineReference('docker'),
  engineReference('podman'),
  pyodideLoad,
];

export const REFERENCE_IDS: readonly string[] = REFERENCES.map((r) => r.id);
