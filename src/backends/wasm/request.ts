/**
 * Checks of a run's environment and stdin shared by both Wasm backends (`wasm` and `hyperlight`), which hand the
 * same values to the one WASI implementation.
 */
import { ValidationError } from '../../core/errors.js';

/** A copy of the guest's environment; names and values that WASI cannot carry are refused. */
export function checkEnv(env: Record<string, string> | undefined): Record<string, string> {
  if (env === undefined) return {};
  if (typeof env !== 'object' || env === null) throw new ValidationError('env must be an object of strings');
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string' || k === '' || k.includes('=') || k.includes('\0') || v.includes('\0')) {
      throw new ValidationError(`invalid environment variable ${JSON.stringify(k)}`);
    }
  }
  return { ...env };
}

/** stdin as bytes (text as UTF-8). */
export function stdinBytes(stdin: string | Uint8Array | undefined): Uint8Array {
  if (stdin === undefined) return new Uint8Array(0);
  if (typeof stdin === 'string') return new Uint8Array(Buffer.from(stdin, 'utf8'));
  if (stdin instanceof Uint8Array) return stdin;
  throw new ValidationError('stdin must be a string or bytes');
}
