/** Find an executable on PATH or in the sbin directories (runc, runsc live there and are not always on PATH). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin'];

export function findOnPath(name: string): string | undefined {
  for (const d of [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS]) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
