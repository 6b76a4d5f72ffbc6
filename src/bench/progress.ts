/**
 * Live progress on stderr: on a terminal one line rewritten in place (row, phase, iterations, elapsed); elsewhere
 * (CI logs, pipes) one plain line per finished row, so logs stay readable.
 */
import type { ProgressSink, RowResult } from './types.js';
import { formatMs } from './report/format.js';

interface Stream {
  write(s: string): boolean;
  isTTY?: boolean;
}

/** Redraws at most this often: a fast row completes thousands of iterations per second. */
const REDRAW_MS = 100;

export class StderrProgress implements ProgressSink {
  private row = '';
  private index = 0;
  private total = 0;
  private phase = '';
  private count = 0;
  private rowStart = 0;
  private lastDraw = 0;
  /** target and reason of the last skipped row: an unavailable backend skips all its rows for one reason */
  private lastSkip = '';
  private readonly tty: boolean;

  constructor(private readonly out: Stream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  rowStarted(id: string, index: number, total: number): void {
    Object.assign(this, { row: id, index, total, phase: 'preparing', count: 0, rowStart: performance.now() });
    if (this.tty) this.draw(true);
  }

  iteration(phase: 'warm-up' | 'measure' | 'concurrent' | 'memory', count: number): void {
    this.phase = phase;
    this.count = count;
    if (this.tty) this.draw(false);
  }

  rowFinished(r: RowResult): void {
    const skipKey = r.status === 'skipped' ? `${r.target}\n${r.reason}` : '';
    const repeated = skipKey !== '' && skipKey === this.lastSkip;
    this.lastSkip = skipKey;
    if (repeated) {
      if (this.tty) this.out.write('\r\x1b[2K');
      return;
    }
    const what = r.status === 'ok'
      ? `ok, ${r.iterations} iterations, p50 ${formatMs(r.latencyMs!.p50)}`
      : r.status === 'skipped' ? `skipped: ${r.reason}` : `FAILED: ${r.error}`;
    const line = `[${this.index + 1}/${this.total}] ${r.id}: ${what} (${(r.elapsedMs / 1000).toFixed(1)} s)`;
    if (this.tty) this.out.write(`\r\x1b[2K${r.status === 'ok' ? '' : line + '\n'}`);
    else this.out.write(`${line}\n`);
  }

  done(): void {
    if (this.tty) this.out.write('\r\x1b[2K');
  }

  private draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const secs = ((now - this.rowStart) / 1000).toFixed(1);
    const line = `[${this.index + 1}/${this.total}] ${this.row}  ${this.phase}${this.count ? ` ${this.count}` : ''}  ${secs} s`;
    this.out.write(`\r\x1b[2K${line}`);
  }
}
