/**
 * A small reader for the WIT that wasm-tools prints for a component's world: enough to know each exported
 * function's parameter and result types (primitives, list, option, result, tuple, record, variant, enum, flags),
 * so that --invoke can check JSON arguments and shape the results. Exports of interfaces from other packages
 * (`export ns:pkg/iface;`) are listed without types, unless foreign.ts wrote their bodies inline
 * (`export ns:pkg/iface : interface { ... }`).
 */
import { ValidationError } from '../../core/errors.js';

export type Primitive =
  | 'bool' | 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64' | 'f32' | 'f64' | 'char' | 'string';

export type WitType =
  | { kind: 'primitive'; name: Primitive }
  | { kind: 'list'; of: WitType }
  | { kind: 'option'; of: WitType }
  | { kind: 'result'; ok?: WitType; err?: WitType }
  | { kind: 'tuple'; of: WitType[] }
  | { kind: 'record'; name: string; fields: { name: string; type: WitType }[] }
  | { kind: 'variant'; name: string; cases: { name: string; type?: WitType }[] }
  | { kind: 'enum'; name: string; cases: string[] }
  | { kind: 'flags'; name: string; flags: string[] }
  /** resources and anything else a JSON value cannot stand for */
  | { kind: 'opaque'; name: string };

export interface WitFunction {
  /** How --invoke names it: `name` for a world-level function, `iface#name` inside an exported interface. */
  path: string;
  /** The export holding it (undefined at world level) and its own name, as the component spells them. */
  iface?: string;
  name: string;
  params: { name: string; type: WitType }[];
  result?: WitType;
}

export interface WitWorld {
  functions: WitFunction[];
  /** Exported interfaces whose functions are not described (other packages). */
  untyped: string[];
  /** Interfaces and functions the component imports (not interfaces of types alone: they need no host). */
  imports: string[];
}

