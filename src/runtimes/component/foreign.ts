/**
 * Types for the exported interfaces of other packages (`export example:math/calc@1.0.0;`). The WIT that
 * wasm-tools prints for a component names them without their functions; the same instances exported under plain
 * names are printed inline, with every function and type. So the component is decoded once more with those
 * exports renamed, and each inline body is written back under its real name:
 *   export example:math/calc@1.0.0 : interface { add: func(a: u32, b: u32) -> u32; }
 * which parseWorld() reads like any inline interface (other WIT tools would not accept the interface name there).
 * Imported interfaces of other packages get the same treatment, for the types that exports `use` from them.
 */
import { exportNames, importNames, renameExports, renameImports } from './exports.js';
import { parseWorld } from './wit.js';

type PrintWit = (bytes: Uint8Array) => Promise<string>;
type Kind = 'import' | 'export';

/** `<kind> <name>: interface { ... }` in printed WIT, up to its closing brace (braces in comments skipped). */
function inlineBody(wit: string, kind: Kind, name: string): string | undefined {
  const head = `${kind} ${name}: interface {`;
  const at = wit.indexOf(head);
  if (at < 0) return undefined;
  let depth = 0;
  for (let i = at + head.length - 1; i < wit.length; i++) {
    const ch = wit[i];
    if (ch === '/' && wit[i + 1] === '/') {
      const nl = wit.indexOf('\n', i);
      if (nl < 0) return undefined;
      i = nl;
    } else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return wit.slice(at + head.length - 1, i + 1);
  }
  return undefined;
}

/**
 * The component decoded with `names` (real name → alias) renamed: the inline bodies by real name, none when it
 * cannot be decoded. Imports are decoded with the exports left out: an export of another package that `use`s an
 * import's types makes the decoder fail once the import has a plain name.
 */
async function bodies(bytes: Uint8Array, kind: Kind, names: Map<string, string>, printWit: PrintWit, alone = false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let wit: string;
  try {
    const renamed = kind === 'export'
      ? renameExports(bytes, (n) => names.get(n) ?? (alone ? null : undefined))
      : renameExports(renameImports(bytes, (n) => names.get(n)), () => null);
    wit = await printWit(renamed);
  } catch {
    // e.g. two exports sharing a type, which WIT cannot write inline
    return out;
  }
  for (const [name, alias] of names) {
    const body = inlineBody(wit, kind, alias);
    if (body) out.set(name, body);
  }
  return out;
}

/**
 * All at once, else one at a time: one that cannot be written inline does not keep the others untyped. An export
 * alone is tried with the other exports kept (it may `use` their types), then with them left out (an interface
 * of types that others `use` decodes only without them).
 */
async function allBodies(bytes: Uint8Array, kind: Kind, names: Map<string, string>, printWit: PrintWit): Promise<Map<string, string>> {
  const got = await bodies(bytes, kind, names, printWit);
  if (got.size || names.size < 2) return got;
  for (const [name, alias] of names) {
    const one = new Map([[name, alias]]);
    let found = await bodies(bytes, kind, one, printWit);
    if (!found.size && kind === 'export') found = await bodies(bytes, kind, one, printWit, true);
    for (const [k, v] of found) got.set(k, v);
  }
  return got;
}

/** Interface names of other packages (`ns:pkg/iface@v`), not wasi's: those are the host's business. */
const foreignInterface = (name: string): boolean => /^[^:/]+:[^/]+\//.test(name) && !name.startsWith('wasi:');

/**
 * The component's world WIT with the bodies of its exported interfaces of other packages written inline, where
 * wasm-tools can describe them; the others stay as they were (their functions cannot be invoked). Imported
 * interfaces of other packages are written inline too where possible: exports `use` their types.
 */
export async function typeForeignExports(bytes: Uint8Array, wit: string, printWit: PrintWit): Promise<string> {
  const world = parseWorld(wit);
  const exports = world.untyped.filter(foreignInterface);
  if (!exports.length) return wit;
  let taken: Set<string>;
  try {
    taken = new Set([...exportNames(bytes), ...importNames(bytes)]);
  } catch {
    return wit; // a section this reader does not know: those interfaces stay untyped
  }
  let n = 0;
  const aliases = (names: string[], kind: Kind): Map<string, string> => new Map(names.map((name) => {
    let a: string;
    do a = `foreign-${kind}${n++}`; while (taken.has(a));
    return [name, a];
  }));
  let out = wit;
  const imports = world.imports.filter(foreignInterface);
  for (const [kind, names] of [['import', imports], ['export', exports]] as const) {
    if (!names.length) continue;
    for (const [name, body] of await allBodies(bytes, kind, aliases(names, kind), printWit)) {
      out = out.replace(`${kind} ${name};`, () => `${kind} ${name} : interface ${body}`);
    }
  }
  return out;
}
