/**
 * What the node binary needs from the host filesystem to start: the binary itself and the shared libraries the
 * dynamic loader maps (found with ldd, once per process). Only these are bound into the jail; when ldd is
 * missing, the library directories are bound whole instead, and that is reported.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';

export interface NodeFiles {
  /** The node binary, as the jail sees it (same path as on the host). */
  node: string;
  /** Files to bind read-only at the same path: the binary and each library (path the loader asks for). */
  files: string[];
  /** Whole directories bound read-only when the exact list could not be found. */
  dirs: string[];
  /** How the list was found. */
  method: 'ldd' | 'static' | 'library-dirs';
}

/** Parse ldd's output: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and `/lib64/ld-linux-x86-64.so.2 (0x...)`. */
export function parseLdd(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const arrow = line.match(/=>\s+(\/\S+)\s+\(0x/);
    const bare = line.match(/^\s*(\/\S+)\s+\(0x/);
    const p = arrow?.[1] ?? bare?.[1];
    if (p && !out.includes(p)) out.push(p);
  }
  return out;
}

const LIBRARY_DIRS = ['/lib', '/lib64', '/usr/lib', '/usr/lib64'];

let cached: NodeFiles | undefined;

export function nodeFiles(execPath = process.execPath): NodeFiles {
  if (cached && cached.node === execPath) return cached;
  let result: NodeFiles;
  try {
    const text = execFileSync('ldd', [execPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    const libs = parseLdd(text);
    result = { node: execPath, files: [execPath, ...libs], dirs: [], method: 'ldd' };
  } catch (e) {
    const out = String((e as { stdout?: unknown; stderr?: unknown }).stdout ?? '') + String((e as { stderr?: unknown }).stderr ?? '');
    if (/not a dynamic executable|statically linked/.test(out)) {
      result = { node: execPath, files: [execPath], dirs: [], method: 'static' };
    } else {
      result = { node: execPath, files: [execPath], dirs: LIBRARY_DIRS.filter((d) => existsSync(d)), method: 'library-dirs' };
    }
  }
  cached = result;
  return result;
}

/** The host file to bind for a path the jail must show (binds follow symlinks at their source anyway). */
export function bindSource(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
