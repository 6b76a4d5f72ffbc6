/**
 * The Pyodide memory snapshot: made once per Pyodide version by a dedicated jailed worker (the only one with the
 * cache directory writable, and it runs no guest code), then loaded read-only by every worker, which turns a
 * worker's first Python run from a full interpreter start into a snapshot restore.
 */
import { existsSync } from 'node:fs';
import type { Jail } from './jail/index.js';
import { snapshotLaunch, snapshotPath, type LaunchOptions } from './launch.js';
import { WorkerProcess } from './worker-process.js';

/** Making the snapshot loads Pyodide fully (seconds); this bounds it on a slow machine. */
const SNAPSHOT_TIMEOUT_MS = 180_000;

export class PythonSnapshot {
  private making?: Promise<void>;
  /** Why the last attempt failed (Python then starts without a snapshot). */
  error?: string;

  constructor(
    private readonly jail: Jail,
    private readonly launch: LaunchOptions,
  ) {}

  get path(): string {
    return snapshotPath();
  }

  get exists(): boolean {
    return existsSync(this.path);
  }

  /**
   * Make the snapshot unless it exists; never throws (a failure only costs speed, and is reported). A failed
   * attempt is not repeated by this process.
   */
  ensure(): Promise<void> {
    if (this.exists || this.error !== undefined) return Promise.resolve();
    this.making ??= this.make().finally(() => {
      this.making = undefined;
    });
    return this.making;
  }

  private async make(): Promise<void> {
    let worker: WorkerProcess | undefined;
    try {
      worker = await WorkerProcess.start(this.jail, snapshotLaunch(this.launch), 'snapshot');
      const end = await worker.run({ kind: 'snapshot', path: this.path }, {
        outputBytes: 4096,
        memoryMb: 1024,
        hardTimeoutMs: SNAPSHOT_TIMEOUT_MS,
        onOutput: () => {},
      });
      if (end.kind === 'killed') throw new Error(`the snapshot worker was stopped (${end.reason}: ${end.detail})`);
      this.error = undefined;
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      worker?.kill('close');
    }
  }
}
