/**
 * capMemory(): rewrite the maximum of every linear memory so that it can never grow past a byte budget.
 * memory.grow beyond it then returns -1 inside the guest, exactly as on a real out-of-memory.
 */
import { LimitError, ValidationError } from '../../core/errors.js';
import { encodeUleb } from './binary.js';
import { readLayout, type LimitsSite } from './inspect.js';

const PAGE = 65536;
/** 32-bit memories cannot exceed 4 GiB, whatever the cap. */
const MAX_PAGES_32 = 65536;

function encodeLimits(site: LimitsSite, max: number): Uint8Array {
  const flags = 0x01 | (site.shared ? 0x02 : 0) | (site.memory64 ? 0x04 : 0);
  const min = encodeUleb(site.min);
  const mx = encodeUleb(max);
  const out = new Uint8Array(1 + min.byteLength + mx.byteLength);
  out[0] = flags;
  out.set(min, 1);
  out.set(mx, 1 + min.byteLength);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 2)} MiB`;
}

export function capMemory(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (!Number.isFinite(maxBytes) || maxBytes < 0) throw new ValidationError(`memory cap must be a non-negative number of bytes, got ${maxBytes}`);
  const layout = readLayout(bytes);
  if (layout.memories.length === 0) return bytes;
  const capPages = Math.floor(maxBytes / PAGE);
  for (const m of layout.memories) {
    if (m.min > capPages) {
      throw new LimitError(
        `the module needs at least ${m.min * PAGE} bytes (${mib(m.min * PAGE)}) of linear memory, more than the memory cap of ${maxBytes} bytes (${mib(maxBytes)})`,
        { minimumBytes: m.min * PAGE, capBytes: maxBytes },
      );
    }
  }
  // rebuild only the sections that hold limits; every other byte is copied as it was
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  layout.sections.forEach((s, i) => {
    const sites = layout.memories.filter((m) => m.sectionIndex === i);
    if (sites.length === 0) {
      parts.push(bytes.subarray(s.start, s.end));
      return;
    }
    const payload: Uint8Array[] = [];
    let at = s.payloadStart;
    for (const m of sites) {
      const limit = m.memory64 ? capPages : Math.min(capPages, MAX_PAGES_32);
      payload.push(bytes.subarray(at, m.start), encodeLimits(m, Math.min(m.max ?? limit, limit)));
      at = m.end;
    }
    payload.push(bytes.subarray(at, s.end));
    const body = concat(payload);
    parts.push(Uint8Array.of(s.id), encodeUleb(body.byteLength), body);
  });
  return concat(parts);
}
