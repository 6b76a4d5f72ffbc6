/**
 * Where the interpreter guests (QuickJS, CPython) are kept once compiled: beside the native engine in the
 * installation (`build/guests`), so each is built once per installation whatever AGENTKERNEL_HOME is; the home's
 * cache when that is not writable. A marker file per guest names its image, so "is it prepared?" is one read.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as cacheDirOf } from '../../../core/paths.js';
import { packageRoot } from '../toolchain.js';

let cacheDir: string | undefined;

export function guestCacheDir(): string {
  if (cacheDir) return cacheDir;
  try {
    const dir = join(packageRoot(), 'build', 'guests');
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    cacheDir = dir;
  } catch {
    cacheDir = cacheDirOf('cache', 'hyperlight');
  }
  return cacheDir;
}

function markerPath(name: string): string {
  return join(guestCacheDir(), `${name}-guest.json`);
}

/** When each guest was last found missing: "is it prepared?" is asked on every request, a file read each is too much. */
const missingAt = new Map<string, number>();
const RECHECK_MS = 1000;

/** The marker of a prepared guest, if it names files that exist (a missing one is looked for again after a second). */
export function readMarker<T extends { imagePath: string }>(name: string): T | undefined {
  const missed = missingAt.get(name);
  if (missed !== undefined && Date.now() - missed < RECHECK_MS) return undefined;
  try {
    const m = JSON.parse(readFileSync(markerPath(name), 'utf8')) as T;
    if (typeof m.imagePath === 'string' && existsSync(m.imagePath)) {
      missingAt.delete(name);
      return m;
    }
  } catch {
    // not prepared
  }
  missingAt.set(name, Date.now());
  return undefined;
}

/** Publishes a guest's marker (by rename: readers see the old one or the new one). */
export async function writeMarker(name: string, marker: { imagePath: string } & Record<string, unknown>): Promise<void> {
  const path = markerPath(name);
  await writeFile(`${path}.tmp-${process.pid}`, JSON.stringify(marker));
  await rename(`${path}.tmp-${process.pid}`, path);
  missingAt.delete(name);
}
