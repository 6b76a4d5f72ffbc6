/**
 * A check of the guest image the linker produced, before it goes into the cache: a static x86-64 ELF executable
 * whose loadable segments all lie at or above AK_IMAGE_BASE. The host's loader relies on exactly this.
 */
import { AgentKernelError } from '../../core/errors.js';

export interface ElfImage {
  entry: bigint;
  /** PT_LOAD segments: guest address, bytes in the file, bytes in memory (the rest is zeroed). */
  segments: { vaddr: bigint; fileSize: bigint; memSize: bigint }[];
  /** From the lowest segment start to the highest segment end: the guest memory the image occupies. */
  span: bigint;
}

const PT_LOAD = 1;

export function readElfImage(bytes: Uint8Array, imageBase: bigint): ElfImage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new AgentKernelError('INTERNAL', `the linked guest image is malformed: ${why}`);
  };
  if (bytes.length < 64 || view.getUint32(0) !== 0x7f454c46) fail('not an ELF file');
  if (bytes[4] !== 2 || bytes[5] !== 1) fail('not a 64-bit little-endian ELF');
  if (view.getUint16(16, true) !== 2) fail('not an executable (ET_EXEC)');
  if (view.getUint16(18, true) !== 62) fail('not x86-64');
  const entry = view.getBigUint64(24, true);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phentsize < 56 || phoff + phnum * phentsize > bytes.length) fail('program headers out of range');
  const segments: ElfImage['segments'] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (view.getUint32(o, true) !== PT_LOAD) continue;
    const seg = { vaddr: view.getBigUint64(o + 16, true), fileSize: view.getBigUint64(o + 32, true), memSize: view.getBigUint64(o + 40, true) };
    if (seg.vaddr < imageBase) fail(`a segment starts at 0x${seg.vaddr.toString(16)}, below the image base 0x${imageBase.toString(16)}`);
    if (seg.memSize < seg.fileSize) fail('a segment is smaller in memory than in the file');
    segments.push(seg);
  }
  if (segments.length === 0) fail('no loadable segments');
  const lo = segments.reduce((m, s) => (s.vaddr < m ? s.vaddr : m), segments[0].vaddr);
  const hi = segments.reduce((m, s) => (s.vaddr + s.memSize > m ? s.vaddr + s.memSize : m), 0n);
  if (entry < lo || entry >= hi) fail('the entry point lies outside the image');
  return { entry, segments, span: hi - lo };
}
