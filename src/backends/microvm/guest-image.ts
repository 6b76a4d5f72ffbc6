/**
 * The microVM guest, built offline from what the host's Debian packages installed — nothing is downloaded:
 *  - the kernel: /boot/vmlinuz-VERSION (linux-image-amd64), or AGENTKERNEL_MICROVM_KERNEL;
 *  - an initramfs: the guest agent (guest-agent/agent.c, compiled here with `gcc -static -Os`) as /init, plus the
 *    kernel modules it loads at boot (virtio transport, block, console, network, vsock, ext4) from /lib/modules;
 *  - a base root filesystem (ext4, made by mke2fs -d) holding Debian's static busybox and its applet links. Every
 *    VM boots on its own copy-on-write disk over this base (see disk.ts); the base itself is never written.
 * The result lives in the cache under a fingerprint of every input, so a changed kernel or agent rebuilds it.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import {
  chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { UnavailableError } from '../../core/errors.js';
import { dir, location } from '../../core/paths.js';
import { packageRoot } from '../hyperlight/toolchain.js';
import { cpioArchive, type CpioEntry } from './cpio.js';

const pexec = promisify(execFile);

/** Bumped when the layout of what is built changes. */
const BUILDER_VERSION = 3;
/** Size of the base disk (sparse: only what busybox needs is allocated); each sandbox's overlay grows up to it. */
export const BASE_DISK_MB = 1024;
const MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console', 'crc32c_generic', 'ext4', 'virtio_net', 'vmw_vsock_virtio_transport'];
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];

export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  /** The read-only base disk (raw ext4) that every VM's copy-on-write disk is layered on. */
  rootfs: string;
  kernelVersion: string;
  agentVersion: string;
}

interface Inputs {
  kernel: string;
  kernelVersion: string;
  modulesDir: string;
  busybox: string;
  agentSource: string;
  fingerprint: string;
}

/** The newest /boot/vmlinuz-* (Debian's linux-image-amd64), unless AGENTKERNEL_MICROVM_KERNEL names one. */
function findKernel(): { kernel: string; version: string } {
  const forced = process.env.AGENTKERNEL_MICROVM_KERNEL;
  if (forced) {
    if (!existsSync(forced)) throw new UnavailableError(`AGENTKERNEL_MICROVM_KERNEL=${forced} does not exist`);
    return { kernel: forced, version: basename(forced).replace(/^vmlinuz-/, '') };
  }
  const found = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-\d/.test(f)) : [];
  if (found.length === 0) throw new UnavailableError('no Linux kernel in /boot for the microVM guest (apt-get install linux-image-amd64)');
  const newest = found.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1)!;
  return { kernel: join('/boot', newest), version: newest.slice('vmlinuz-'.length) };
}

function stamp(path: string): string {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

function inputs(): Inputs {
  const { kernel, version } = findKernel();
  const modulesDir = join('/lib/modules', version);
  if (!existsSync(join(modulesDir, 'modules.dep'))) {
    throw new UnavailableError(`the modules of kernel ${version} are missing (${modulesDir}); reinstall its linux-image package`);
  }
  const busybox = BUSYBOX.find((p) => existsSync(p));
  if (!busybox) throw new UnavailableError('no busybox for the microVM root filesystem (apt-get install busybox-static)');
  const agentSource = join(packageRoot(), 'guest-agent', 'agent.c');
  if (!existsSync(agentSource)) throw new UnavailableError('the guest agent sources (guest-agent/) are missing from this installation');
  const h = createHash('sha256');
  h.update(`v${BUILDER_VERSION}\n${stamp(kernel)}\n${stamp(join(modulesDir, 'modules.dep'))}\n${stamp(busybox)}\n`);
  h.update(readFileSync(agentSource));
  return { kernel, kernelVersion: version, modulesDir, busybox, agentSource, fingerprint: h.digest('hex').slice(0, 16) };
}

function imageAt(d: string): GuestImage | undefined {
  try {
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { kernelVersion: string; agentVersion: string };
    const img = { dir: d, kernel: join(d, 'vmlinuz'), initrd: join(d, 'initrd.img'), rootfs: join(d, 'rootfs.ext4'), ...m };
    return [img.kernel, img.initrd, img.rootfs].every((p) => existsSync(p)) ? img : undefined;
  } catch {
    return undefined;
  }
}

/** The built guest for this host's current inputs, or the reason there is none (without building anything). */
export function findGuestImage(): GuestImage | { missing: string } {
  let inp: Inputs;
  try {
    inp = inputs();
  } catch (e) {
    return { missing: (e as Error).message };
  }
  return imageAt(location('cache', 'microvm', `guest-${inp.fingerprint}`)) ?? {
    missing: `the microVM guest (kernel ${inp.kernelVersion}, initramfs, root filesystem) is not built: run \`agentkernel setup\``,
  };
}

/** Module files to load, dependencies first, as paths relative to the modules directory. */
export function moduleLoadOrder(modulesDep: string, builtin: Set<string>, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of modulesDep.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const file = line.slice(0, i).trim();
    deps.set(file, line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
    byName.set(basename(file).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), file);
  }
  const order: string[] = [];
  const visit = (file: string) => {
    if (order.includes(file)) return;
    for (const d of deps.get(file) ?? []) visit(d);
    order.push(file);
  };
  for (const name of wanted) {
    const file = byName.get(name);
    if (file) visit(file);
    else if (![...builtin].some((b) => basename(b).replace(/\.ko$/, '').replace(/-/g, '_') === name)) {
      throw new UnavailableError(`kernel module ${name} is neither a module nor built into this kernel`);
    }
  }
  return order;
}

