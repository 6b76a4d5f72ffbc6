/**
 * The QuickJS Wasm module and its linear memory, shared by every run in the process. QuickJS's own heap limit
 * (setMemoryLimit) does not count ArrayBuffer contents, so the module gets a memory made here whose growth is
 * refused past the caps of the runs in flight: an allocation beyond it fails inside QuickJS ("out of memory").
 * Wasm memory never shrinks, so a module whose memory grew past RETIRE_BYTES is dropped after its runs and a
 * fresh one (~15 ms) serves the next run.
 */
import { newQuickJSWASMModuleFromVariant, newVariant, RELEASE_SYNC, type QuickJSWASMModule } from 'quickjs-emscripten';

const MiB = 1024 * 1024;
const PAGE = 65536;
/** Memory the module starts with (what Emscripten would create by default). */
const INITIAL_BYTES = 16 * MiB;
/** Wasm32 with this build: 2 GiB at most. */
const MAXIMUM_PAGES = 32768;
/** Past this, a module's memory is given back after its runs rather than reused. */
const RETIRE_BYTES = 64 * MiB;

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

interface WasmMemoryConstructor {
  new (descriptor: { initial: number; maximum?: number }): WasmMemory;
}

export class QuickJsEngine {
  private readonly activeCaps = new Set<{ bytes: number }>();
  private retired = false;

  private constructor(
    readonly module: QuickJSWASMModule,
    private readonly memory: WasmMemory,
  ) {}

  static async load(): Promise<QuickJsEngine> {
    const Memory = (globalThis as unknown as { WebAssembly: { Memory: WasmMemoryConstructor } }).WebAssembly.Memory;
    const memory = new Memory({ initial: INITIAL_BYTES / PAGE, maximum: MAXIMUM_PAGES });
    const module = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmMemory: memory as never }));
    const engine = new QuickJsEngine(module, memory);
    const grow = memory.grow.bind(memory);
    memory.grow = (delta: number): number => {
      if (memory.buffer.byteLength + delta * PAGE > engine.growthLimit()) throw new RangeError('memory cap reached');
      return grow(delta);
    };
    return engine;
  }

  private growthLimit(): number {
    let sum = 0;
    for (const c of this.activeCaps) sum += c.bytes;
    return sum === 0 ? Infinity : INITIAL_BYTES + sum;
  }

  /** Registers a run's memory cap for as long as it runs; call the returned function when it ends. */
  admit(memoryMb: number): () => void {
    const cap = { bytes: memoryMb * MiB };
    this.activeCaps.add(cap);
    return () => {
      this.activeCaps.delete(cap);
    };
  }

  /** True once the module should not serve new runs (its memory grew large, or its state is suspect). */
  get isRetired(): boolean {
    return this.retired || this.memory.buffer.byteLength > RETIRE_BYTES;
  }

  retire(): void {
    this.retired = true;
  }

  /** The module's linear memory (a session's image is a copy of it). */
  get linearMemory(): { readonly buffer: ArrayBuffer } {
    return this.memory;
  }

  /**
   * Grow the memory to at least `bytes` through the module's own allocator, so Emscripten's views of it follow.
   * Only for an image about to be written over it: the allocation is never freed by anyone.
   */
  growTo(bytes: number): void {
    const em = (this.module as unknown as { module: { _malloc(n: number): number } }).module;
    const missing = bytes - this.memory.buffer.byteLength;
    if (missing > 0 && em._malloc(missing + PAGE) === 0) throw new RangeError(`could not grow QuickJS memory to ${bytes} bytes`);
  }
}
