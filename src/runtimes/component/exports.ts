/**
 * Renaming a component's top-level exports (and imports) in its binary. wasm-tools prints the WIT of a component's world with
 * exported interfaces of other packages (`export ns:pkg/iface@1.0.0;`) as bare names, without their functions;
 * the same instance exported under a plain name is printed inline with all its types. Only the export section
 * (or import) section is rewritten: every other section is copied as is, so indices and types stay what they were.
 */
import { ValidationError } from '../../core/errors.js';
import { encodeUleb, Reader } from '../wasm/binary.js';
import { wasmKind } from './binary.js';

const IMPORT_SECTION = 10;
const EXPORT_SECTION = 11;
const utf8 = new TextEncoder();

/** Skips an externdesc (the optional type ascribed to an export). */
function skipExternDesc(r: Reader): void {
  const kind = r.u8();
  switch (kind) {
    case 0x00: r.u8(); r.u32(); return; // core module: 0x11 typeidx
    case 0x01: case 0x04: case 0x05: r.u32(); return; // func, component, instance: typeidx
    case 0x02: if (r.u8() === 0x00) r.u32(); else r.sleb(33); return; // value: eq valueidx | valtype
    case 0x03: if (r.u8() === 0x00) r.u32(); return; // type: eq typeidx | sub resource
    default: r.fail(`unknown externdesc 0x${kind.toString(16)}`);
  }
}

/** An import's or export's name (0x01 once marked interface names; both are followed by the name alone). */
function readName(r: Reader): string {
  const disc = r.u8();
  if (disc !== 0x00 && disc !== 0x01) r.fail(`unknown import/export name form 0x${disc.toString(16)}`);
  return r.name();
}

/** One entry: its name, and the bytes after the name (what it is, and its type) copied as they are. */
function readEntry(r: Reader, section: number): { name: string; rest: Uint8Array } {
  const name = readName(r);
  const start = r.pos;
  if (section === IMPORT_SECTION) {
    skipExternDesc(r);
  } else {
    if (r.u8() === 0x00) r.u8(); // core sort
    r.u32();
    if (r.u8() === 0x01) skipExternDesc(r);
  }
  return { name, rest: r.bytes.subarray(start, r.pos) };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.byteLength; }
  return out;
}

/** The new name; undefined: kept as it is; null: the entry is left out (exports only). */
type Rename = (name: string) => string | null | undefined;

function rewrite(bytes: Uint8Array, section: number, rename: Rename): Uint8Array {
  if (wasmKind(bytes) !== 'component') throw new ValidationError('not a WebAssembly component');
  const r = new Reader(bytes, 8);
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  while (!r.eof()) {
    const start = r.pos;
    const id = r.u8();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.byteLength) r.fail(`section ${id} extends past the end of the component`);
    if (id !== section) {
      parts.push(bytes.subarray(start, end));
      r.pos = end;
      continue;
    }
    const sec = new Reader(bytes, r.pos, end);
    const count = sec.u32();
    const body: Uint8Array[] = [];
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const e = readEntry(sec, section);
      const to = rename(e.name);
      if (to === null && section === EXPORT_SECTION) continue;
      const name = utf8.encode(to ?? e.name);
      body.push(Uint8Array.of(0x00), encodeUleb(name.byteLength), name, e.rest);
      kept++;
    }
    if (sec.pos !== end) sec.fail('trailing bytes in an import or export section');
    const payload = concat([encodeUleb(kept), ...body]);
    parts.push(Uint8Array.of(id), encodeUleb(payload.byteLength), payload);
    r.pos = end;
  }
  return concat(parts);
}

function names(bytes: Uint8Array, section: number): string[] {
  const out: string[] = [];
  rewrite(bytes, section, (n) => { out.push(n); return undefined; });
  return out;
}

/** The top-level export names of a component, in order. */
export const exportNames = (bytes: Uint8Array): string[] => names(bytes, EXPORT_SECTION);
/** The top-level import names of a component, in order. */
export const importNames = (bytes: Uint8Array): string[] => names(bytes, IMPORT_SECTION);

/** A copy of the component whose top-level exports are renamed by `rename` (undefined: kept, null: left out). */
export const renameExports = (bytes: Uint8Array, rename: Rename): Uint8Array => rewrite(bytes, EXPORT_SECTION, rename);
/** A copy of the component whose top-level imports are renamed by `rename` (undefined: kept). */
export const renameImports = (bytes: Uint8Array, rename: Rename): Uint8Array => rewrite(bytes, IMPORT_SECTION, rename);
