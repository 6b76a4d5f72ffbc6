/** Temporary directories of these tests, removed when the test process exits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxStore } from '../../src/service/store.js';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `${prefix}-`));
  made.push(d);
  return d;
}

/** A sandbox store of its own, so records never leak between tests or into the user's state. */
export function tempStore(): SandboxStore {
  return new SandboxStore(tempDir('ak-store'));
}
