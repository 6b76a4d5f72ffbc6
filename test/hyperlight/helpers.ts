/**
 * Shared by the hyperlight tests: .wat -> .wasm with wabt, and the native harness (harness/harness.c) that runs
 * a guest built from the same runtime sources as a plain process, for machines (and moments) without the VM.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import wabtInit from 'wabt';
import {
  compileGuestObject,
  guestCFlags,
  planGuest,
  RUNTIME_SOURCES,
  translateGuest,
} from '../../src/backends/hyperlight/compile.js';
import { guestToolchain, packageRoot, type GuestToolchain } from '../../src/backends/hyperlight/toolchain.js';

const run = promisify(execFile);

let wabt: ReturnType<typeof wabtInit> | undefined;

const scratch: string[] = [];

/** A temporary directory removed by cleanup(). */
export async function scratchDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(d);
  return d;
}

/** Remove every scratch directory (call from `after`). */
export async function cleanup(): Promise<void> {
  await Promise.all(scratch.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  harnessRuntimes.clear();
}

export async function wat(text: string, features: Record<string, boolean> = {}): Promise<Uint8Array> {
  wabt ??= wabtInit();
  const mod = (await wabt).parseWat('test.wat', new TextEncoder().encode(text), features);
  try {
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

/** Why the guest toolchain cannot be used here, or undefined when it can (for `skip`). */
export async function toolchainMissing(): Promise<string | undefined> {
  try {
    await guestToolchain();
    return undefined;
  } catch (err) {
    return `guest toolchain unavailable: ${(err as Error).message}`;
  }
}

const harnessRuntimes = new Map<boolean, Promise<string[]>>();

/** The runtime compiled for the harness, once per test process (per SSE4.1 setting). */
function harnessRuntime(tc: GuestToolchain): Promise<string[]> {
  let p = harnessRuntimes.get(tc.sse41);
  if (!p) {
    p = (async () => {
      const dir = await scratchDir('ak-harness-rt-');
      const objs: string[] = [];
      for (const src of [...RUNTIME_SOURCES.map((s) => join(tc.guestDir, 'runtime', s)), join(packageRoot(), 'test', 'hyperlight', 'harness', 'harness.c')]) {
        const out = join(dir, src.replace(/^.*\//, '').replace(/\.[cS]$/, '.o'));
        await compileGuestObject(tc, src, out, { harness: true, ours: true });
        objs.push(out);
      }
      return objs;
    })();
    harnessRuntimes.set(tc.sse41, p);
  }
  return p;
}

/** Build a module into a native harness executable. `sse41: false` exercises the runtime's portable math. */
export async function buildHarness(bytes: Uint8Array, opts: { sse41?: boolean } = {}): Promise<string> {
  const base = await guestToolchain();
  const tc = { ...base, sse41: opts.sse41 ?? base.sse41 };
  const plan = await planGuest(bytes, tc.wasiFunctions);
  const dir = await scratchDir('ak-harness-');
  const src = await translateGuest(bytes, plan, tc, dir);
  const moduleO = join(dir, 'module.o');
  const glueO = join(dir, 'glue.o');
  await compileGuestObject(tc, src.moduleC, moduleO, { harness: true });
  await compileGuestObject(tc, src.glueC, glueO, { harness: true });
  const exe = join(dir, 'guest');
  await run(tc.gcc, ['-nostdlib', '-static', '-no-pie', '-Wl,--gc-sections', ...guestCFlags(tc, { harness: true }), '-o', exe, ...(await harnessRuntime(tc)), moduleO, glueO, '-lgcc']);
  return exe;
}

export interface HarnessRun {
  stdout: string;
  stderr: string;
  /** The harness's closing report, parsed: kind is done, trap, ready-trap or abort. */
  kind: string;
  fields: Record<string, string>;
  message?: string;
}

/** Run `start` or `invoke INDEX ARGS...` (raw argument bits as decimal strings or bigints). */
export async function runHarness(exe: string, op: ['start'] | ['invoke', number, ...(bigint | number)[]], memMib = 16): Promise<HarnessRun> {
  const args = [String(memMib), ...op.map(String)];
  const { stdout, stderr } = await run(exe, args, { maxBuffer: 64 << 20 });
  // the report is the last line, preceded by a newline of its own (guest stderr need not end with one)
  const at = stderr.lastIndexOf('\n#ak ');
  const m = at < 0 ? null : stderr.slice(at + 1).trimEnd().match(/^#ak (\S+)\s?(.*)$/);
  if (!m) throw new Error(`harness printed no report: ${stderr.slice(-500)}`);
  const [, kind, rest] = m;
  const fields: Record<string, string> = {};
  if (kind !== 'abort') for (const kv of rest.split(' ')) if (kv.includes('=')) fields[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  return { stdout, stderr: stderr.slice(0, at), kind, fields, ...(kind === 'abort' ? { message: rest } : {}) };
}

/** Raw result bits of a done report. */
export function results(r: HarnessRun): bigint[] {
  if (r.kind !== 'done') throw new Error(`expected done, got ${r.kind} ${JSON.stringify(r.fields)} ${r.message ?? ''}`);
  return r.fields.results ? r.fields.results.split(',').map((s) => BigInt(s)) : [];
}

export const f64bits = (x: number): bigint => {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x, true);
  return v.getBigUint64(0, true);
};
export const bitsf64 = (b: bigint): number => {
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, b, true);
  return v.getFloat64(0, true);
};
export const f32bits = (x: number): bigint => {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, true);
  return BigInt(v.getUint32(0, true));
};
export const bitsf32 = (b: bigint): number => {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, Number(b & 0xffffffffn), true);
  return v.getFloat32(0, true);
};