async function compileAgent(source: string, out: string): Promise<void> {
  try {
    await pexec('gcc', ['-static', '-Os', '-s', '-Wall', '-o', out, source], { timeout: 120_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UnavailableError('gcc is needed to build the microVM guest agent (apt-get install gcc)');
    throw new UnavailableError(`compiling the guest agent failed: ${(err.stderr ?? err.message).trim().slice(0, 2000)}`);
  }
}

function initramfs(agent: string, modulesDir: string, kernelVersion: string): Buffer {
  const dep = readFileSync(join(modulesDir, 'modules.dep'), 'utf8');
  const builtinFile = join(modulesDir, 'modules.builtin');
  const builtin = new Set(existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter(Boolean) : []);
  const order = moduleLoadOrder(dep, builtin, MODULES);
  const entries: CpioEntry[] = [
    { kind: 'dir', path: 'dev' }, { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'dir', path: 'proc' }, { kind: 'dir', path: 'sys' }, { kind: 'dir', path: 'modules' },
    { kind: 'file', path: 'init', data: readFileSync(agent), mode: 0o755 },
  ];
  for (const rel of order) {
    if (/\.ko\.\w+$/.test(rel)) throw new UnavailableError(`kernel ${kernelVersion} ships compressed modules (${rel}), which this builder does not unpack`);
    entries.push({ kind: 'file', path: `modules/${basename(rel)}`, data: readFileSync(join(modulesDir, rel)) });
  }
  entries.push({ kind: 'file', path: 'modules/order', data: Buffer.from(order.map((r) => basename(r)).join('\n') + '\n') });
  return gzipSync(cpioArchive(entries), { level: 6 });
}

async function rootfs(busybox: string, out: string, work: string): Promise<void> {
  const root = join(work, 'root');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'home', 'var/tmp', 'workspace']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'var/tmp'), 0o1777);
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await pexec(busybox, ['--list-full']);
  for (const rel of stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (rel === 'bin/busybox' || rel.includes('..') || existsSync(join(root, rel))) continue;
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    symlinkSync('/bin/busybox', join(root, rel));
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(root, 'etc/hostname'), 'sandbox\n');
  try {
    // inode tables and journal initialised now: otherwise every freshly booted guest spends its first seconds
    // zeroing them in the background, into its own overlay
    await pexec('mke2fs', [
      '-q', '-F', '-t', 'ext4', '-E', 'root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0', '-d', root, out, `${BASE_DISK_MB}M`,
    ], { timeout: 120_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UnavailableError('mke2fs is needed to build the microVM root filesystem (apt-get install e2fsprogs)');
    throw new UnavailableError(`mke2fs failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

const building = new Map<string, Promise<GuestImage>>();

/** Build the guest for this host (or return the cached one). `progress` receives one line per step. */
export function buildGuestImage(progress: (line: string) => void = () => {}): Promise<GuestImage> {
  const inp = inputs();
  const target = location('cache', 'microvm', `guest-${inp.fingerprint}`);
  const ready = imageAt(target);
  if (ready) return Promise.resolve(ready);
  let p = building.get(target);
  if (!p) {
    p = build(inp, target, progress).finally(() => building.delete(target));
    building.set(target, p);
  }
  return p;
}

async function build(inp: Inputs, target: string, progress: (line: string) => void): Promise<GuestImage> {
  const work = mkdtempSync(join(dir('cache', 'microvm'), '.build-'));
  try {
    const out = join(work, 'out');
    mkdirSync(out);
    progress(`compiling the guest agent (${inp.agentSource})`);
    const agent = join(work, 'agent');
    await compileAgent(inp.agentSource, agent);
    progress(`initramfs: agent + modules of kernel ${inp.kernelVersion}`);
    writeFileSync(join(out, 'initrd.img'), initramfs(agent, inp.modulesDir, inp.kernelVersion));
    progress(`root filesystem: ${inp.busybox} on ext4 (${BASE_DISK_MB} MiB sparse)`);
    await rootfs(inp.busybox, join(out, 'rootfs.ext4'), work);
    copyFileSync(inp.kernel, join(out, 'vmlinuz'));
    const agentVersion = /AGENT_VERSION "([^"]+)"/.exec(readFileSync(inp.agentSource, 'utf8'))?.[1] ?? 'unknown';
    writeFileSync(join(out, 'manifest.json'), JSON.stringify({ kernelVersion: inp.kernelVersion, agentVersion }, null, 2));
    try {
      renameSync(out, target);
    } catch (e) {
      // another process finished the same build first: its result is identical
      if (!imageAt(target)) throw e;
    }
    const img = imageAt(target);
    if (!img) throw new UnavailableError(`the microVM guest at ${target} is incomplete`);
    return img;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
