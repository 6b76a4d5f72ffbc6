/**
 * Fuzzed surfaces: Wasm loading. Valid fixture modules are mutated (bit flips, byte overwrites, truncation,
 * inserted and deleted runs, a section's size field overwritten, sections spliced from several modules) and so is
 * their text form; the result goes through the module toolkit in-process (load, inspect, cap, compile: never run
 * there, a mutant may loop) and, fewer of them, through the jailed `wasm` backend and the `hyperlight` backend,
 * which run what compiles under a time limit.
 *
 * Invariants: loading ends in module bytes or a ValidationError/LimitError, never another exception; a backend
 * run ends in a result (any exit code) or a typed AgentKernelError other than INTERNAL; the backend still runs a
 * good module afterwards.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AgentKernelError } from '../../src/core/errors.js';
import type { Backend } from '../../src/core/types.js';
import { readSections } from '../../src/runtimes/wasm/binary.js';
import { compileModule, compileWat, inspectModule, loadModuleBytes } from '../../src/runtimes/wasm/module.js';
import { HELLO_WAT } from '../api/fixtures.js';
import { CAT, READFILE } from '../wasi/harness.js';
import { Tally, within, type FuzzSurface, type OpenSurface } from './runner.js';

/** Modules with every kind of section between them: imports, memory, table + elem, globals, start, data. */
const RICH = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (type $t (func (param i32) (result i32)))
  (memory (export "memory") 1 4)
  (table 2 funcref)
  (global $g (mut i32) (i32.const 7))
  (global (export "k") i64 (i64.const -1))
  (elem (i32.const 0) $sq $id)
  (data (i32.const 64) "rich\\n")
  (func $sq (type $t) (i32.mul (local.get 0) (local.get 0)))
  (func $id (type $t) (local.get 0))
  (func $init (global.set $g (i32.const 9)))
  (start $init)
  (func (export "pick") (param i32 i32) (result i32) (call_indirect (type $t) (local.get 1) (local.get 0)))
  (func (export "f64") (param f64) (result f64) (f64.sqrt (local.get 0)))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 5))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
const COUNTER = `(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "bump") (result i32 i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 10)))
    (global.get $g) (i32.load (i32.const 64)))
  (func (export "square") (param i64) (result i64) (i64.mul (local.get 0) (local.get 0))))`;

export const FIXTURE_WATS = [HELLO_WAT, RICH, COUNTER, CAT, READFILE];
/** What a backend run calls in each fixture (undefined: `_start` as a WASI command). */
const ENTRIES: (string | undefined)[][] = [[undefined, 'add'], [undefined, 'pick', 'f64'], ['bump', 'square'], [undefined], [undefined]];

export interface Fixtures {
  wats: string[];
  binaries: Uint8Array[];
}

export async function loadFixtures(): Promise<Fixtures> {
  return { wats: FIXTURE_WATS, binaries: await Promise.all(FIXTURE_WATS.map((w) => compileWat(w))) };
}

type Mutation =
  | { t: 'flip'; at: number; bit: number }
  | { t: 'set'; at: number; byte: number }
  | { t: 'truncate'; at: number }
  | { t: 'insert'; at: number; bytes: Uint8Array }
  | { t: 'delete'; at: number; len: number }
  | { t: 'sectionSize'; section: number; size: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x0b, 0x41), fc.nat(255)) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('sectionSize' as const), section: fc.nat(15), size: fc.oneof(fc.nat(64), fc.constantFrom(0x7fffffff, 0xffffffff)) }) },
);

function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (bytes.byteLength === 0) return bytes;
  const at = m.t === 'sectionSize' ? 0 : m.at % (bytes.byteLength + (m.t === 'insert' ? 1 : 0));
  switch (m.t) {
    case 'flip': {
      const b = bytes.slice();
      b[at] = b[at]! ^ (1 << m.bit);
      return b;
    }
    case 'set': {
      const b = bytes.slice();
      b[at] = m.byte;
      return b;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
    case 'delete':
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + m.len)]);
    case 'sectionSize': {
      let sections;
      try {
        sections = readSections(bytes);
      } catch {
        return bytes;
      }
      const s = sections[m.section % Math.max(1, sections.length)];
      if (!s) return bytes;
      return Uint8Array.from([...bytes.subarray(0, s.start + 1), ...uleb(m.size), ...bytes.subarray(s.payloadStart)]);
    }
  }
}

/** Sections of several fixtures put together in a chosen order (duplicates, misordering and gaps included). */
function splice(fixtures: Uint8Array[], picks: [number, number][]): Uint8Array {
  const parts: number[] = [...fixtures[0]!.subarray(0, 8)];
  for (const [f, s] of picks) {
    const bin = fixtures[f % fixtures.length]!;
    const sections = readSections(bin);
    const sec = sections[s % sections.length]!;
    parts.push(...bin.subarray(sec.start, sec.end));
  }
  return Uint8Array.from(parts);
}

export interface ModuleCase {
  base: { t: 'fixture'; index: number } | { t: 'splice'; picks: [number, number][] };
  mutations: Mutation[];
  /** Mutate the text form instead of the binary. */
  text: boolean;
}

