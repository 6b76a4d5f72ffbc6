/**
 * Recognising Wasm traps among the errors V8 throws, and naming them with the project's TrapKind.
 */
import type { TrapKind } from '../../core/types.js';
import { wasm } from './engine.js';

/** V8's RuntimeError messages, most specific first. */
const RUNTIME_ERRORS: [RegExp, TrapKind][] = [
  [/^unreachable/i, 'unreachable'],
  [/divide by zero|remainder by zero/i, 'integer_divide_by_zero'],
  [/divide result unrepresentable|integer overflow/i, 'integer_overflow'],
  [/float unrepresentable|invalid conversion/i, 'invalid_conversion'],
  [/signature mismatch|indirect call type mismatch/i, 'indirect_call_type_mismatch'],
  [/null (?:pointer|reference|function)|dereferencing a null/i, 'null_reference'],
  [/out of bounds|index is out of bounds/i, 'out_of_bounds'],
  [/out of memory|cannot allocate|maximum memory size/i, 'memory_limit'],
];

const RANGE_ERRORS: [RegExp, TrapKind][] = [
  [/maximum call stack size exceeded/i, 'stack_exhausted'],
  [/out of memory|cannot allocate wasm memory|maximum memory size exceeded/i, 'memory_limit'],
];

function match(table: [RegExp, TrapKind][], message: string): TrapKind | undefined {
  return table.find(([re]) => re.test(message))?.[1];
}

export function classifyTrap(e: unknown): { kind: TrapKind; message: string } | undefined {
  if (e instanceof wasm.RuntimeError) {
    const message = (e as Error).message;
    return { kind: match(RUNTIME_ERRORS, message) ?? 'unknown', message };
  }
  if (e instanceof RangeError) {
    const kind = match(RANGE_ERRORS, e.message);
    return kind ? { kind, message: e.message } : undefined;
  }
  if (wasm.Exception && e instanceof wasm.Exception) return { kind: 'unknown', message: 'uncaught WebAssembly exception' };
  return undefined;
}

/** Is this the error of a guest whose stack ran out (re-thrown through host functions as a trap)? */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && RANGE_ERRORS[0]![0].test(e.message);
}
