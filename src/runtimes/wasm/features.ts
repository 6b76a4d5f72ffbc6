/**
 * detectFeatures(): which post-MVP proposals a module needs. wabt validates the binary once with every proposal
 * on; then proposals are switched off, and kept off when wabt still reads the module. What must stay on is
 * needed.
 *
 * Reading a large module costs about a second per megabyte while a refusal usually comes early, so proposals
 * are switched off in groups, halving a group only when it holds a needed one: rarely used proposals come first
 * and mostly leave in one read. Proposals that imply others (gc ⇒ function references ⇒ reference types) come
 * before the ones they imply, so the answer is the smallest set.
 */
import { ValidationError } from '../../core/errors.js';
import { readLayout } from './inspect.js';
import { featureSet, wabtRejects, type WabtFeature } from './wabt.js';

/** Binary-relevant proposals; annotations and code_metadata only change how text and custom sections read. */
const CANDIDATES: WabtFeature[] = [
  'gc', 'function_references', 'exceptions', 'relaxed_simd', 'simd', 'memory64', 'multi_memory', 'extended_const',
  'tail_call', 'threads', 'reference_types', 'bulk_memory', 'multi_value', 'sign_extension', 'sat_float_to_int',
  'mutable_globals',
];

export async function detectFeatures(bytes: Uint8Array): Promise<string[]> {
  const layout = readLayout(bytes);
  const invalid = await wabtRejects(bytes, featureSet(CANDIDATES));
  if (invalid !== undefined) throw new ValidationError(`invalid WebAssembly module: ${invalid}`);

  // what our own reader sees directly (wabt's reader lets some of these through, or checks them only when
  // validating)
  const seen = new Set<WabtFeature>();
  if (layout.memories.some((m) => m.shared)) seen.add('threads');
  if (layout.memories.some((m) => m.memory64)) seen.add('memory64');
  if (layout.memories.length > 1) seen.add('multi_memory');
  if (layout.multiValue) seen.add('multi_value');
  if (layout.mutableGlobalIO) seen.add('mutable_globals');

  const on = await prune(bytes, false);
  for (const f of seen) on.add(f);
  // the cheap reads missed a proposal that only validation checks: do it again, validating every step
  const result = (await wabtRejects(bytes, featureSet(on))) === undefined ? on : await prune(bytes, true);
  for (const f of seen) result.add(f);
  return [...result].sort();
}

/** The proposals wabt cannot do without, switching them off in halving groups. */
async function prune(bytes: Uint8Array, validate: boolean): Promise<Set<WabtFeature>> {
  const on = new Set<WabtFeature>(CANDIDATES);
  const switchOff = async (group: WabtFeature[]): Promise<void> => {
    group.forEach((f) => on.delete(f));
    if ((await wabtRejects(bytes, featureSet(on), validate)) === undefined) return;
    group.forEach((f) => on.add(f));
    if (group.length === 1) return; // needed
    const half = Math.ceil(group.length / 2);
    await switchOff(group.slice(0, half));
    await switchOff(group.slice(half));
  };
  await switchOff(CANDIDATES);
  return on;
}
