/**
 * Typed arguments and results for invoking an export from the CLI, HTTP or MCP: strings and numbers in, values
 * V8 accepts out; results back to JSON-safe values (i64 as decimal strings, NaN/Infinity as words).
 */
import { ValidationError } from '../../core/errors.js';
import type { ExportInfo, ValType } from './inspect.js';

export function formatSignature(e: ExportInfo): string {
  const params = `${e.name}(${e.params.join(', ')})`;
  if (e.results.length === 0) return params;
  if (e.results.length === 1) return `${params} -> ${e.results[0]}`;
  return `${params} -> (${e.results.join(', ')})`;
}

const INT = /^[+-]?(?:\d+|0x[0-9a-f]+)$/i;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const FLOAT_WORDS: Record<string, number> = {
  nan: NaN, '+nan': NaN, '-nan': NaN,
  inf: Infinity, '+inf': Infinity, infinity: Infinity, '+infinity': Infinity,
  '-inf': -Infinity, '-infinity': -Infinity,
};

function integer(arg: string | number | bigint): bigint | undefined {
  if (typeof arg === 'bigint') return arg;
  if (typeof arg === 'number') return Number.isInteger(arg) ? BigInt(arg) : undefined;
  const s = arg.trim();
  if (!INT.test(s)) return undefined;
  // BigInt() takes hex only without a sign
  const neg = s.startsWith('-');
  const body = s.replace(/^[+-]/, '');
  const v = BigInt(body);
  return neg ? -v : v;
}

function float(arg: string | number | bigint): number | undefined {
  if (typeof arg === 'number') return arg;
  if (typeof arg === 'bigint') return Number(arg);
  const s = arg.trim().toLowerCase();
  if (s in FLOAT_WORDS) return FLOAT_WORDS[s];
  return FLOAT.test(s) ? Number(s) : undefined;
}

/** One argument as the export's parameter type needs it, or undefined when it is not a valid value of that type. */
function convert(type: ValType, arg: string | number | bigint): number | bigint | undefined {
  switch (type) {
    case 'i32': {
      const v = integer(arg);
      // both signed and unsigned spellings of a 32-bit value are accepted (-1 and 0xffffffff)
      if (v === undefined || v < -(2n ** 31n) || v > 2n ** 32n - 1n) return undefined;
      return Number(BigInt.asIntN(32, v));
    }
    case 'i64': {
      const v = integer(arg);
      if (v === undefined || v < -(2n ** 63n) || v > 2n ** 64n - 1n) return undefined;
      return BigInt.asIntN(64, v);
    }
    case 'f32':
    case 'f64':
      return float(arg);
    default:
      return undefined;
  }
}

export function parseInvokeArgs(e: ExportInfo, args: (string | number | bigint)[]): (number | bigint)[] {
  const sig = formatSignature(e);
  if (args.length !== e.params.length) {
    throw new ValidationError(`${sig} takes ${e.params.length} argument${e.params.length === 1 ? '' : 's'}, got ${args.length}`, { signature: sig });
  }
  return e.params.map((type, i) => {
    if (type === 'v128' || type === 'funcref' || type === 'externref') {
      throw new ValidationError(`${sig}: parameter ${i + 1} has type ${type}, which cannot be passed as an argument`, { signature: sig });
    }
    const v = convert(type, args[i]!);
    if (v === undefined) {
      throw new ValidationError(`${sig}: argument ${i + 1} (${JSON.stringify(String(args[i]))}) is not a valid ${type}`, { signature: sig });
    }
    return v;
  });
}

function formatValue(type: ValType, v: unknown): number | string {
  if (type === 'i64') return BigInt.asIntN(64, BigInt(v as bigint)).toString();
  if (type === 'funcref' || type === 'externref') return v === null || v === undefined ? 'null' : type;
  if (typeof v === 'bigint') return v.toString();
  const n = Number(v);
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return n;
}

/** V8 returns one value as is and several as an array. */
export function formatResults(types: ValType[], values: unknown): (number | string)[] {
  if (types.length === 0) return [];
  const list = types.length === 1 ? [values] : Array.isArray(values) ? values : [];
  if (list.length !== types.length) throw new ValidationError(`expected ${types.length} results, got ${list.length}`);
  return types.map((t, i) => formatValue(t, list[i]));
}
