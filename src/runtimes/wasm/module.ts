/**
 * The module toolkit: load a module (binary or .wat), inspect it, find the proposals it needs, cap its memory,
 * and compile it for the V8 executor while remembering what inspection found (V8 does not expose signatures).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import { WASM_MAGIC } from './binary.js';
import { capMemory } from './cap-memory.js';
import { detectFeatures } from './features.js';
import { inspectModule, type ModuleInfo } from './inspect.js';
import { compileWat } from './wabt.js';
import { wasm, type WasmModule } from './engine.js';

export { capMemory } from './cap-memory.js';
export { detectFeatures } from './features.js';
export { inspectModule, type ExportInfo, type ImportInfo, type MemoryInfo, type ModuleInfo, type ValType } from './inspect.js';
export { compileWat } from './wabt.js';
export type { WasmModule } from './engine.js';

function isBinary(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && WASM_MAGIC.every((b, i) => bytes[i] === b);
}

const text = new TextDecoder('utf-8', { fatal: true });

async function fromBytes(bytes: Uint8Array, filename: string): Promise<Uint8Array> {
  if (isBinary(bytes)) return bytes;
  let source: string;
  try {
    source = text.decode(bytes);
  } catch {
    throw new ValidationError(`${filename} is neither a WebAssembly binary (no \\0asm magic) nor UTF-8 .wat text`);
  }
  return compileWat(source, filename);
}

/**
 * Module bytes from a binary, from .wat text, or from a file holding either. A string that names no file but
 * reads as WebAssembly text (starts with '(') is compiled as text.
 */
export async function loadModuleBytes(input: Uint8Array | string): Promise<Uint8Array> {
  if (typeof input !== 'string') return fromBytes(input, 'module.wat');
  let data: Uint8Array;
  try {
    data = await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENAMETOOLONG') && input.trimStart().startsWith('(')) return compileWat(input);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`module file not found: ${input}`, { path: input });
    if (code === 'EISDIR') throw new ValidationError(`module path is a directory: ${input}`, { path: input });
    throw e;
  }
  return fromBytes(data, basename(input));
}

const infos = new WeakMap<WasmModule, ModuleInfo>();

/** What inspectModule() found for a module compiled by compileModule(); undefined for any other module. */
export function moduleInfo(module: WasmModule): ModuleInfo | undefined {
  return infos.get(module);
}

export interface CompileOptions {
  /** Cap on linear memory, in MiB (see capMemory). */
  memoryMb?: number;
}

/**
 * Compile for V8, with memory capped. A module V8 rejects becomes a ValidationError naming the proposals the
 * module needs, which is usually why (an engine without memory64, GC...).
 */
export async function compileModule(bytes: Uint8Array, opts: CompileOptions = {}): Promise<WasmModule> {
  const capped = opts.memoryMb === undefined ? bytes : capMemory(bytes, opts.memoryMb * 1024 * 1024);
  const info = inspectModule(capped);
  let module: WasmModule;
  try {
    module = await wasm.compile(capped);
  } catch (e) {
    if (!(e instanceof wasm.CompileError)) throw e;
    const features = await detectFeatures(bytes).catch(() => []);
    const uses = features.length > 0 ? ` (the module uses: ${features.join(', ')})` : '';
    throw new ValidationError(`this engine cannot compile the module: ${e.message}${uses}`, { features });
  }
  infos.set(module, info);
  return module;
}