export const moduleCaseArb: fc.Arbitrary<ModuleCase> = fc.record({
  base: fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('fixture' as const), index: fc.nat(FIXTURE_WATS.length - 1) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('splice' as const), picks: fc.array(fc.tuple(fc.nat(9), fc.nat(15)), { minLength: 1, maxLength: 12 }) }) },
  ),
  mutations: fc.array(mutationArb, { maxLength: 4 }),
  text: fc.boolean(),
});

/** The module bytes a case describes (text cases: the mutated .wat source, as bytes). */
export function caseBytes(f: Fixtures, c: ModuleCase): Uint8Array {
  let bytes: Uint8Array;
  if (c.base.t === 'splice') bytes = splice(f.binaries, c.base.picks);
  else bytes = c.text ? new TextEncoder().encode(f.wats[c.base.index]!) : f.binaries[c.base.index]!;
  for (const m of c.mutations) bytes = applyMutation(bytes, m);
  return bytes;
}

/** Backend runs: a fixture with few binary mutations, so that many still compile and run. */
const backendCaseArb = fc.record({
  c: fc.record({
    base: fc.record({ t: fc.constant('fixture' as const), index: fc.nat(FIXTURE_WATS.length - 1) }),
    mutations: fc.oneof({ weight: 1, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 3, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 2 }) }),
    text: fc.constant(false),
  }),
  entry: fc.nat(2),
});

const LOAD_CODES = new Set(['VALIDATION', 'LIMIT']);

/** In-process: load (binary or text), inspect, cap memory and compile; returns how it ended. */
export async function loadCase(bytes: Uint8Array): Promise<string> {
  try {
    const loaded = await loadModuleBytes(bytes);
    inspectModule(loaded);
    await compileModule(loaded, { memoryMb: 16 });
    return 'compiled';
  } catch (e) {
    if (e instanceof AgentKernelError && LOAD_CODES.has(e.code)) return `error ${e.code}`;
    throw new Error(`loading a mutated module threw an untyped error: ${String((e as Error)?.stack ?? e)}`);
  }
}

export const wasmLoadSurface: FuzzSurface = {
  name: 'wasm-load',
  ciRuns: 600,
  async open(): Promise<OpenSurface> {
    const fixtures = await loadFixtures();
    const tally = new Tally();
    return {
      property: fc.asyncProperty(moduleCaseArb, async (c) => {
        tally.add(await loadCase(caseBytes(fixtures, c)));
      }),
      healthy: async () => {
        if (tally.total() >= 100) assert.ok(tally.get('compiled') > 0 && tally.get('error VALIDATION') > 0, JSON.stringify(tally.counts));
      },
      stats: () => tally.counts,
      close: async () => undefined,
    };
  },
};

/** A backend's run of a mutated module: a result or a typed error that is not INTERNAL. */
async function backendCase(backend: Backend, bytes: Uint8Array, invoke: string | undefined): Promise<string> {
  const opts = { module: bytes, timeoutMs: 2000, memoryMb: 32 };
  try {
    const r = await within(invoke ? backend.invoke({ ...opts, export: invoke, args: invoke === 'f64' ? ['2.25'] : invoke === 'bump' ? [] : invoke === 'square' ? ['12'] : ['3', '4'] }) : backend.runWasm(opts), 120_000, `${backend.name} run of a mutated module`);
    assert.ok(Number.isInteger(r.exitCode), `exit code ${r.exitCode}`);
    return `exit ${r.exitCode}`;
  } catch (e) {
    if (e instanceof AgentKernelError && e.code !== 'INTERNAL') return `error ${e.code}`;
    throw new Error(`${backend.name}: a mutated module ended in ${String((e as Error)?.stack ?? e)}`);
  }
}

function backendSurface(name: string, ciRuns: number, create: () => Promise<Backend>): FuzzSurface {
  return {
    name,
    ciRuns,
    async open(): Promise<OpenSurface | { skip: string }> {
      const backend = await create();
      const a = await backend.availability();
      if (!a.available) {
        await backend.close();
        return { skip: `${backend.name} backend unavailable: ${a.reason}` };
      }
      const fixtures = await loadFixtures();
      const tally = new Tally();
      return {
        property: fc.asyncProperty(backendCaseArb, async ({ c, entry }) => {
          const index = c.base.t === 'fixture' ? c.base.index : 0;
          const entries = ENTRIES[index]!;
          tally.add(await backendCase(backend, caseBytes(fixtures, c), entries[entry % entries.length]));
        }),
        healthy: async () => {
          const r = await backend.runWasm({ module: HELLO_WAT, timeoutMs: 30_000 });
          assert.equal(r.stdout, 'hello from wasm\n', `the ${backend.name} backend no longer runs a good module`);
        },
        stats: () => tally.counts,
        close: () => backend.close(),
      };
    },
  };
}

export const wasmBackendSurface = backendSurface('wasm-backend', 40, async () => {
  const { createWasmBackend } = await import('../../src/backends/wasm/index.js');
  return createWasmBackend();
});

export const hyperlightBackendSurface = backendSurface('hyperlight-backend', 10, async () => {
  const { HyperlightBackend } = await import('../../src/backends/hyperlight/backend.js');
  return new HyperlightBackend();
});