const PRIMITIVES = new Set<string>(['bool', 'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'f32', 'f64', 'char', 'string']);

function tokenize(src: string): string[] {
  const out: string[] = [];
  const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|(->|[{}()<>,:;=*])|(%?[A-Za-z0-9_][A-Za-z0-9_\-.@/]*(?::[A-Za-z0-9_][A-Za-z0-9_\-.@/:]*)?)/y;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < src.length) {
    re.lastIndex = at;
    m = re.exec(src);
    if (!m) throw new ValidationError(`cannot read the component's WIT near: ${src.slice(at, at + 40)}`);
    at = re.lastIndex;
    if (m[1]) out.push(m[1]);
    else if (m[2]) out.push(m[2].replace(/^%/, ''));
  }
  return out;
}

type Scope = Map<string, () => WitType>;

class Parser {
  private i = 0;
  constructor(private readonly t: string[]) {}

  peek(n = 0): string | undefined { return this.t[this.i + n]; }
  back(): void { this.i--; }
  next(): string {
    const v = this.t[this.i++];
    if (v === undefined) throw new ValidationError('unexpected end of the component\'s WIT');
    return v;
  }
  eat(tok: string): boolean {
    if (this.t[this.i] !== tok) return false;
    this.i++;
    return true;
  }
  expect(tok: string): void {
    const v = this.next();
    if (v !== tok) throw new ValidationError(`unexpected '${v}' in the component's WIT (wanted '${tok}')`);
  }
  /** Skip to the end of the current item: a ';' at this depth, or a balanced {...} block. */
  skipItem(): void {
    let depth = 0;
    while (this.i < this.t.length) {
      const v = this.next();
      if (v === '{') depth++;
      else if (v === '}') { if (--depth <= 0) return; }
      else if (v === ';' && depth === 0) return;
    }
  }

  type(scope: Scope): WitType {
    const name = this.next();
    const generic = (): WitType[] => {
      const of: WitType[] = [];
      if (!this.eat('<')) return of;
      do of.push(this.eat('_') ? { kind: 'opaque', name: '_' } : this.type(scope)); while (this.eat(','));
      this.expect('>');
      return of;
    };
    if (PRIMITIVES.has(name)) return { kind: 'primitive', name: name as Primitive };
    switch (name) {
      case 'list': return { kind: 'list', of: generic()[0]! };
      case 'option': return { kind: 'option', of: generic()[0]! };
      case 'tuple': return { kind: 'tuple', of: generic() };
      case 'result': {
        const [ok, err] = generic();
        return { kind: 'result', ...(ok && !(ok.kind === 'opaque' && ok.name === '_') ? { ok } : {}), ...(err ? { err } : {}) };
      }
      case 'borrow': case 'own': case 'future': case 'stream':
        generic();
        return { kind: 'opaque', name };
    }
    const found = scope.get(name);
    // resolved when used, so that a type may be declared after its first mention (or in another interface)
    return { kind: 'opaque', name: `${found ? '@ref:' : '@free:'}${name}` };
  }

  /** A typedef (record, variant, enum, flags, type alias, resource) into `scope`; false if the item is not one. */
  typedef(scope: Scope): boolean {
    const kw = this.peek();
    if (kw === 'record' || kw === 'variant' || kw === 'enum' || kw === 'flags') {
      this.next();
      const name = this.next();
      this.expect('{');
      const items: { name: string; type?: WitType }[] = [];
      while (!this.eat('}')) {
        const item = this.next();
        let type: WitType | undefined;
        if (kw === 'record') { this.expect(':'); type = this.type(scope); }
        else if (kw === 'variant' && this.eat('(')) { type = this.type(scope); this.expect(')'); }
        items.push({ name: item, ...(type ? { type } : {}) });
        this.eat(',');
      }
      const def: WitType =
        kw === 'record' ? { kind: 'record', name, fields: items.map((f) => ({ name: f.name, type: f.type! })) }
          : kw === 'variant' ? { kind: 'variant', name, cases: items }
            : kw === 'enum' ? { kind: 'enum', name, cases: items.map((c) => c.name) }
              : { kind: 'flags', name, flags: items.map((c) => c.name) };
      scope.set(name, () => def);
      return true;
    }
    if (kw === 'type') {
      this.next();
      const name = this.next();
      this.expect('=');
      const t = this.type(scope);
      this.expect(';');
      scope.set(name, () => t);
      return true;
    }
    if (kw === 'resource') {
      this.next();
      const name = this.next();
      this.skipItem();
      scope.set(name, () => ({ kind: 'opaque', name: `resource ${name}` }));
      return true;
    }
    return false;
  }

  /**
   * `use ns:pkg/iface@v.{a, b as c};`: each name stands for that interface's type, resolved there once every
   * interface is read (`lookup`); unknown (the interface is not written inline): opaque.
   */
  use(scope: Scope, lookup: (iface: string, name: string) => WitType | undefined): void {
    this.expect('use');
    const iface = this.next().replace(/\.$/, '');
    this.expect('{');
    while (!this.eat('}')) {
      const name = this.next();
      const local = this.eat('as') ? this.next() : name;
      scope.set(local, () => lookup(iface, name) ?? { kind: 'opaque', name: local });
      this.eat(',');
    }
    this.eat(';');
  }

  func(scope: Scope, name: string, iface?: string): WitFunction {
    while (this.peek() !== 'func') this.next(); // `async`
    this.expect('func');
    this.expect('(');
    const params: { name: string; type: WitType }[] = [];
    while (!this.eat(')')) {
      const p = this.next();
      this.expect(':');
      params.push({ name: p, type: this.type(scope) });
      this.eat(',');
    }
    const result = this.eat('->') ? this.type(scope) : undefined;
    this.expect(';');
    return { path: iface ? `${iface}#${name}` : name, ...(iface ? { iface } : {}), name, params, ...(result ? { result } : {}) };
  }
}

/**
 * Where a name not defined in an interface comes from: wasm-tools writes the types an inline interface takes from
 * another (inline) interface unqualified, without a `use`. The one interface defining it, if only one does.
 */
type Elsewhere = (name: string) => { def: WitType; scope: Scope } | undefined;

function elsewhere(scopes: Scope[]): Elsewhere {
  return (name) => {
    const defs = new Map<() => WitType, Scope>();
    for (const s of scopes) {
      const d = s.get(name);
      if (d && !defs.has(d)) defs.set(d, s);
    }
    if (defs.size !== 1) return undefined;
    const [[def, scope]] = [...defs];
    return { def: def!(), scope: scope! };
  };
}

/** Replace references to named types with their definitions (records may refer to each other, not to themselves). */
function resolve(t: WitType, scope: Scope, other: Elsewhere, depth = 0): WitType {
  if (depth > 64) throw new ValidationError('the component\'s WIT types nest too deeply');
  const r = (x: WitType): WitType => resolve(x, scope, other, depth + 1);
  switch (t.kind) {
    case 'opaque': {
      if (t.name.startsWith('@ref:')) return r(scope.get(t.name.slice(5))!());
      if (!t.name.startsWith('@free:')) return t;
      const name = t.name.slice(6);
      const found = other(name);
      return found ? resolve(found.def, found.scope, other, depth + 1) : { kind: 'opaque', name };
    }
    case 'list': case 'option': return { ...t, of: r(t.of) };
    case 'tuple': return { ...t, of: t.of.map(r) };
    case 'result': return { kind: 'result', ...(t.ok ? { ok: r(t.ok) } : {}), ...(t.err ? { err: r(t.err) } : {}) };
    case 'record': return { ...t, fields: t.fields.map((f) => ({ name: f.name, type: r(f.type) })) };
    case 'variant': return { ...t, cases: t.cases.map((c) => ({ name: c.name, ...(c.type ? { type: r(c.type) } : {}) })) };
    default: return t;
  }
}

/** The exported functions of the (first) world in `wit`, with resolved types. */
export function parseWorld(wit: string): WitWorld {
  const p = new Parser(tokenize(wit));
  const world: WitWorld = { functions: [], untyped: [], imports: [] };
  while (p.peek() !== undefined && p.peek() !== 'world') p.skipItem();
  if (!p.eat('world')) return world;
  p.next();
  p.expect('{');
  const worldScope: Scope = new Map();
  const fns: { fn: WitFunction; scope: Scope }[] = [];
  const scopes: Scope[] = [worldScope];
  const byInterface = new Map<string, Scope>();
  // set once every interface is read; the `use` lookups run only after that
  let other: Elsewhere = () => undefined;
  let lookups = 0;
  const lookup = (iface: string, name: string): WitType | undefined => {
    const s = byInterface.get(iface);
    const def = s?.get(name);
    if (!def || !s) return undefined;
    // `use`s that go round in a circle
    if (++lookups > 64) throw new ValidationError('the component\'s WIT types nest too deeply');
    try {
      return resolve(def(), s, other);
    } finally {
      lookups--;
    }
  };
  while (!p.eat('}')) {
    const kw = p.next();
    if (kw === 'export' || kw === 'import') {
      const name = p.next();
      if (p.eat(';')) {
        if (kw === 'export') world.untyped.push(name);
        else world.imports.push(name);
        continue;
      }
      p.expect(':');
      if (p.eat('interface')) {
        p.expect('{');
        const scope: Scope = new Map(worldScope);
        scopes.push(scope);
        byInterface.set(name, scope);
        // an imported interface of types alone (no functions, no resources) needs nothing from the host
        let needsHost = false;
        while (!p.eat('}')) {
          if (p.peek() === 'resource') needsHost = true;
          if (p.typedef(scope)) continue;
          if (p.peek() === 'use') { p.use(scope, lookup); continue; }
          const fname = p.next();
          p.expect(':');
          const fn = p.func(scope, fname, name);
          // an imported interface is read for its types only
          if (kw === 'export') fns.push({ fn, scope });
          needsHost = true;
        }
        if (kw === 'import' && needsHost) world.imports.push(name);
        continue;
      }
      if (kw === 'import') {
        world.imports.push(name);
        p.skipItem();
        continue;
      }
      fns.push({ fn: p.func(worldScope, name), scope: worldScope });
      continue;
    }
    p.back();
    if (!p.typedef(worldScope)) p.skipItem();
  }
  other = elsewhere(scopes);
  for (const { fn, scope } of fns) {
    world.functions.push({
      ...fn,
      params: fn.params.map((x) => ({ name: x.name, type: resolve(x.type, scope, other) })),
      ...(fn.result ? { result: resolve(fn.result, scope, other) } : {}),
    });
  }
  return world;
}

/** A type as WIT writes it, for messages. */
export function typeName(t: WitType): string {
  switch (t.kind) {
    case 'primitive': return t.name;
    case 'list': return `list<${typeName(t.of)}>`;
    case 'option': return `option<${typeName(t.of)}>`;
    case 'tuple': return `tuple<${t.of.map(typeName).join(', ')}>`;
    case 'result': return t.ok || t.err ? `result<${t.ok ? typeName(t.ok) : '_'}${t.err ? `, ${typeName(t.err)}` : ''}>` : 'result';
    case 'record': case 'variant': case 'enum': case 'flags': return `${t.kind} ${t.name}`;
    case 'opaque': return t.name;
  }
}

export function formatFunction(f: WitFunction): string {
  return `${f.path}(${f.params.map((p) => `${p.name}: ${typeName(p.type)}`).join(', ')})${f.result ? ` -> ${typeName(f.result)}` : ''}`;
}
