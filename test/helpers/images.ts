/**
 * Offline test images for the container engines. No registry is ever contacted: the image is a root filesystem
 * built here from the host's static busybox (Debian's busybox-static), `ENGINE import`ed under TEST_IMAGE. Building
 * is idempotent: an engine that already has the image is left alone.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, symlinkSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Backend } from '../../src/core/types.js';
import type { ContainerBackend } from '../../src/backends/container/backend.js';

const pexec = promisify(execFile);

export const TEST_IMAGE = 'agentkernel-test/busybox:1';
export type EngineName = 'docker' | 'podman';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** True when the ELF file has no PT_INTERP program header (it runs without a dynamic loader). */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return false; // ELF64 only
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

export function findStaticBusybox(): string | undefined {
  return BUSYBOX_CANDIDATES.find((p) => existsSync(p) && isStaticElf(p));
}

/** A root filesystem tarball: busybox and its applet links, /etc/passwd with nobody, a sticky /tmp. */
async function buildRootfsTar(busybox: string): Promise<{ tar: string; cleanup: () => void }> {
  const work = mkdtempSync(join(tmpdir(), 'ak-rootfs-'));
  const root = join(work, 'root');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'home', 'var/tmp']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(root, 0o755);
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'var/tmp'), 0o1777);
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await pexec(busybox, ['--list-full']);
  for (const rel of stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (rel === 'bin/busybox' || rel.includes('..')) continue;
    const target = join(root, rel);
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync('/bin/busybox', target);
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  const tar = join(work, 'rootfs.tar');
  await pexec('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  return { tar, cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

const building = new Map<EngineName, Promise<void>>();

/**
 * Make sure `backend`'s engine has TEST_IMAGE. Resolves with a reason to skip when that cannot be (engine
 * unavailable, no static busybox on this host), or undefined when the image is ready.
 */
export async function ensureTestImage(backend: Backend): Promise<string | undefined> {
  const a = await backend.availability();
  if (!a.available) return `${backend.name} unavailable: ${a.reason}`;
  const engine = (backend as ContainerBackend).engine;
  const has = await engine.call(['image', 'inspect', '--format', '{{.Id}}', '--', TEST_IMAGE]);
  if (has.exitCode === 0) return undefined;
  const busybox = findStaticBusybox();
  if (!busybox) return `no static busybox on this host (install Debian's busybox-static) to build ${TEST_IMAGE}`;
  let p = building.get(backend.name as EngineName);
  if (!p) {
    p = (async () => {
      const { tar, cleanup } = await buildRootfsTar(busybox);
      try {
        await engine.check(['import', tar, TEST_IMAGE], { timeoutMs: 120_000 });
      } finally {
        cleanup();
      }
    })();
    building.set(backend.name as EngineName, p);
    p.catch(() => building.delete(backend.name as EngineName));
  }
  await p;
  return undefined;
}
