/**
 * An OutputSink that keeps everything in memory, for callers that need a run's output as a whole: the shell's
 * `python3` / `node` commands (a shell command returns its output when it ends) and tests.
 */
import type { OutputSink } from '../types.js';

export class CollectingSink implements OutputSink {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];

  stdout(data: Uint8Array | string): void {
    this.out.push(Buffer.from(data));
  }

  stderr(data: Uint8Array | string): void {
    this.err.push(Buffer.from(data));
  }

  get stdoutBytes(): Buffer {
    return Buffer.concat(this.out);
  }

  get stdoutText(): string {
    return this.stdoutBytes.toString('utf8');
  }

  get stderrText(): string {
    return Buffer.concat(this.err).toString('utf8');
  }
}
