/**
 * compileGuest: validation errors, the guest image it produces, and the content-addressed cache (a second compile
 * of a module runs neither wasm2c nor gcc, also from another process; concurrent compiles publish one image).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileGuest, planGuest } from '../../src/backends/hyperlight/compile.js';
import { readElfImage } from '../../src/backends/hyperlight/elf.js';
import { abiWasiFunctions, guestToolchain, packageRoot } from '../../src/backends/hyperlight/toolchain.js';
import { WASI_SIGNATURES } from '../../src/runtimes/wasi/signatures.js';
import { AbortError, UnsupportedError, ValidationError } from '../../src/core/errors.js';
import { cleanup, scratchDir, toolchainMissing, wat } from './helpers.js';
import * as M from './modules.js';

const skip = await toolchainMissing();
const quiet = { onProgress: () => {} };

describe('hyperlight compile', { skip }, () => {
  const savedHome = process.env.AGENTKERNEL_HOME;
  before(async () => {
    process.env.AGENTKERNEL_HOME = await scratchDir('ak-hl-compile-');
  });
  after(async () => {
    if (savedHome === undefined) delete process.env.AGENTKERNEL_HOME;
    else process.env.AGENTKERNEL_HOME = savedHome;
    await cleanup();
  });

  test('rejects bytes that are not a Wasm binary', async () => {
    await assert.rejects(compileGuest(new TextEncoder().encode('(module)'), quiet), ValidationError);
  });

  test('rejects SIMD with an error naming simd', async () => {
    const bytes = await wat(M.SIMD, { simd: true });
    await assert.rejects(compileGuest(bytes, quiet), (err: Error) => err instanceof UnsupportedError && /\bsimd\b/.test(err.message));
  });

  test('rejects the other proposals the guest cannot run, naming them', async () => {
    const bytes = await wat('(module (func $f (return_call $f)))', { tail_call: true });
    await assert.rejects(compileGuest(bytes, quiet), (err: Error) => err instanceof UnsupportedError && /\btail_call\b/.test(err.message));
  });

  test('rejects imports other than WASI functions, naming each', async () => {
    const bytes = await wat(M.ENV_IMPORT);
    await assert.rejects(
      compileGuest(bytes, quiet),
      (err: Error) => err instanceof ValidationError && err.message.includes('env.log') && err.message.includes('env.mem'),
    );
  });

  test('rejects a WASI import with the wrong signature or an unknown name', async () => {
    const { wasiFunctions } = await guestToolchain();
    const badSignature = await wat(M.BAD_WASI_SIGNATURE);
    const unknown = await wat(M.UNKNOWN_WASI);
    await assert.rejects(planGuest(badSignature, wasiFunctions), /fd_write.*declared \(i32\) -> \(i32\)/);
    await assert.rejects(planGuest(unknown, wasiFunctions), /fd_teleport \(not a WASI preview1 function\)/);
  });

  test('abi.h numbers exactly the WASI preview1 functions the TypeScript WASI implements', async () => {
    const abi = await readFile(join(packageRoot(), 'native', 'common', 'abi.h'), 'utf8');
    assert.deepEqual([...abiWasiFunctions(abi)].sort(), Object.keys(WASI_SIGNATURES).sort());
  });

  test('plans exports with their types, invoke indices and the WASI imports', async () => {
    const { wasiFunctions } = await guestToolchain();
    const plan = await planGuest(await wat(M.TYPES, { reference_types: true, multi_value: true }), wasiFunctions);
    const byName = Object.fromEntries(plan.exports.map((e) => [e.name, e]));
    assert.deepEqual(byName.add_i32, { name: 'add_i32', params: ['i32', 'i32'], results: ['i32'], index: 0 });
    assert.deepEqual(byName.swap.results, ['f64', 'f32', 'i64', 'i32']);
    assert.equal(byName.takes_ref.index, undefined);
    assert.match(byName.takes_ref.reason!, /externref/);
    assert.equal(byName.nothing.index, 5);
    assert.equal(plan.hasStart, false);
    const hello = await planGuest(await wat(M.HELLO), wasiFunctions);
    assert.equal(hello.hasStart, true);
    assert.deepEqual(hello.wasiImports.map((i) => i.name), ['fd_write']);
  });

  test('builds a static ELF guest at AK_IMAGE_BASE, then serves it from the cache', async () => {
    const tc = await guestToolchain();
    const bytes = await wat(M.HELLO);
    const first = await compileGuest(bytes, quiet);
    assert.equal(first.cached, false);
    const image = readElfImage(await readFile(first.imagePath), tc.imageBase);
    assert.equal(image.segments[0].vaddr, tc.imageBase);
    assert.equal(first.imageSpan, Number(image.span));
    assert.equal(first.abiVersion, tc.abiVersion);

    const second = await compileGuest(bytes, quiet);
    assert.equal(second.cached, true);
    assert.equal(second.imagePath, first.imagePath);
    assert.deepEqual(second.exports, first.exports);
    assert.equal(second.timings.wasm2cMs, 0);
  });

  test('two builds of one module give the same image, byte for byte', async () => {
    const bytes = await wat(M.START_SECTION);
    const first = await compileGuest(bytes, quiet);
    const image = await readFile(first.imagePath);
    await rm(first.imagePath);
    await rm(first.imagePath.replace(/\.elf$/, '.json'));
    const second = await compileGuest(bytes, quiet);
    assert.equal(second.cached, false);
    assert.ok(image.equals(await readFile(second.imagePath)));
  });

  test("a caller's abort rejects only that caller; the shared build completes", async () => {
    const bytes = await wat(M.REACTOR);
    const ac = new AbortController();
    const aborted = compileGuest(bytes, { ...quiet, signal: ac.signal });
    const other = compileGuest(bytes, quiet);
    ac.abort();
    await assert.rejects(aborted, AbortError);
    assert.equal((await other).cached, false);
    await assert.rejects(compileGuest(bytes, { ...quiet, signal: AbortSignal.abort() }), AbortError);
  });

  test('compiles every kind of export and a multi-value result', async () => {
    const r = await compileGuest(await wat(M.TYPES, { reference_types: true, multi_value: true }), quiet);
    assert.equal(r.exports.filter((e) => e.index !== undefined).length, 7);
  });

  test('tool runs: cold compile runs wasm2c and gcc, a later process only reads the cache', async () => {
    const home = await scratchDir('ak-hl-cache-');
    const { log, env } = await loggingTools(home);
    const wasm = join(home, 'm.wasm');
    await writeFile(wasm, await wat(M.TRAPS));

    const a = await compileInChild(wasm, env);
    assert.equal(a.cached, false);
    const coldRuns = toolRuns(await readFile(log, 'utf8'));
    assert.ok(coldRuns.some((l) => l.startsWith('wasm2c ')), 'wasm2c ran');
    assert.ok(coldRuns.filter((l) => l.startsWith('gcc ')).length >= 3, 'gcc compiled and linked');

    const b = await compileInChild(wasm, env);
    assert.equal(b.cached, true);
    assert.equal(b.imagePath, a.imagePath);
    assert.deepEqual(toolRuns(await readFile(log, 'utf8')), coldRuns, 'no tool ran for the cached compile');
  });

  test('concurrent compiles of one module: one wasm2c run in a process, one published image across processes', async () => {
    const home = await scratchDir('ak-hl-race-');
    const { log, env } = await loggingTools(home);
    const wasm = join(home, 'm.wasm');
    await writeFile(wasm, await wat(M.OUTPUT));

    const [a, b] = await Promise.all([compileInChild(wasm, env, 2), compileInChild(wasm, env, 2)]);
    assert.equal(a.imagePath, b.imagePath);
    const wasm2cRuns = toolRuns(await readFile(log, 'utf8')).filter((l) => l.startsWith('wasm2c '));
    assert.ok(wasm2cRuns.length >= 1 && wasm2cRuns.length <= 2, `one wasm2c run per process (saw ${wasm2cRuns.length})`);
    const files = await readdir(join(home, 'cache', 'hyperlight'));
    assert.deepEqual(files.filter((f) => f.startsWith('tmp-')), [], 'no temporary files left behind');
    assert.equal(files.filter((f) => f.endsWith('.elf')).length, 1);
    const tc = await guestToolchain();
    readElfImage(await readFile(a.imagePath), tc.imageBase);
  });
});

// ---- helpers ----

/** Wrapper scripts that log each wasm2c/gcc invocation, then run the real tool. */
async function loggingTools(home: string): Promise<{ log: string; env: NodeJS.ProcessEnv }> {
  const tc = await guestToolchain();
  const log = join(home, 'tools.log');
  const wrap = async (name: string, real: string) => {
    const p = join(home, `${name}.sh`);
    await writeFile(p, `#!/bin/sh\necho "${name} $*" >> '${log}'\nexec '${real}' "$@"\n`);
    await chmod(p, 0o755);
    return p;
  };
  await writeFile(log, '');
  return {
    log,
    env: {
      ...process.env,
      AGENTKERNEL_HOME: home,
      AGENTKERNEL_WASM2C: await wrap('wasm2c', tc.wasm2c),
      AGENTKERNEL_GCC: await wrap('gcc', tc.gcc),
    },
  };
}

/** Tool invocations that do real work (not the version probes every process makes). */
function toolRuns(log: string): string[] {
  return log.split('\n').filter((l) => l && !/ (--version|-print-file-name=)/.test(l));
}

/** compileGuest in a separate Node process, `times` concurrent calls there; returns the first result. */
function compileInChild(wasm: string, env: NodeJS.ProcessEnv, times = 1): Promise<{ cached: boolean; imagePath: string }> {
  const modUrl = new URL('../../src/backends/hyperlight/compile.js', import.meta.url).href;
  const script = `
    import { readFileSync } from 'node:fs';
    const { compileGuest } = await import(${JSON.stringify(modUrl)});
    const bytes = new Uint8Array(readFileSync(${JSON.stringify(wasm)}));
    const all = await Promise.all(Array.from({ length: ${times} }, () => compileGuest(bytes, { onProgress() {} })));
    if (new Set(all.map((r) => r.imagePath)).size !== 1) throw new Error('different images');
    process.stdout.write(JSON.stringify({ cached: all[0].cached, imagePath: all[0].imagePath }));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
      else resolve(JSON.parse(out));
    });
  });
}
