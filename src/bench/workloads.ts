/**
 * The workloads run on every backend, each where the backend has the capability (otherwise the row is skipped with
 * the backend's own "does not support" message). Each one states its expected output; the harness checks it on
 * every iteration.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { unsupported } from '../backends/base.js';
import type { BackendName, Capabilities } from '../core/types.js';
import type { BenchModules } from './modules.js';
import type { Ops } from './ops.js';
import type { Plan, Skip, WorkloadTraits } from './plan.js';
import type { Expectation, MemoryFigure, Observed } from './types.js';
import { WrongOutputError, checkOutput } from './check.js';
import { processTreeKiB } from './memory.js';

/** Everything a workload may use on one backend. */
export interface BackendTarget {
  name: BackendName;
  caps: Capabilities;
  /** through the AgentKernel: the process-wide backend, pools warm */
  ops: Ops;
  /** a brand-new backend instance (cold pools), closed by the caller */
  fresh(): Promise<{ ops: Ops; close(): Promise<void> }>;
  modules: BenchModules;
  /** a private temporary directory for this backend's rows */
  tmpDir: string;
  /** a sandbox name no other row or caller uses */
  sandboxName(): string;
}

export interface BackendWorkload extends WorkloadTraits {
  plan(t: BackendTarget, expect: Expectation): Plan | Skip | Promise<Plan | Skip>;
}

const HELLO: Expectation = { stdout: 'hello\n' };
/** `echo` through a shell: the one spelling that both real shells and the wasm backend's shell runtime accept */
const ECHO_ARGV = ['sh', '-c', 'echo hello'];
const FIB_WASM_N = 30;
/** fib(30) is ~1.3 M calls: seconds per iteration in an interpreter, so interpreters get fib(25) (~120 k calls) */
const FIB_INTERPRETED_N = 25;
const fib = (n: number): number => {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
};

/** Sandboxes kept alive at once to measure memory per live sandbox. */
const LIVE_SANDBOXES = 8;
/** Backends whose sandboxes live in an engine outside this process tree (a daemon or its shims). */
const OUTSIDE_PROCESS_TREE: ReadonlySet<BackendName> = new Set(['docker', 'podman', 'apple']);

/** Create a sandbox, run `fn` in it, and remove it whatever happens (without hiding fn's own error). */
async function withSandbox<T>(ops: Ops, name: string, fn: () => Promise<T>): Promise<T> {
  await ops.create({ name });
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await ops.remove(name).catch(() => undefined);
    throw e;
  }
  await ops.remove(name);
  return result;
}

/** The smallest complete job on a backend: what "sandbox start" means there. */
interface StartProgram {
  method: string;
  run(ops: Ops): Promise<Observed>;
}

function startProgram(t: BackendTarget): StartProgram | Skip {
  if (t.caps.lifecycle && t.caps.exec) {
    return {
      method: 'create a sandbox, exec `sh -c "echo hello"` in it, remove it',
      run: (ops) => {
        const name = t.sandboxName();
        return withSandbox(ops, name, () => ops.exec(name, ECHO_ARGV));
      },
    };
  }
  if (t.caps.runWasm) return { method: 'runWasm of the WASI hello module', run: (ops) => ops.runWasm({ module: t.modules.hello }) };
  if (t.caps.exec) return { method: 'run `sh -c "echo hello"`', run: (ops) => ops.run(ECHO_ARGV) };
  return { skip: `backend '${t.name}' has neither sandboxes, runWasm nor exec to start` };
}

