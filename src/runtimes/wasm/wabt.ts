/**
 * The npm `wabt` toolkit (WABT compiled to Wasm), loaded once on first use: .wat text to binary, and binary
 * validation with chosen proposals turned on or off.
 */
import type wabtInit from 'wabt';
import { ValidationError } from '../../core/errors.js';

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
export type WabtFeatures = Parameters<Wabt['parseWat']>[2] & { multi_memory?: boolean };

/** Every post-MVP proposal wabt 1.0.39 knows. */
export const WABT_FEATURES = [
  'exceptions', 'mutable_globals', 'sat_float_to_int', 'sign_extension', 'simd', 'threads', 'function_references',
  'multi_value', 'tail_call', 'bulk_memory', 'reference_types', 'annotations', 'code_metadata', 'gc', 'memory64',
  'multi_memory', 'extended_const', 'relaxed_simd',
] as const;

export type WabtFeature = (typeof WABT_FEATURES)[number];

export function featureSet(on: Iterable<WabtFeature>): Record<WabtFeature, boolean> {
  const set = new Set(on);
  return Object.fromEntries(WABT_FEATURES.map((f) => [f, set.has(f)])) as Record<WabtFeature, boolean>;
}

export const ALL_FEATURES = featureSet(WABT_FEATURES);

let loading: Promise<Wabt> | undefined;

/** Loaded on first use: importing wabt's 700 KB of JavaScript would slow the start of every worker. */
export function loadWabt(): Promise<Wabt> {
  loading ??= import('wabt').then((m) => m.default());
  return loading;
}

/** wabt prefixes its messages with the step that failed ("parseWat failed:"); the rest is the useful part. */
function wabtMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/^\w+ failed:\n/, '').trim();
}

/** Compiles WebAssembly text to a binary, with every proposal wabt knows allowed. */
export async function compileWat(text: string, filename = 'module.wat'): Promise<Uint8Array> {
  const wabt = await loadWabt();
  let mod: ReturnType<Wabt['parseWat']> | undefined;
  try {
    mod = wabt.parseWat(filename, text, ALL_FEATURES);
    mod.resolveNames();
    (mod.validate as (f?: WabtFeatures) => void)(ALL_FEATURES);
    return Uint8Array.from(mod.toBinary({}).buffer);
  } catch (e) {
    throw new ValidationError(`invalid WebAssembly text: ${wabtMessage(e)}`, { file: filename });
  } finally {
    mod?.destroy();
  }
}

/**
 * Does wabt accept the binary with exactly these proposals enabled? Returns undefined when it does, otherwise
 * wabt's message. Reading alone already refuses the opcodes, types and sections of a disabled proposal;
 * `validate` adds the full type check, which costs about a quarter more.
 */
export async function wabtRejects(bytes: Uint8Array, features: Record<WabtFeature, boolean>, validate = true): Promise<string | undefined> {
  const wabt = await loadWabt();
  let mod: ReturnType<Wabt['readWasm']> | undefined;
  try {
    mod = wabt.readWasm(bytes, { readDebugNames: false, check: true, ...features });
    if (validate) (mod.validate as (f?: WabtFeatures) => void)(features);
    return undefined;
  } catch (e) {
    return wabtMessage(e);
  } finally {
    mod?.destroy();
  }
}
