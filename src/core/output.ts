/**
 * Bounded output capture shared by every backend: keeps at most `limit` bytes of a stream, counts the rest,
 * and forwards what it keeps to a live listener. Never an unbounded buffer, whatever the guest writes.
 */
import { StringDecoder } from 'node:string_decoder';

export class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** Total bytes the guest wrote, including the dropped ones. */
  total = 0;
  truncated = false;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly limit: number,
    private readonly onChunk?: (text: string) => void,
  ) {}

  write(data: Uint8Array | string): void {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.total += buf.length;
    if (this.truncated) return;
    const room = this.limit - this.kept;
    let part = buf;
    if (buf.length > room) {
      part = buf.subarray(0, room);
      this.truncated = true;
    }
    if (part.length === 0) return;
    // copy: the caller may reuse its buffer (Wasm memory, a pooled IPC buffer)
    const copy = Buffer.from(part);
    this.chunks.push(copy);
    this.kept += copy.length;
    if (this.onChunk) {
      const text = this.decoder.write(copy);
      if (text) this.onChunk(text);
    }
  }

  /** Flush a trailing partial UTF-8 sequence to the listener (call once at the end). */
  end(): void {
    if (this.onChunk) {
      const rest = this.decoder.end();
      if (rest) this.onChunk(rest);
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }
}
