/**
 * Shared by the micro-VM engine tests: builds the hand-written test guests (test/fixtures/guests) with gcc, boots
 * one to READY and snapshots it, and drives a call through the dispatch entry, serving AK_HC_FLUSH.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AK_HC_FLUSH, AK_IMAGE_BASE, AK_OP_INVOKE } from '../../src/backends/hyperlight/abi.js';
import {
  MicroVm, parseOutputRecords, Snapshot, vmmAvailability, type AkMessage, type VmExit,
} from '../../src/backends/hyperlight/vmm.js';

const run = promisify(execFile);

export const MiB = 1024 * 1024;

/** The repository root (holds binding.gyp), from src/ or dist/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'binding.gyp'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

export const GUESTS_DIR = join(repoRoot(), 'test', 'fixtures', 'guests');

let gccChecked: string | undefined | null = null;

/** Why the engine tests cannot run here, or undefined if they can. */
export async function skipReason(): Promise<string | undefined> {
  const a = vmmAvailability();
  if (!a.available) return `micro-VMs unavailable: ${a.reason}`;
  if (gccChecked === null) {
    try {
      await run('gcc', ['--version']);
      gccChecked = undefined;
    } catch {
      gccChecked = 'gcc is not installed (needed to build the test guests)';
    }
  }
  return gccChecked;
}

let buildDir: string | undefined;
const built = new Map<string, Promise<Uint8Array>>();

/** test/fixtures/guests/<name>.c linked at AK_IMAGE_BASE, as bytes (built once per process). */
export function guestImage(name: string): Promise<Uint8Array> {
  let p = built.get(name);
  if (!p) {
    p = (async () => {
      buildDir ??= await mkdtemp(join(tmpdir(), 'ak-test-guests-'));
      const out = join(buildDir, `${name}.elf`);
      await run('gcc', [
        '-static', '-nostdlib', '-ffreestanding', '-fno-pic', '-no-pie', '-O2', '-fno-stack-protector',
        '-fno-asynchronous-unwind-tables', '-I', GUESTS_DIR, '-I', join(repoRoot(), 'native', 'common'),
        `-Wl,-T,${join(GUESTS_DIR, 'guest.ld')}`, `-Wl,--defsym=ak_image_base=0x${AK_IMAGE_BASE.toString(16)}`,
        '-Wl,--build-id=none', '-Wl,-z,noexecstack', '-o', out, join(GUESTS_DIR, `${name}.c`),
      ]);
      return new Uint8Array(await readFile(out));
    })();
    built.set(name, p);
  }
  return p;
}

export async function cleanupGuests(): Promise<void> {
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
  buildDir = undefined;
  built.clear();
}

export interface ReadyGuest {
  /** Memory and registers at AK_PORT_READY. */
  snapshot: Snapshot;
  /** The dispatch entry the guest reported. */
  dispatch: bigint;
}

/** Boots a test guest to READY and snapshots it there, as the backend does with a compiled module. */
export async function bootToReady(name: string, memSize = 16 * MiB): Promise<ReadyGuest> {
  const vm = MicroVm.boot(await guestImage(name), { memSize });
  try {
    const exit = await vm.run({ timeoutMs: 10_000 });
    if (exit.kind !== 'ready') throw new Error(`guest ${name} did not report READY: ${JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
    const dispatch = vm.readMsg().args[0];
    return { snapshot: await vm.snapshot(), dispatch };
  } finally {
    await vm.dispose();
  }
}

export interface CallResult {
  exit: VmExit;
  /** The message at the final exit, when it was an ABI port exit. */
  msg?: AkMessage;
  /** Output the guest flushed, per fd, as text. */
  output: Map<number, string>;
  hostcalls: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Serves host calls other than AK_HC_FLUSH: returns the status to reply with. */
  serve?: (vm: MicroVm, msg: AkMessage) => number;
}

/** One AK_OP_INVOKE through the dispatch entry, serving host calls until the guest stops. */
export async function call(vm: MicroVm, dispatch: bigint, args: (number | bigint)[], opts: CallOptions = {}): Promise<CallResult> {
  vm.writeRequest({ op: AK_OP_INVOKE, func: 0, args });
  vm.enter(dispatch);
  const output = new Map<number, string>();
  let hostcalls = 0;
  for (;;) {
    const exit = await vm.run({ timeoutMs: opts.timeoutMs ?? 10_000, signal: opts.signal });
    if (exit.kind !== 'hostcall') {
      const portExit = exit.kind === 'done' || exit.kind === 'trap' || exit.kind === 'abort' || exit.kind === 'ready';
      return { exit, msg: portExit ? vm.readMsg() : undefined, output, hostcalls };
    }
    hostcalls++;
    const msg = vm.readMsg();
    let status = 0;
    if (msg.func === AK_HC_FLUSH) {
      for (const r of parseOutputRecords(vm.readMsgData(msg))) output.set(r.fd, (output.get(r.fd) ?? '') + Buffer.from(r.bytes).toString());
    } else {
      status = opts.serve ? opts.serve(vm, msg) : 52; // WASI ENOSYS
    }
    vm.writeReply({ status });
  }
}

/** Open file descriptors of this process. */
export async function fdCount(): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir('/proc/self/fd')).length;
}

/** Resident set size of this process in bytes (from /proc/self/status, without forcing a GC). */
export async function rssBytes(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}
