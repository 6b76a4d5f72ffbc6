/**
 * Component-model values to and from JSON, by WIT type. The JSON shapes (docs/components.md):
 *   bool, integers, floats: JSON numbers (u64/s64 also as decimal strings; results always as strings)
 *   char, string: strings; list<T>: arrays (list<u8> too); tuple: arrays; record: objects keyed by field name;
 *   option<T>: null or the value; result: {"ok": v} or {"err": e}; variant: {"tag": "case", "val": v};
 *   enum: the case name; flags: an array of the names that are set.
 * On the JavaScript side the values are the ones jco's bindings take and give (bigint for 64-bit integers,
 * Uint8Array for list<u8>, lowerCamelCase record fields and flags).
 */
import { ValidationError } from '../../core/errors.js';
import { typeName, type WitType } from './wit.js';

/** kebab-case WIT names as jco spells them in JavaScript. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const RANGES: Record<string, [number, number]> = {
  u8: [0, 255], u16: [0, 65535], u32: [0, 4294967295],
  s8: [-128, 127], s16: [-32768, 32767], s32: [-2147483648, 2147483647],
};
const BIG: Record<string, [bigint, bigint]> = {
  u64: [0n, (1n << 64n) - 1n],
  s64: [-(1n << 63n), (1n << 63n) - 1n],
};

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** JSON value → the JavaScript value jco expects. `where` names the argument for the error. */
export function toJs(t: WitType, v: unknown, where: string): unknown {
  const bad = (what = typeName(t)): never => {
    throw new ValidationError(`${where}: expected ${what}, got ${JSON.stringify(v) ?? String(v)}`);
  };
  switch (t.kind) {
    case 'primitive': {
      const n = t.name;
      if (n === 'bool') return typeof v === 'boolean' ? v : bad();
      if (n === 'string') return typeof v === 'string' ? v : bad();
      if (n === 'char') return typeof v === 'string' && [...v].length === 1 ? v : bad('char (a string of one character)');
      if (n === 'f32' || n === 'f64') return typeof v === 'number' ? v : bad();
      if (n === 'u64' || n === 's64') {
        let b: bigint;
        if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
        else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
        else return bad(`${n} (an integer, or a decimal string)`);
        const [lo, hi] = BIG[n]!;
        return b >= lo && b <= hi ? b : bad(`${n} (out of range)`);
      }
      const [lo, hi] = RANGES[n]!;
      return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? v : bad(`${n} (an integer in ${lo}..${hi})`);
    }
    case 'list': {
      if (!Array.isArray(v)) return bad();
      const items = v.map((x, i) => toJs(t.of, x, `${where}[${i}]`));
      return t.of.kind === 'primitive' && t.of.name === 'u8' ? Uint8Array.from(items as number[]) : items;
    }
    case 'tuple':
      if (!Array.isArray(v) || v.length !== t.of.length) return bad(`${typeName(t)} (an array of ${t.of.length})`);
      return t.of.map((x, i) => toJs(x, v[i], `${where}[${i}]`));
    case 'option':
      return v === null || v === undefined ? undefined : toJs(t.of, v, where);
    case 'result': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(`${typeName(t)} ({"ok": ...} or {"err": ...})`);
      const o = v as Record<string, unknown>;
      if (hasOwn(o, 'ok')) return { tag: 'ok', val: t.ok ? toJs(t.ok, o.ok, `${where}.ok`) : undefined };
      if (hasOwn(o, 'err')) return { tag: 'err', val: t.err ? toJs(t.err, o.err, `${where}.err`) : undefined };
      return bad(`${typeName(t)} ({"ok": ...} or {"err": ...})`);
    }
    case 'record': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad();
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (!t.fields.some((f) => f.name === k)) throw new ValidationError(`${where}: ${typeName(t)} has no field '${k}'`);
      }
      const out: Record<string, unknown> = {};
      for (const f of t.fields) {
        if (!hasOwn(o, f.name) && f.type.kind !== 'option') throw new ValidationError(`${where}: missing field '${f.name}' of ${typeName(t)}`);
        out[camel(f.name)] = toJs(f.type, o[f.name], `${where}.${f.name}`);
      }
      return out;
    }
    case 'variant': {
      const o = v as Record<string, unknown>;
      const c = typeof o === 'object' && o !== null ? t.cases.find((x) => x.name === o.tag) : undefined;
      if (!c) return bad(`${typeName(t)} ({"tag": one of ${t.cases.map((x) => x.name).join(', ')}, "val": ...})`);
      return c.type ? { tag: c.name, val: toJs(c.type, o.val, `${where}.val`) } : { tag: c.name };
    }
    case 'enum':
      return typeof v === 'string' && t.cases.includes(v) ? v : bad(`${typeName(t)} (one of ${t.cases.join(', ')})`);
    case 'flags': {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && t.flags.includes(x))) {
        return bad(`${typeName(t)} (an array of: ${t.flags.join(', ')})`);
      }
      return Object.fromEntries(t.flags.map((f) => [camel(f), v.includes(f)]));
    }
    case 'opaque':
      throw new ValidationError(`${where}: values of type ${t.name} cannot be given as JSON`);
  }
}

/** A JavaScript value from jco → JSON, by WIT type. */
export function fromJs(t: WitType, v: unknown): unknown {
  switch (t.kind) {
    case 'primitive':
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
      return v;
    case 'list':
      return Array.from(v as ArrayLike<unknown>, (x) => fromJs(t.of, x));
    case 'tuple':
      return t.of.map((x, i) => fromJs(x, (v as unknown[])[i]));
    case 'option':
      return v === undefined || v === null ? null : fromJs(t.of, v);
    case 'result': {
      const r = v as { tag: 'ok' | 'err'; val?: unknown };
      if (r.tag === 'ok') return { ok: t.ok ? fromJs(t.ok, r.val) : null };
      return { err: t.err ? fromJs(t.err, r.val) : null };
    }
    case 'record': {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(t.fields.map((f) => [f.name, fromJs(f.type, o[camel(f.name)])]));
    }
    case 'variant': {
      const o = v as { tag: string; val?: unknown };
      const c = t.cases.find((x) => x.name === o.tag);
      return c?.type ? { tag: o.tag, val: fromJs(c.type, o.val) } : { tag: o.tag };
    }
    case 'enum':
      return v;
    case 'flags': {
      const o = v as Record<string, boolean>;
      return t.flags.filter((f) => o[camel(f)]);
    }
    case 'opaque':
      return `<${t.name}>`;
  }
}
