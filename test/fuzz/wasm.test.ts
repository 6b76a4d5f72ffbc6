// Fuzzing Wasm loading: mutated and spliced modules (binary and text) through the module toolkit, the jailed
// `wasm` backend and the `hyperlight` backend (each skipped with its reason where it cannot run).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

// before any backend resolves its state or cache directory
const home = mkdtempSync(join(tmpdir(), 'ak-fuzz-home-'));
process.env.AGENTKERNEL_HOME = home;
after(() => rmSync(home, { recursive: true, force: true }));

const { fuzzTest } = await import('./runner.js');
const { hyperlightBackendSurface, wasmBackendSurface, wasmLoadSurface } = await import('./wasm-surface.js');

test('mutated modules load into a module or a ValidationError, never another exception', async (t) => {
  await fuzzTest(t, wasmLoadSurface);
});

test('mutated modules through the jailed wasm backend: a result or a typed error', async (t) => {
  await fuzzTest(t, wasmBackendSurface);
});

test('mutated modules through the hyperlight backend: a result or a typed error', async (t) => {
  await fuzzTest(t, hyperlightBackendSurface);
});
