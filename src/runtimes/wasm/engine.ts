/**
 * Typed access to V8's WebAssembly API. The project's TypeScript settings (lib ES2023, no DOM) declare no
 * WebAssembly namespace, so the few parts used here are described once, as local types, instead of a global
 * declaration that would clash with one added later.
 */

/** A compiled module (WebAssembly.Module). Opaque: only V8 looks inside. */
export interface WasmModule {
  readonly [Symbol.toStringTag]?: string;
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export type WasmImports = Record<string, Record<string, unknown>>;

interface WebAssemblyApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports?: WasmImports): Promise<WasmInstance>;
  Instance: new (module: WasmModule, imports?: WasmImports) => WasmInstance;
  Module: {
    imports(module: WasmModule): { module: string; name: string; kind: string }[];
    exports(module: WasmModule): { name: string; kind: string }[];
  };
  Memory: new (desc: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  CompileError: new (message?: string) => Error;
  LinkError: new (message?: string) => Error;
  RuntimeError: new (message?: string) => Error;
  /** Thrown by the exception-handling proposal's `throw`; absent on engines without it. */
  Exception?: new (...args: never[]) => object;
}

export const wasm: WebAssemblyApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

export function isMemory(v: unknown): v is WasmMemory {
  return typeof v === 'object' && v !== null && Object.prototype.toString.call(v) === '[object WebAssembly.Memory]';
}
