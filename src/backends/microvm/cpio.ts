/**
 * A minimal writer of the "newc" cpio format the Linux kernel unpacks as its initramfs: regular files,
 * directories and device nodes, all owned by root. Writing it here avoids a dependency on cpio(1).
 */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'char'; path: string; major: number; minor: number; mode?: number };

const hex = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);

function record(ino: number, mode: number, data: Buffer, name: string, rdev: [number, number] = [0, 0]): Buffer {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const header = Buffer.from(
    '070701' + hex(ino) + hex(mode) + hex(0) + hex(0) + hex(1) + hex(0) + hex(data.length) +
      hex(0) + hex(0) + hex(rdev[0]) + hex(rdev[1]) + hex(nameBuf.length) + hex(0),
    'ascii',
  );
  return Buffer.concat([header, nameBuf, pad4(header.length + nameBuf.length), data, pad4(data.length)]);
}

export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    if (e.kind === 'dir') parts.push(record(ino++, 0o040000 | (e.mode ?? 0o755), Buffer.alloc(0), path));
    else if (e.kind === 'file') parts.push(record(ino++, 0o100000 | (e.mode ?? 0o644), e.data, path));
    else parts.push(record(ino++, 0o020000 | (e.mode ?? 0o600), Buffer.alloc(0), path, [e.major, e.minor]));
  }
  parts.push(record(0, 0, Buffer.alloc(0), 'TRAILER!!!'));
  return Buffer.concat(parts);
}
