/**
 * The worker's output sink: keeps at most `cap` bytes of each stream (the rest is only counted, so a 1 GB flood
 * never crosses the IPC channel) and sends what it keeps in batches. Guest code often runs synchronously for a
 * long time (a Wasm loop, a Python loop), during which no timer fires, so sending is decided inside each write:
 * a write after a quiet spell goes at once, later ones are sent when the batch is big enough or old enough.
 * Output stays live without one message per write.
 */
import type { OutputSink } from '../../../runtimes/types.js';
import type { OutputChunk, Stream } from './protocol.js';

/** A batch is sent once it holds this many bytes... */
const BATCH_BYTES = 64 * 1024;
/** ...or its oldest write is this old (ms). */
const BATCH_AGE_MS = 10;

export class BatchingSink implements OutputSink {
  readonly dropped: Record<Stream, number> = { stdout: 0, stderr: 0 };
  private readonly kept: Record<Stream, number> = { stdout: 0, stderr: 0 };
  /** runs of consecutive writes to one stream, joined when sent */
  private pending: { stream: Stream; parts: Uint8Array[] }[] = [];
  private pendingBytes = 0;
  private firstPendingAt = 0;
  private lastSentAt = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly cap: number,
    private readonly send: (chunks: OutputChunk[]) => void,
  ) {}

  stdout(data: Uint8Array | string): void {
    this.write('stdout', data);
  }

  stderr(data: Uint8Array | string): void {
    this.write('stderr', data);
  }

  private write(stream: Stream, data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.byteLength === 0) return;
    const room = Math.max(0, this.cap - this.kept[stream]);
    const n = Math.min(room, bytes.byteLength);
    this.dropped[stream] += bytes.byteLength - n;
    if (n === 0 || this.closed) return;
    this.kept[stream] += n;
    // a copy: the guest's buffer (Wasm memory) is reused as soon as this returns
    const copy = Uint8Array.prototype.slice.call(bytes, 0, n);
    const last = this.pending[this.pending.length - 1];
    if (last && last.stream === stream) last.parts.push(copy);
    else this.pending.push({ stream, parts: [copy] });
    const now = Date.now();
    // the first write after a quiet spell goes out at once: the guest may compute for long after it
    const quiet = this.pendingBytes === 0 && now - this.lastSentAt >= BATCH_AGE_MS;
    if (this.pendingBytes === 0) this.firstPendingAt = now;
    this.pendingBytes += n;
    if (quiet || this.pendingBytes >= BATCH_BYTES || now - this.firstPendingAt >= BATCH_AGE_MS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_AGE_MS);
  }

  /** Send what is pending now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const chunks = this.pending.map((r) => ({ stream: r.stream, data: r.parts.length === 1 ? r.parts[0] : join(r.parts) }));
    this.pending = [];
    this.pendingBytes = 0;
    this.lastSentAt = Date.now();
    this.send(chunks);
  }

  /** Flush and stop: writes after the job ended (a stray timer of the guest) go nowhere. */
  close(): void {
    this.flush();
    this.closed = true;
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
