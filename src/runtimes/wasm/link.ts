/**
 * The import object for one instantiation: WASI preview1 functions and an imported linear memory, nothing else.
 * Anything else a module asks for is refused before it runs, with every unsatisfiable import named.
 */
import { ValidationError } from '../../core/errors.js';
import { WASI_SIGNATURES } from '../wasi/signatures.js';
import type { WasiPreview1 } from '../wasi/wasi.js';
import { wasm, type WasmImports, type WasmMemory, type WasmModule } from './engine.js';
import type { ModuleInfo } from './inspect.js';

export const WASI_MODULE = 'wasi_snapshot_preview1';

export interface Linked {
  imports: WasmImports;
  /** The memory created for a module that imports its memory. */
  memory?: WasmMemory;
}

function sig(params: readonly string[], results: readonly string[]): string {
  return `(${params.join(', ')}) -> (${results.join(', ')})`;
}

export function linkImports(module: WasmModule, info: ModuleInfo | undefined, wasi: WasiPreview1): Linked {
  const imports: WasmImports = {};
  const problems: string[] = [];
  let memory: WasmMemory | undefined;
  for (const imp of wasm.Module.imports(module)) {
    const label = `${imp.module}.${imp.name} (${imp.kind})`;
    if (imp.module === WASI_MODULE && imp.kind === 'function' && imp.name in wasi.imports) {
      const want = WASI_SIGNATURES[imp.name]!;
      const declared = info?.imports.find((i) => i.module === imp.module && i.name === imp.name);
      if (declared?.params && declared.results && sig(declared.params, declared.results) !== sig(want.params, want.results)) {
        problems.push(`${label} is declared ${sig(declared.params, declared.results)} but WASI defines it ${sig(want.params, want.results)}`);
        continue;
      }
      (imports[imp.module] ??= {})[imp.name] = wasi.imports[imp.name];
    } else if (imp.kind === 'memory' && !memory) {
      const m = info?.memory;
      if (!m?.imported) problems.push(`${label}: its limits are unknown (compile the module with compileModule())`);
      else if (m.memory64) problems.push(`${label}: 64-bit memories cannot be imported here`);
      else {
        memory = new wasm.Memory({ initial: m.min, ...(m.max !== undefined ? { maximum: m.max } : {}), ...(m.shared ? { shared: true } : {}) });
        (imports[imp.module] ??= {})[imp.name] = memory;
      }
    } else problems.push(label);
  }
  if (problems.length > 0) {
    throw new ValidationError(`the module imports what this runtime cannot provide (only WASI preview1 and a linear memory): ${problems.join('; ')}`, { imports: problems });
  }
  return { imports, memory };
}