async function liveSandboxMemory(t: BackendTarget, expect: Expectation): Promise<MemoryFigure> {
  const method = `PSS of this process and its descendants with ${LIVE_SANDBOXES} live sandboxes, minus before, divided by ${LIVE_SANDBOXES}`;
  if (OUTSIDE_PROCESS_TREE.has(t.name)) {
    return { perSandboxKiB: null, sandboxes: 0, method, note: 'not measurable from here: the sandboxes live in the container engine, outside this process tree' };
  }
  const before = processTreeKiB();
  if (before === undefined) return { perSandboxKiB: null, sandboxes: 0, method, note: 'not measurable: /proc is not available' };
  const names: string[] = [];
  try {
    for (let i = 0; i < LIVE_SANDBOXES; i++) {
      const name = t.sandboxName();
      await t.ops.create({ name });
      names.push(name);
      checkOutput(`${t.name}/start-warm (memory)`, expect, await t.ops.exec(name, ECHO_ARGV));
    }
    const after = processTreeKiB() ?? before;
    const per = Math.round((after - before) / LIVE_SANDBOXES);
    return per > 0
      ? { perSandboxKiB: per, sandboxes: LIVE_SANDBOXES, method }
      : { perSandboxKiB: null, sandboxes: LIVE_SANDBOXES, method, note: 'below the noise of this process (memory freed elsewhere meanwhile)' };
  } finally {
    for (const n of names) await t.ops.remove(n).catch(() => undefined);
  }
}

const startCold: BackendWorkload = {
  id: 'start-cold',
  title: 'sandbox start, cold: a new backend instance runs its first job, then closes',
  expect: HELLO,
  concurrent: false,
  warmup: 1,
  maxIterations: 50,
  plan(t) {
    const prog = startProgram(t);
    if ('skip' in prog) return prog;
    const open = new Map<number, { close(): Promise<void> }>();
    const close = async (slot: number) => {
      const f = open.get(slot);
      open.delete(slot);
      await f?.close();
    };
    return {
      method: `new backend instance, then ${prog.method} (closing it is not timed)`,
      async run(slot) {
        const f = await t.fresh();
        open.set(slot, f);
        return prog.run(f.ops);
      },
      afterEach: close,
      async teardown() {
        await Promise.all([...open.keys()].map(close));
      },
    };
  },
};

const startWarm: BackendWorkload = {
  id: 'start-warm',
  title: 'sandbox start, warm: the same first job on the running backend (pools filled)',
  expect: HELLO,
  plan(t, expect) {
    const prog = startProgram(t);
    if ('skip' in prog) return prog;
    return {
      method: prog.method,
      run: () => prog.run(t.ops),
      memory: t.caps.lifecycle && t.caps.exec ? () => liveSandboxMemory(t, expect) : undefined,
    };
  },
};

const echo: BackendWorkload = {
  id: 'echo',
  title: 'shell: echo hello',
  expect: HELLO,
  plan(t) {
    if (t.caps.exec) return { method: 'run `sh -c "echo hello"` (ephemeral sandbox)', run: () => t.ops.run(ECHO_ARGV) };
    if (t.caps.languages.includes('shell')) return { method: "runCode('shell', 'echo hello')", run: () => t.ops.runCode('shell', 'echo hello') };
    return { skip: unsupported(t.name, 'exec').message };
  },
};

const wasmHello: BackendWorkload = {
  id: 'wasm-hello',
  title: 'Wasm: a WASI command that prints hello',
  expect: HELLO,
  plan(t) {
    if (!t.caps.runWasm) return { skip: unsupported(t.name, 'runWasm').message };
    return { method: 'runWasm of hello.wat (built with wabt)', run: () => t.ops.runWasm({ module: t.modules.hello }) };
  },
};

function invokeWorkload(id: string, title: string, exportName: string, args: number[], result: number): BackendWorkload {
  return {
    id,
    title,
    expect: { results: [result] },
    plan(t) {
      if (!t.caps.invoke) return { skip: unsupported(t.name, 'invoke').message };
      return {
        method: `invoke ${exportName}(${args.join(', ')}) of math.wat`,
        run: () => t.ops.invoke({ module: t.modules.math, export: exportName, args }),
      };
    },
  };
}

function codeWorkload(id: string, title: string, language: 'javascript' | 'python', code: string, stdout: string): BackendWorkload {
  return {
    id,
    title,
    expect: { stdout },
    plan(t) {
      if (!t.caps.languages.includes(language)) return { skip: unsupported(t.name, `runCode:${language}`).message };
      return { method: `runCode('${language}', ${JSON.stringify(code)})`, run: () => t.ops.runCode(language, code) };
    },
  };
}

const FILE_TEXT = 'hello\n';
/** Where sandboxes let callers write: /tmp in containers (read-only root), /workspace in the wasm backend. */
const SANDBOX_DIRS = ['/tmp', '/workspace'];

