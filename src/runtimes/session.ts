/**
 * An interpreter whose state survives between runs (a code session), as a worker hosts it. Its state is its Wasm
 * linear memory: an image is a copy of the used part, and putting one back restores every variable, function and
 * module the session had. The JavaScript-side objects of the runtime are made once, when the interpreter is
 * set up, and the same setup on a fresh interpreter recreates them identically, so an image also starts a new
 * interpreter (fork). `meta` records what must match for that to hold; a mismatch is refused, never guessed at.
 */
import type { CodeRequest, OutputSink, RuntimeOutcome } from './types.js';

/** Calls a host tool synchronously; returns the answer as JSON text ({ok, json} or {ok: false, error}). */
export type ToolCaller = (name: string, argsJson: string) => string;

export interface SessionRequest extends CodeRequest {
  /** Tools the guest sees this run (`tools.NAME`); calls go through the ToolCaller given at setup. */
  tools: string[];
}

export interface InterpreterImage {
  bytes: Uint8Array;
  meta: Record<string, number>;
}

export interface SessionInterpreter {
  /** Set when the interpreter ended or its state can no longer be trusted (os._exit, a fatal error); it runs nothing more. */
  readonly broken?: string;
  run(req: SessionRequest, out: OutputSink): Promise<RuntimeOutcome>;
  snapshot(): InterpreterImage;
  restore(image: InterpreterImage): void;
}

/** A copy of linear memory up to its last non-zero byte (the rest of a fresh memory is zero anyway). */
export function copyUsed(buffer: ArrayBuffer, atLeast = 0): Uint8Array {
  const heap = new Uint8Array(buffer);
  // whole zero blocks are skipped with a native compare (a byte loop over a large memory takes seconds)
  const BLOCK = 65536;
  const zero = Buffer.alloc(BLOCK);
  let end = heap.length;
  while (end - BLOCK >= atLeast && Buffer.from(buffer, end - BLOCK, BLOCK).equals(zero)) end -= BLOCK;
  while (end > atLeast && heap[end - 1] === 0) end--;
  return heap.slice(0, Math.max(end, atLeast));
}

/**
 * Writes an image over linear memory and zeroes everything above it that may have been written since (the
 * allocators count on memory past the program break being zero).
 */
export function writeImage(buffer: ArrayBuffer, bytes: Uint8Array): void {
  const heap = new Uint8Array(buffer);
  if (heap.length < bytes.length) throw new RangeError(`the image (${bytes.length} bytes) is larger than the memory (${heap.length} bytes)`);
  heap.set(bytes);
  heap.fill(0, bytes.length);
}

/** The guest-side answer to a tool call, as the ToolCaller returns it. */
export function toolAnswer(result: { json: string } | { error: string }): string {
  return JSON.stringify('json' in result ? { ok: true, json: result.json } : { ok: false, error: result.error });
}
