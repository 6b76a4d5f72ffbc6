#!/usr/bin/env node
/**
 * Bundles the compiled CLI (dist/src/cli/main.js and what it imports from dist/src) into a few ES modules under
 * dist/cli/, so that a call of `agentkernel` loads ~5 files instead of ~80. Run it after tsc; bin/agentkernel.js
 * uses the bundle while it is at least as new as dist/src/cli/main.js, and dist/src otherwise.
 *
 * - Lazy loading stays lazy: every import() is split off (esbuild `splitting`), except that the modules of the
 *   common calls (HOT) are loaded together, as one chunk, by the first import() (see HOT).
 * - npm packages stay external (loaded from node_modules: some read their own files by path at run time), except
 *   commander, which every call loads: bundled, it skips the CommonJS loader and its export scan (~5 ms).
 * - Every module's import.meta.url is rewritten to the URL of its file in dist/src, so paths computed from it
 *   (package.json, worker scripts forked by path, the native addon, guest sources, bin/agentkernel.js) stay what
 *   they were. dist/src stays complete: worker processes and library users load it, never the bundle.
 *
 * Usage: node scripts/bundle-cli.mjs [--metafile FILE] [--hot MODULE,...]   (--hot '' turns the hot chunk off)
 */
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'dist', 'src');
const outdir = join(root, 'dist', 'cli');
const entry = join(srcDir, 'cli', 'main.js');

// esbuild is a development dependency: an installation without it runs the CLI from dist/src, only slower to start
const esbuild = await import('esbuild').catch(() => undefined);
if (!esbuild) {
  process.stderr.write('bundle-cli: esbuild is not installed; the agentkernel command runs from dist/src (slower start)\n');
  process.exit(0);
}

const { values: args } = parseArgs({ options: { metafile: { type: 'string' }, hot: { type: 'string' } } });

/**
 * The modules of the common calls, relative to dist/src: the commands that run or manage sandboxes and the
 * backend picked for Wasm on Linux. esbuild puts shared code into one chunk per set of entry points reaching it,
 * so the many lazily loaded modules would cut a single `run` into ~20 small files, at ~0.6 ms each. Instead,
 * every import() target is reached through a facade that first imports all of HOT (`import 'hub:'; export *
 * from TARGET`): each HOT module is then reached from every entry point alike and all of them land in one chunk.
 */
const HOT = (args.hot ?? [
  'cli/commands/run.js', 'cli/commands/run-code.js', 'cli/commands/exec.js', 'cli/commands/create.js',
  'cli/commands/lifecycle.js', 'cli/commands/list.js', 'cli/commands/cp.js', 'cli/commands/status.js',
  'cli/commands/attach.js', 'backends/hyperlight/backend.js',
].join(',')).split(',').filter(Boolean);

/** import('./x.js') → import('facade:/abs/x.js'); other import() calls (bare or computed specifiers) stay. */
function viaFacade(file, text) {
  return text.replace(/\bimport\((['"])(\.{1,2}\/[^'"]+\.js)\1\)/g, (_, q, spec) => `import(${JSON.stringify(`facade:${join(dirname(file), spec)}`)})`);
}

/** What each compiled module becomes in the bundle: its own import.meta.url, import() through facades. */
const compiledModules = {
  name: 'compiled-modules',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (a) => {
      let text = await readFile(a.path, 'utf8');
      if (!a.path.startsWith(srcDir + sep)) return { contents: text, loader: 'js' };
      // every output file sits directly in outdir, so one relative URL fits whichever chunk the module lands in
      const rel = relative(outdir, a.path).split(sep).join('/');
      text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
      return { contents: HOT.length ? viaFacade(a.path, text) : text, loader: 'js' };
    });
  },
};

const hotHub = {
  name: 'hot-hub',
  setup(b) {
    b.onResolve({ filter: /^facade:/ }, (a) => ({ path: a.path.slice('facade:'.length), namespace: 'facade' }));
    // the compiled modules have named exports only (export * does not carry a default)
    b.onLoad({ filter: /.*/, namespace: 'facade' }, (a) => ({
      contents: `import 'hub:';\nexport * from ${JSON.stringify(a.path)};\n`, resolveDir: dirname(a.path), loader: 'js',
    }));
    b.onResolve({ filter: /^hub:$/ }, () => ({ path: 'hub', namespace: 'hub' }));
    b.onLoad({ filter: /.*/, namespace: 'hub' }, () => ({
      contents: HOT.map((f) => `import ${JSON.stringify(join(srcDir, f))};`).join('\n'), resolveDir: srcDir, loader: 'js',
    }));
  },
};

/** npm packages are loaded from node_modules at run time, except these. */
const BUNDLED_PACKAGES = new Set(['commander']);
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => {
      const name = a.path.startsWith('@') ? a.path.split('/').slice(0, 2).join('/') : a.path.split('/')[0];
      return a.path.startsWith('node:') || BUNDLED_PACKAGES.has(name) ? undefined : { path: a.path, external: true };
    });
  },
};

// Built beside the bundle, then moved in with main.js last, so that a call starting meanwhile runs the old bundle
// or the new one, whole. Chunks are named by their content and files of earlier builds stay a day: a server or
// daemon started from one still finds the chunks it imports lazily.
const KEEP_OLD_MS = 24 * 3600_000;
const tmp = `${outdir}.${process.pid}.tmp`;
await rm(tmp, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: { main: entry },
  outdir: tmp,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // bundled CommonJS (commander) calls require() for node's built-in modules only: getBuiltinModule (node 20.16+)
  // gives them without starting the CommonJS loader in every chunk
  banner: {
    js: "import { createRequire as __cliCreateRequire } from 'node:module';\n"
      + 'const require = (id) => process.getBuiltinModule?.(id) ?? __cliCreateRequire(import.meta.url)(id);',
  },
  chunkNames: '[name]-[hash]',
  // tsc checked the sources; errors point into the bundle, which is readable as it is not minified
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: Boolean(args.metafile),
  plugins: [hotHub, externalPackages, compiledModules],
});
await mkdir(outdir, { recursive: true });
const built = (await readdir(tmp)).sort((a, b) => (a === 'main.js') - (b === 'main.js'));
for (const f of built) await rename(join(tmp, f), join(outdir, f));
await rm(tmp, { recursive: true, force: true });
for (const f of await readdir(outdir)) {
  if (!built.includes(f) && Date.now() - (await stat(join(outdir, f))).mtimeMs > KEEP_OLD_MS) await rm(join(outdir, f), { force: true });
}
if (args.metafile) writeFileSync(args.metafile, JSON.stringify(result.metafile));