async function writableDir(ops: Ops, name: string): Promise<string> {
  const refused: string[] = [];
  for (const d of SANDBOX_DIRS) {
    const probe = `${d}/agentkernel-bench-probe.txt`;
    try {
      await ops.writeFile(name, probe, '');
      await ops.removeFile(name, probe);
      return d;
    } catch (e) {
      refused.push(`${d}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no writable directory in the sandbox (${refused.join('; ')})`);
}

const files: BackendWorkload = {
  id: 'files',
  title: 'write a file and read it back',
  expect: { stdout: FILE_TEXT },
  plan(t, expect) {
    if (t.caps.lifecycle && t.caps.files) {
      const name = t.sandboxName();
      let dir = '';
      const path = (slot: number) => `${dir}/agentkernel-bench-${slot}.txt`;
      return {
        method: `writeFile + readFile in a persistent sandbox, under the first writable of ${SANDBOX_DIRS.join(', ')} (the file is removed between iterations, untimed)`,
        async setup() {
          await t.ops.create({ name });
          dir = await writableDir(t.ops, name);
        },
        async run(slot) {
          await t.ops.writeFile(name, path(slot), FILE_TEXT);
          const back = await t.ops.readFile(name, path(slot));
          return { exitCode: 0, stdout: Buffer.from(back).toString('utf8') };
        },
        afterEach: (slot) => t.ops.removeFile(name, path(slot)),
        teardown: () => t.ops.remove(name),
      };
    }
    if (t.caps.runWasm) {
      const dir = (slot: number) => join(t.tmpDir, `files-${slot}`);
      return {
        method: 'runWasm of files.wat: the guest writes bench.txt in a preopened read-write directory and reads it back',
        run(slot) {
          mkdirSync(dir(slot), { recursive: true });
          return t.ops.runWasm({ module: t.modules.files, mounts: [{ hostPath: dir(slot), guestPath: '/data', readOnly: false }] });
        },
        verify(_got, slot) {
          // the guest's read could be served from somewhere other than the real file: look at the host side too
          const file = join(dir(slot), 'bench.txt');
          let onHost: string;
          try {
            onHost = readFileSync(file, 'utf8');
          } catch (e) {
            throw new WrongOutputError(`${t.name}/files: the guest's file did not reach the host: ${(e as Error).message}`);
          }
          if (onHost !== expect.stdout) {
            throw new WrongOutputError(`${t.name}/files: wrong output: host file holds ${JSON.stringify(onHost)}, expected ${JSON.stringify(expect.stdout)}`);
          }
        },
        afterEach: async (slot) => rmSync(join(dir(slot), 'bench.txt'), { force: true }),
      };
    }
    return { skip: unsupported(t.name, 'files').message };
  },
};

const FIB_JS = `function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }\nconsole.log(fib(${FIB_INTERPRETED_N}))`;
const FIB_PY = `def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nprint(fib(${FIB_INTERPRETED_N}))`;

/** In report order. */
export const WORKLOADS: readonly BackendWorkload[] = [
  startCold,
  startWarm,
  echo,
  wasmHello,
  invokeWorkload('invoke', 'Wasm: invoke a trivial export, add(1, 1)', 'add', [1, 1], 2),
  codeWorkload('js', 'JavaScript: console.log(1+1)', 'javascript', 'console.log(1+1)', '2\n'),
  codeWorkload('python', 'Python: print(1+1)', 'python', 'print(1+1)', '2\n'),
  invokeWorkload('fib-wasm', `CPU: naive recursive fib(${FIB_WASM_N}) in Wasm`, 'fib', [FIB_WASM_N], fib(FIB_WASM_N)),
  codeWorkload('fib-js', `CPU: naive recursive fib(${FIB_INTERPRETED_N}) in JavaScript`, 'javascript', FIB_JS, `${fib(FIB_INTERPRETED_N)}\n`),
  codeWorkload('fib-python', `CPU: naive recursive fib(${FIB_INTERPRETED_N}) in Python`, 'python', FIB_PY, `${fib(FIB_INTERPRETED_N)}\n`),
  files,
];

export const WORKLOAD_IDS: readonly string[] = WORKLOADS.map((w) => w.id);
