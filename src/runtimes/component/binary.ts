/**
 * Telling a WebAssembly component from a core module, and loading component bytes from a file, from bytes, or
 * from the component text format. Both share the `\0asm` magic; the layer field after it says which is which.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import { WASM_MAGIC } from '../wasm/binary.js';

export type WasmKind = 'component' | 'module';

/** The header: magic, then a u16 version and a u16 layer (0: core module, 1: component). undefined: not Wasm. */
export function wasmKind(bytes: Uint8Array): WasmKind | undefined {
  if (bytes.byteLength < 8 || !WASM_MAGIC.every((b, i) => bytes[i] === b)) return undefined;
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 1) return 'component';
  if (layer === 0) return 'module';
  return undefined;
}

const text = new TextDecoder('utf-8', { fatal: true });

async function parseText(source: string, filename: string): Promise<Uint8Array> {
  // loaded on demand: wasm-tools is itself a large component, needed only for text input
  const { parse } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  try {
    return await parse(source);
  } catch (e) {
    throw new ValidationError(`${filename}: not valid component text: ${describe(e)}`);
  }
}

/** The message of an error thrown by jco's tools (their ComponentError keeps it in `payload`). */
export function describe(e: unknown): string {
  const payload = (e as { payload?: unknown })?.payload;
  if (typeof payload === 'string') return payload;
  if (payload && typeof payload === 'object') return JSON.stringify(payload);
  return e instanceof Error ? e.message : String(e);
}

function checked(bytes: Uint8Array, filename: string): Uint8Array {
  const kind = wasmKind(bytes);
  if (kind === 'component') return bytes;
  if (kind === 'module') {
    throw new ValidationError(`${filename} is a core WebAssembly module, not a component: run it with --wasm (runWasm)`);
  }
  throw new ValidationError(`${filename} is not a WebAssembly component (no \\0asm header with the component layer)`);
}

async function fromBytes(bytes: Uint8Array, filename: string): Promise<Uint8Array> {
  if (bytes.byteLength >= 4 && WASM_MAGIC.every((b, i) => bytes[i] === b)) return checked(bytes, filename);
  let source: string;
  try {
    source = text.decode(bytes);
  } catch {
    throw new ValidationError(`${filename} is neither a WebAssembly component nor UTF-8 component text`);
  }
  return checked(await parseText(source, filename), filename);
}

/**
 * Component bytes from a binary, from component text (`(component ...)`), or from a file holding either. A string
 * that names no file but reads as text (starts with '(') is parsed as text.
 */
export async function loadComponentBytes(input: Uint8Array | string): Promise<Uint8Array> {
  if (typeof input !== 'string') {
    if (!(input instanceof Uint8Array)) throw new ValidationError('component must be bytes, a file path or component text');
    return fromBytes(input, 'component.wasm');
  }
  let data: Uint8Array;
  try {
    data = await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENAMETOOLONG') && input.trimStart().startsWith('(')) {
      return checked(await parseText(input, 'component.wat'), 'component.wat');
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`component file not found: ${input}`, { path: input });
    if (code === 'EISDIR') throw new ValidationError(`component path is a directory: ${input}`, { path: input });
    throw e;
  }
  return fromBytes(data, basename(input));
}
