/**
 * A small reader/writer for the WebAssembly binary format: LEB128 integers, names, sections. Every read is
 * bounds-checked and a malformed module becomes a ValidationError naming the byte offset.
 */
import { ValidationError } from '../../core/errors.js';

export const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class Reader {
  pos: number;

  constructor(readonly bytes: Uint8Array, pos = 0, readonly end = bytes.byteLength) {
    this.pos = pos;
  }

  fail(msg: string): never {
    throw new ValidationError(`malformed WebAssembly module at byte ${this.pos}: ${msg}`, { offset: this.pos });
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.bytes[this.pos++]!;
  }

  /** Unsigned LEB128 of at most `bits` bits, as a number (exact up to 2^53). */
  uleb(bits = 32): number {
    let result = 0;
    let mul = 1;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER || (bits === 32 && result > 0xffffffff)) this.fail('integer too large');
        return result;
      }
      mul *= 128;
    }
    this.fail('integer representation too long');
  }

  u32(): number {
    return this.uleb(32);
  }

  /** Signed LEB128 (up to 64 bits), value discarded beyond what a number holds; used for skipping and heap types. */
  sleb(bits = 64): number {
    let result = 0;
    let mul = 1;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return b & 0x40 ? result - mul : result;
    }
    this.fail('integer representation too long');
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) this.fail('unexpected end');
    this.pos += n;
  }

  name(): string {
    const len = this.u32();
    const start = this.pos;
    this.skip(len);
    try {
      return utf8.decode(this.bytes.subarray(start, start + len));
    } catch {
      this.pos = start;
      this.fail('name is not valid UTF-8');
    }
  }
}

/** Unsigned LEB128 encoding of a non-negative integer. */
export function encodeUleb(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as unsigned LEB128`);
  const out: number[] = [];
  let v = value;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return Uint8Array.from(out);
}

export interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  payloadStart: number;
  end: number;
}

/** Checks the header and lists the sections of a core module. */
export function readSections(bytes: Uint8Array): Section[] {
  const r = new Reader(bytes);
  if (bytes.byteLength < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) r.fail('missing \\0asm magic');
  const version = bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24);
  if (version !== 1) {
    if ((version & 0xffff) !== 1 && bytes[6] === 1 && bytes[7] === 0) {
      throw new ValidationError('this is a WebAssembly component (WASI 0.2), not a core module');
    }
    r.pos = 4;
    r.fail(`unsupported binary version ${version}`);
  }
  r.pos = 8;
  const sections: Section[] = [];
  while (!r.eof()) {
    const start = r.pos;
    const id = r.u8();
    const size = r.u32();
    const payloadStart = r.pos;
    if (payloadStart + size > bytes.byteLength) r.fail(`section ${id} extends past the end of the module`);
    r.pos = payloadStart + size;
    sections.push({ id, start, payloadStart, end: r.pos });
  }
  return sections;
}
