/**
 * Host side: turn a component into what the jailed worker runs, with the Bytecode Alliance's jco: an ES module
 * exporting `instantiate(getCoreModule, imports)` plus the core modules it instantiates, and the component's WIT
 * (for typed --invoke). Results are cached by content hash under the cache directory, so each component is
 * transpiled once per jco version.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../../core/errors.js';
import { dir } from '../../core/paths.js';
import { describe } from './binary.js';
import { typeForeignExports } from './foreign.js';
import { decodeWit } from './wit-decoder.js';

/** What crosses to the worker (structured clone: the core modules travel as bytes). */
export interface TranspiledComponent {
  /** SHA-256 of the component bytes and the jco version: the worker's cache key. */
  hash: string;
  /** The ES module jco generated (instantiation mode: the host supplies every import). */
  js: string;
  /** Core modules by the name the module asks getCoreModule() for. */
  cores: Record<string, Uint8Array>;
  /**
   * The component's world in WIT (imports, exports and their types), with the exported interfaces of other
   * packages written inline where they can be described (foreign.ts).
   */
  wit: string;
}

const NAME = 'component';
const MANIFEST = 'manifest.json';
/** Bumped when what is cached changes shape (2: foreign interfaces typed in world.wit). */
const FORMAT = 2;

let jcoVersionCache: string | undefined;
function jcoVersion(): string {
  if (jcoVersionCache) return jcoVersionCache;
  const entry = fileURLToPath(import.meta.resolve('@bytecodealliance/jco-transpile'));
  const pkg = join(entry, '..', '..', 'package.json');
  jcoVersionCache = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  return jcoVersionCache;
}

function cacheKey(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).update(`\0jco-transpile@${jcoVersion()}\0format@${FORMAT}`).digest('hex');
}

function readCached(path: string, hash: string): TranspiledComponent | undefined {
  try {
    const m = JSON.parse(readFileSync(join(path, MANIFEST), 'utf8')) as { cores: string[] };
    const cores: Record<string, Uint8Array> = {};
    for (const name of m.cores) cores[name] = new Uint8Array(readFileSync(join(path, name)));
    return { hash, js: readFileSync(join(path, `${NAME}.js`), 'utf8'), cores, wit: readFileSync(join(path, 'world.wit'), 'utf8') };
  } catch {
    return undefined;
  }
}

function writeCached(path: string, t: TranspiledComponent): void {
  // written beside, then renamed: a concurrent reader sees all of it or nothing
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    for (const [name, bytes] of Object.entries(t.cores)) writeFileSync(join(tmp, name), bytes);
    writeFileSync(join(tmp, `${NAME}.js`), t.js);
    writeFileSync(join(tmp, 'world.wit'), t.wit);
    writeFileSync(join(tmp, MANIFEST), JSON.stringify({ cores: Object.keys(t.cores) }));
    if (!existsSync(path)) renameSync(tmp, path);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Transpile (or take from the cache). A malformed or unsupported component: ValidationError with jco's reason. */
export async function transpileComponent(bytes: Uint8Array): Promise<TranspiledComponent> {
  const hash = cacheKey(bytes);
  const path = join(dir('cache', 'components'), hash);
  const cached = readCached(path, hash);
  if (cached) return cached;
  const [{ transpileBytes }, { componentWit }] = await Promise.all([
    import('@bytecodealliance/jco-transpile'),
    import('@bytecodealliance/jco-transpile/wasm-tools'),
  ]);
  let wit: string;
  let files: Record<string, Uint8Array>;
  try {
    wit = await typeForeignExports(bytes, await componentWit(bytes), decodeWit);
    ({ files } = await transpileBytes(bytes, {
      name: NAME,
      instantiation: 'async',
      // every core module as a file: the worker compiles them itself, with its memory cap
      base64Cutoff: 0,
      emitTypescriptDeclarations: false,
      tlaCompat: false,
    }));
  } catch (e) {
    throw new ValidationError(`not a valid WebAssembly component: ${describe(e)}`);
  }
  const js = files[`${NAME}.js`];
  if (!js) throw new ValidationError('jco produced no JavaScript for this component');
  const cores: Record<string, Uint8Array> = {};
  for (const [name, data] of Object.entries(files)) if (name.endsWith('.wasm')) cores[name] = data;
  const t: TranspiledComponent = { hash, js: new TextDecoder().decode(js), cores, wit };
  writeCached(path, t);
  return t;
}
