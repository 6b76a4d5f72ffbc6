/**
 * The guest agent protocol (guest-agent/agent.c is the other end), shared by every microVM backend: framed
 * messages over one byte stream (a virtio-serial port under QEMU, vsock under Firecracker).
 *
 *   u32 LE length of what follows | u8 type | u32 LE request id | payload
 *
 * Pure encoding and decoding only: no I/O here, so every byte layout is unit-tested on its own.
 */
import { ValidationError } from '../../core/errors.js';
import type { FileEntry } from '../../core/types.js';

export const MSG = {
  PING: 0x01, EXEC: 0x02, STDIN: 0x03, SIGNAL: 0x04, READ: 0x05, WRITE: 0x06, LIST: 0x07, REMOVE: 0x08, SHUTDOWN: 0x09,
  PONG: 0x81, STDOUT: 0x82, STDERR: 0x83, EXIT: 0x84, OK: 0x85, ERR: 0x86,
} as const;

/** The agent refuses larger frames; file reads and writes are held whole in one frame. */
export const MAX_FRAME = 65 * 1024 * 1024;
const HEADER = 9;

export interface Frame {
  type: number;
  id: number;
  payload: Buffer;
}

export function encodeFrame(type: number, id: number, ...parts: Buffer[]): Buffer {
  const len = 5 + parts.reduce((n, p) => n + p.length, 0);
  if (len > MAX_FRAME) throw new ValidationError(`message of ${len} bytes exceeds the guest agent's limit of ${MAX_FRAME}`);
  const h = Buffer.alloc(HEADER);
  h.writeUInt32LE(len, 0);
  h.writeUInt8(type, 4);
  h.writeUInt32LE(id >>> 0, 5);
  return Buffer.concat([h, ...parts]);
}

/** Reassembles frames from a byte stream that arrives in arbitrary pieces. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    let off = 0;
    while (this.buf.length - off >= HEADER) {
      const len = this.buf.readUInt32LE(off);
      if (len < 5 || len > MAX_FRAME) throw new Error(`guest agent sent a malformed frame (length ${len})`);
      if (this.buf.length - off < 4 + len) break;
      out.push({ type: this.buf[off + 4], id: this.buf.readUInt32LE(off + 5), payload: this.buf.subarray(off + HEADER, off + 4 + len) });
      off += 4 + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
    return out;
  }
}

function cstr(s: string): Buffer {
  if (s.includes('\0')) throw new ValidationError('strings sent to the guest must not contain NUL bytes');
  return Buffer.from(`${s}\0`, 'utf8');
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

export interface ExecRequest {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** EXEC payload: u32 uid | u32 gid | cwd NUL | u32 argc | argv NUL… | u32 envc | NAME=value NUL… */
export function encodeExec(r: ExecRequest): Buffer {
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`);
  return Buffer.concat([
    u32(r.uid ?? 0), u32(r.gid ?? 0), cstr(r.cwd ?? ''),
    u32(r.argv.length), ...r.argv.map(cstr),
    u32(env.length), ...env.map(cstr),
  ]);
}

export const encodePath = (path: string): Buffer => cstr(path);

/** WRITE payload: u32 mode | path NUL | data */
export function encodeWrite(path: string, data: Uint8Array, mode = 0o644): Buffer {
  return Buffer.concat([u32(mode), cstr(path), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function encodeSignal(signo: number): Buffer {
  return u32(signo);
}

export function decodeExit(payload: Buffer): number {
  return payload.readInt32LE(0);
}

export interface AgentFailure {
  errno: number;
  message: string;
}

export function decodeError(payload: Buffer): AgentFailure {
  return { errno: payload.readUInt32LE(0), message: payload.subarray(4).toString('utf8') };
}

const ENTRY_TYPES: FileEntry['type'][] = ['file', 'dir', 'symlink', 'other'];

/** LIST reply: per entry u8 type | u64 LE size | name NUL. */
export function decodeList(payload: Buffer): FileEntry[] {
  const out: FileEntry[] = [];
  let off = 0;
  while (off < payload.length) {
    const type = ENTRY_TYPES[payload[off]] ?? 'other';
    const size = Number(payload.readBigUInt64LE(off + 1));
    const end = payload.indexOf(0, off + 9);
    if (end < 0) throw new Error('guest agent sent a malformed directory listing');
    out.push({ name: payload.subarray(off + 9, end).toString('utf8'), type, size });
    off = end + 1;
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
