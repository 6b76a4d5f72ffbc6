/**
 * inspectModule(): what a module imports and exports, with function signatures and its linear memory, read
 * straight from the binary (V8's reflection API gives names and kinds but no types). Also records where each
 * memory's limits are encoded so capMemory() can rewrite them.
 */
import { Reader, readSections, type Section } from './binary.js';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface ExportInfo {
  name: string;
  kind: 'func' | 'memory' | 'table' | 'global' | 'tag';
  params: ValType[];
  results: ValType[];
}

export interface ImportInfo {
  module: string;
  name: string;
  kind: string;
  params?: ValType[];
  results?: ValType[];
}

export interface MemoryInfo {
  /** In 64 KiB pages. */
  min: number;
  max?: number;
  imported: boolean;
  shared: boolean;
  memory64: boolean;
}

export interface ModuleInfo {
  imports: ImportInfo[];
  exports: ExportInfo[];
  /** The first memory (imported or defined), if any. */
  memory?: MemoryInfo;
  /** Exports `_start`: a WASI command. */
  isWasiCommand: boolean;
}

/** Where one memory's limits sit in the binary. */
export interface LimitsSite extends MemoryInfo {
  sectionIndex: number;
  start: number;
  end: number;
}

export interface ModuleLayout {
  sections: Section[];
  memories: LimitsSite[];
  info: ModuleInfo;
  /** Func types with more than one result (the multi-value proposal). */
  multiValue: boolean;
  /** A mutable global is imported or exported (the mutable-globals proposal). */
  mutableGlobalIO: boolean;
}

const KINDS = ['func', 'table', 'memory', 'global', 'tag'] as const;

type FuncType = { params: ValType[]; results: ValType[] };

const SIMPLE_TYPES: Record<number, ValType> = {
  0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128',
  0x70: 'funcref', 0x73: 'funcref', // func, nofunc
  0x6f: 'externref', 0x72: 'externref', // extern, noextern
};
// GC/exception abstract heap types: any, eq, i31, struct, array, exn, none, noexn — shown as references
const OTHER_REFS = new Set([0x6e, 0x6d, 0x6c, 0x6b, 0x6a, 0x69, 0x71, 0x74]);

class ModuleReader extends Reader {
  /** null: a non-function type (struct/array from the GC proposal). */
  types: (FuncType | null)[] = [];

  valType(): ValType {
    const b = this.u8();
    const simple = SIMPLE_TYPES[b];
    if (simple) return simple;
    if (OTHER_REFS.has(b)) return 'externref';
    if (b === 0x63 || b === 0x64) {
      const heap = this.sleb(33);
      if (heap >= 0) return this.types[heap] === null ? 'externref' : 'funcref';
      return SIMPLE_TYPES[heap + 128] ?? 'externref';
    }
    this.pos--;
    this.fail(`unknown value type 0x${b.toString(16)}`);
  }

  /** Struct/array field: storage type (with packed i8/i16) and mutability. */
  fieldType(): void {
    const b = this.bytes[this.pos];
    if (b === 0x78 || b === 0x77) this.pos++;
    else this.valType();
    this.u8();
  }

  vec<T>(item: () => T): T[] {
    const n = this.u32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }

  compType(): FuncType | null {
    const form = this.u8();
    if (form === 0x60) {
      const params = this.vec(() => this.valType());
      const results = this.vec(() => this.valType());
      return { params, results };
    }
    if (form === 0x5f) {
      this.vec(() => this.fieldType());
      return null;
    }
    if (form === 0x5e) {
      this.fieldType();
      return null;
    }
    this.pos--;
    this.fail(`unknown type form 0x${form.toString(16)}`);
  }

  subType(): void {
    const b = this.bytes[this.pos];
    if (b === 0x50 || b === 0x4f) {
      this.pos++;
      this.vec(() => this.u32());
    }
    this.types.push(this.compType());
  }

  typeSection(): void {
    const n = this.u32();
    for (let i = 0; i < n; i++) {
      if (this.bytes[this.pos] === 0x4e) {
        this.pos++;
        const m = this.u32();
        for (let j = 0; j < m; j++) this.subType();
      } else this.subType();
    }
  }

  funcType(index: number): FuncType {
    const t = this.types[index];
    if (!t) this.fail(`type index ${index} is not a function type`);
    return t;
  }

  /** Limits of a memory (or table): flags, min, max. */
  limits(): { min: number; max?: number; shared: boolean; is64: boolean } {
    const flags = this.u8();
    if (flags & ~0x07) this.fail(`unsupported limits flags 0x${flags.toString(16)}`);
    const is64 = (flags & 0x04) !== 0;
    const bits = is64 ? 64 : 32;
    const min = this.uleb(bits);
    const max = flags & 0x01 ? this.uleb(bits) : undefined;
    return { min, max, shared: (flags & 0x02) !== 0, is64 };
  }

  /** Skips a constant expression (global initialisers); false if it uses an opcode this reader does not know. */
  skipConstExpr(): boolean {
    for (;;) {
      const op = this.u8();
      switch (op) {
        case 0x0b: return true;
        case 0x41: this.sleb(32); break;
        case 0x42: this.sleb(64); break;
        case 0x43: this.skip(4); break;
        case 0x44: this.skip(8); break;
        case 0x23: case 0xd2: this.u32(); break;
        case 0xd0: this.sleb(33); break;
        case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break;
        case 0xfd: if (this.u32() !== 12) return false; this.skip(16); break;
        case 0xfb: {
          const sub = this.u32();
          if (sub === 0 || sub === 1 || sub === 6 || sub === 7) this.u32();
          else if (sub === 8) { this.u32(); this.u32(); }
          else if (sub < 0x1a || sub > 0x1c) return false;
          break;
        }
        default: return false;
      }
    }
  }
}

