/**
 * Python in a worker: Pyodide restored from the memory snapshot in the (read-only) cache, so a worker's first
 * Python run costs a snapshot load instead of a full interpreter start. The snapshot file may appear after the
 * worker started (the host makes it on first need): it is looked for when Python is first used.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { PyodideRuntime } from '../../../runtimes/python/pyodide.js';
import type { CodeRequest, CodeRuntime, OutputSink, RuntimeOutcome } from '../../../runtimes/types.js';

export class SnapshotPython implements CodeRuntime {
  readonly language = 'python' as const;
  private inner?: PyodideRuntime;

  constructor(private readonly snapshotPath: string) {}

  private get(): PyodideRuntime {
    if (!this.inner) {
      const snapshot = readPythonSnapshot(this.snapshotPath);
      this.inner = new PyodideRuntime(snapshot ? { snapshot } : {});
    }
    return this.inner;
  }

  async prepare(): Promise<void> {
    await this.get().prepare();
  }

  run(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    return this.get().run(req, out);
  }
}

/** The snapshot maker's only job: load Pyodide fully, take its snapshot, write it atomically. */
export async function writePythonSnapshot(path: string): Promise<number> {
  const bytes = await PyodideRuntime.makeSnapshot();
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  return bytes.byteLength;
}

/** The Pyodide snapshot if it exists yet. */
export function readPythonSnapshot(path: string): Uint8Array | undefined {
  return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
}
