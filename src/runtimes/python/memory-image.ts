/**
 * A copy of the interpreter's linear memory, taken once after loading, put back after every run: the whole
 * Python state (objects, modules, the C heap) lives there, so this is what makes each run start clean without
 * reloading Pyodide (~2 s). Only the used part is copied: memory below the heap's top (the C library's program
 * break). Memory above it was never written at copy time; a run that moved the break up dirtied the range up
 * to its new break, which is zeroed again (the allocator counts on fresh heap memory being zero).
 */
import { moduleMemory, type EmModule } from './emscripten.js';

export class MemoryImage {
  private readonly saved: Uint8Array;

  constructor(private readonly m: EmModule) {
    const heap = new Uint8Array(moduleMemory(m).buffer);
    const brk = this.heapTop();
    // anything non-zero above the break (there should be nothing) is kept as well, so restore() is exact
    let end = heap.length;
    while (end > brk && heap[end - 1] === 0) end--;
    this.saved = heap.slice(0, Math.max(brk, end));
  }

  /** Bytes of linear memory in use now (the program break). */
  heapTop(): number {
    return this.m._sbrk(0) >>> 0;
  }

  /** Size of the clean state, in bytes. */
  get size(): number {
    return this.saved.length;
  }

  restore(): void {
    const heap = new Uint8Array(moduleMemory(this.m).buffer);
    const dirtyTop = Math.min(heap.length, this.heapTop());
    heap.set(this.saved);
    if (dirtyTop > this.saved.length) heap.fill(0, this.saved.length, dirtyTop);
  }
}