/** Parses the sections inspectModule and capMemory need; other sections are skipped by their size. */
export function readLayout(bytes: Uint8Array): ModuleLayout {
  const sections = readSections(bytes);
  const r = new ModuleReader(bytes);
  const imports: ImportInfo[] = [];
  const funcTypes: FuncType[] = [];
  const globalTypes: (ValType | undefined)[] = [];
  const globalMutable: boolean[] = [];
  const tagTypes: FuncType[] = [];
  const memories: LimitsSite[] = [];
  const rawExports: { name: string; kind: number; index: number }[] = [];

  sections.forEach((s, sectionIndex) => {
    r.pos = s.payloadStart;
    const sub = new ModuleReader(bytes, s.payloadStart, s.end);
    sub.types = r.types;
    switch (s.id) {
      case 1:
        sub.typeSection();
        break;
      case 2:
        sub.vec(() => {
          const module = sub.name();
          const name = sub.name();
          const kind = sub.u8();
          if (kind === 0) {
            const t = sub.funcType(sub.u32());
            funcTypes.push(t);
            imports.push({ module, name, kind: 'func', params: t.params, results: t.results });
          } else if (kind === 1) {
            sub.valType();
            sub.limits();
            imports.push({ module, name, kind: 'table' });
          } else if (kind === 2) {
            const start = sub.pos;
            const l = sub.limits();
            memories.push({ sectionIndex, start, end: sub.pos, min: l.min, max: l.max, shared: l.shared, memory64: l.is64, imported: true });
            imports.push({ module, name, kind: 'memory' });
          } else if (kind === 3) {
            const t = sub.valType();
            globalMutable.push(sub.u8() === 1);
            globalTypes.push(t);
            imports.push({ module, name, kind: 'global', results: [t] });
          } else if (kind === 4) {
            sub.u8();
            const t = sub.funcType(sub.u32());
            tagTypes.push(t);
            imports.push({ module, name, kind: 'tag', params: t.params, results: [] });
          } else sub.fail(`unknown import kind ${kind}`);
        });
        break;
      case 3:
        sub.vec(() => funcTypes.push(sub.funcType(sub.u32())));
        break;
      case 5:
        sub.vec(() => {
          const start = sub.pos;
          const l = sub.limits();
          memories.push({ sectionIndex, start, end: sub.pos, min: l.min, max: l.max, shared: l.shared, memory64: l.is64, imported: false });
        });
        break;
      case 6: {
        // best effort: a global whose initialiser we cannot skip ends the walk, later globals stay untyped
        const n = sub.u32();
        for (let i = 0; i < n; i++) {
          const t = sub.valType();
          globalMutable.push(sub.u8() === 1);
          globalTypes.push(t);
          if (!sub.skipConstExpr()) break;
        }
        break;
      }
      case 7:
        sub.vec(() => rawExports.push({ name: sub.name(), kind: sub.u8(), index: sub.u32() }));
        break;
      case 13:
        sub.vec(() => {
          sub.u8();
          tagTypes.push(sub.funcType(sub.u32()));
        });
        break;
      default:
        return;
    }
    if (s.id !== 6 && sub.pos !== s.end) sub.fail(`section ${s.id} size does not match its contents`);
  });

  const exports: ExportInfo[] = rawExports.map(({ name, kind, index }) => {
    const k = KINDS[kind];
    if (!k) throw r.fail(`unknown export kind ${kind}`);
    if (k === 'func') {
      const t = funcTypes[index];
      if (!t) r.fail(`export ${name} names function ${index}, which does not exist`);
      return { name, kind: k, params: t.params, results: t.results };
    }
    if (k === 'global') {
      const t = globalTypes[index];
      return { name, kind: k, params: [], results: t ? [t] : [] };
    }
    if (k === 'tag') return { name, kind: k, params: tagTypes[index]?.params ?? [], results: [] };
    return { name, kind: k, params: [], results: [] };
  });

  const first = memories[0];
  const info: ModuleInfo = {
    imports,
    exports,
    isWasiCommand: exports.some((e) => e.name === '_start' && e.kind === 'func'),
  };
  if (first) {
    info.memory = { min: first.min, imported: first.imported, shared: first.shared, memory64: first.memory64 };
    if (first.max !== undefined) info.memory.max = first.max;
  }
  const multiValue = r.types.some((t) => t !== null && t.results.length > 1);
  // imported globals come first in the global index space, so the first entries of globalMutable are theirs
  const importedGlobals = imports.filter((i) => i.kind === 'global').length;
  const mutableGlobalIO =
    globalMutable.slice(0, importedGlobals).some(Boolean) || rawExports.some((e) => e.kind === 3 && globalMutable[e.index] === true);
  return { sections, memories, info, multiValue, mutableGlobalIO };
}

/** Imports, exports (with signatures) and memory of a core module. Malformed bytes: ValidationError. */
export function inspectModule(bytes: Uint8Array): ModuleInfo {
  return readLayout(bytes).info;
}
