/**
 * Bounds-checked access to the guest's linear memory. Every pointer and length the guest passes is untrusted: an
 * access outside the bound memory raises an Errno(FAULT) that the import wrapper turns into a return value, never
 * a RangeError escaping into the guest's host call.
 */
import { ERRNO } from './constants.js';

/** Internal control flow: a WASI call that fails with this errno. Never leaves the WasiPreview1 imports. */
export class Errno extends Error {
  constructor(readonly errno: number) {
    super(`wasi errno ${errno}`);
  }
}

export function fail(errno: number): never {
  throw new Errno(errno);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** One snapshot of the guest memory, taken at the start of a WASI call (memory may grow between calls). */
export class GuestView {
  readonly u8: Uint8Array;
  private readonly dv: DataView;

  constructor(u8: Uint8Array) {
    this.u8 = u8;
    this.dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  }

  /** Throws Errno(FAULT) unless [ptr, ptr+len) lies inside memory. Returns ptr as an unsigned offset. */
  check(ptr: number, len: number): number {
    const p = ptr >>> 0;
    const n = len >>> 0;
    if (p + n > this.u8.byteLength) fail(ERRNO.FAULT);
    return p;
  }

  bytes(ptr: number, len: number): Uint8Array {
    const p = this.check(ptr, len);
    return this.u8.subarray(p, p + (len >>> 0));
  }

  u8At(ptr: number): number {
    return this.dv.getUint8(this.check(ptr, 1));
  }
  u32At(ptr: number): number {
    return this.dv.getUint32(this.check(ptr, 4), true);
  }
  u64At(ptr: number): bigint {
    return this.dv.getBigUint64(this.check(ptr, 8), true);
  }
  setU8(ptr: number, v: number): void {
    this.dv.setUint8(this.check(ptr, 1), v);
  }
  setU16(ptr: number, v: number): void {
    this.dv.setUint16(this.check(ptr, 2), v, true);
  }
  setU32(ptr: number, v: number): void {
    this.dv.setUint32(this.check(ptr, 4), v >>> 0, true);
  }
  setU64(ptr: number, v: bigint | number): void {
    this.dv.setBigUint64(this.check(ptr, 8), BigInt.asUintN(64, BigInt(v)), true);
  }

  /** A UTF-8 string the guest passed (path names); invalid UTF-8 is EILSEQ, an embedded NUL is EINVAL. */
  string(ptr: number, len: number): string {
    // copy first: TextDecoder refuses views of a SharedArrayBuffer (threads-enabled memories)
    const raw = this.bytes(ptr, len).slice();
    let s: string;
    try {
      s = decoder.decode(raw);
    } catch {
      fail(ERRNO.ILSEQ);
    }
    if (s.includes('\0')) fail(ERRNO.INVAL);
    return s;
  }

  /** Copies `data` to ptr; the caller checked that it fits. */
  write(ptr: number, data: Uint8Array): void {
    this.u8.set(data, this.check(ptr, data.byteLength));
  }

  /** Resolves an iovec/ciovec array into views of guest memory. All entries are checked before any is used. */
  iovecs(ptr: number, count: number): Uint8Array[] {
    const n = count >>> 0;
    this.check(ptr, n * 8);
    if (n > 1024) fail(ERRNO.INVAL); // IOV_MAX: bounds the work one call can ask for
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const base = (ptr >>> 0) + i * 8;
      out.push(this.bytes(this.u32At(base), this.u32At(base + 4)));
    }
    return out;
  }
}
