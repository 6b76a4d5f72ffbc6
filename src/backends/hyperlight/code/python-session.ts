/**
 * Python code sessions in the micro-VM: a session is a VM of its own, taken from the CPython image's pool and never
 * reset between calls, so `__main__` and every imported module survive from call to call (the runner keeps
 * `__main__` when asked to). An image of a session is its linear memory (up to its last non-zero page), as in the
 * `wasm` backend's sessions: written back into a session's VM, or a fresh one (fork), it brings back every variable,
 * function and module. The host-side WASI state (open files) is per call and not part of an image.
 *
 * A call the VM cannot finish cleanly (a timeout stops the guest mid-instruction, a fault) loses the session's state:
 * its VM is discarded and later calls say so until an image is restored.
 */
import { createHash } from 'node:crypto';
import { ConflictError, UnsupportedError, ValidationError } from '../../../core/errors.js';
import { BoundedOutput } from '../../../core/output.js';
import {
  EXIT, type ExecResult, type Language, type SessionHandle, type SessionImage, type SessionRunOptions, type SessionSupport,
} from '../../../core/types.js';
import type { RuntimeOutcome } from '../../../runtimes/types.js';
import { WasiPreview1 } from '../../../runtimes/wasi/wasi.js';
import { checkEnv, stdinBytes } from '../../wasm/request.js';
import type { MicroVm } from '../vmm.js';
import { baseMounts, invoke, runOnVm, type MicroVmPython, type PyImage } from './python.js';
import type { PythonGuest } from './python-guest.js';

const PAGE = 65536;
/** Opening, snapshot and restore are bounded by this. */
const CONTROL_TIMEOUT_MS = 60_000;

/** Builds an ExecResult from a run's outcome and its bounded output (the backend's own result shape). */
export type ResultOf = (r: RuntimeOutcome, stdout: BoundedOutput, stderr: BoundedOutput, started: number) => ExecResult;

/** Names the guest build an image was taken from (an image only fits the interpreter it came from). */
function buildId(guest: PythonGuest): number {
  return parseInt(createHash('sha256').update(guest.guest.key).digest('hex').slice(0, 8), 16);
}

export class HyperlightSessions implements SessionSupport {
  constructor(
    private readonly python: MicroVmPython,
    private readonly prepared: () => boolean,
    private readonly result: ResultOf,
  ) {}

  /** Python (once CPython is built for the micro-VM); JavaScript sessions run on the `wasm` backend. */
  readonly languages: Language[] = ['python'];

  async open(language: Language, o: { memoryMb: number; image?: SessionImage }): Promise<SessionHandle> {
    if (language !== 'python') {
      throw new UnsupportedError(`sessions on the hyperlight backend are for python, not ${language}; the wasm backend has ${language} sessions`, { backend: 'hyperlight', language });
    }
    if (!this.prepared()) {
      throw new UnsupportedError("CPython is not built for the micro-VM yet: run 'agentkernel setup' (once per installation: a few minutes)", { backend: 'hyperlight', language });
    }
    const s = new PythonVmSession(this.python, o.memoryMb, this.result);
    await s.start(o.image);
    return s;
  }
}

class PythonVmSession implements SessionHandle {
  readonly language = 'python' as const;
  private vm?: MicroVm;
  private loaded?: { guest: PythonGuest; image: PyImage };
  private lost?: string;
  private closed = false;
  /** One call at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly python: MicroVmPython,
    private readonly memoryMb: number,
    private readonly result: ResultOf,
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.chain.then(() => {
      if (this.closed) throw new ConflictError('the session is closed');
      return fn();
    });
    this.chain = r.catch(() => undefined);
    return r;
  }

  /** A VM from the clean interpreter's pool, with an image written into it when one is given. */
  async start(image?: SessionImage): Promise<void> {
    this.loaded ??= await this.python.loaded(this.memoryMb);
    if (image) this.check(image);
    const vm = await this.loaded.image.pool.acquire();
    try {
      if (image) await this.write(vm, image);
    } catch (e) {
      this.loaded.image.pool.discard(vm);
      throw e;
    }
    this.vm = vm;
    this.lost = undefined;
  }

  private check(image: SessionImage): void {
    if (image.backend !== 'hyperlight') throw new ValidationError(`this image is of a ${image.backend} session, not a hyperlight one`);
    if (image.language !== 'python') throw new ValidationError(`this image is of a ${image.language} session, not a python one`);
    if (image.meta.build !== buildId(this.loaded!.guest)) {
      throw new ValidationError('this image was taken from another build of CPython for the micro-VM; it cannot be restored into this one');
    }
  }

  private live(): MicroVm {
    if (this.lost || !this.vm) {
      throw new ConflictError(
        `the session's interpreter was lost: ${this.lost ?? 'it is not running'}. Its state since the last snapshot is gone; ` +
          'restore a snapshot into it or close it',
        { lost: this.lost ?? 'not running' },
      );
    }
    return this.vm;
  }

  private markLost(why: string): void {
    this.lost ??= `${why} at ${new Date().toISOString()}`;
    if (this.vm) this.loaded?.image.pool.discard(this.vm);
    this.vm = undefined;
  }

  run(code: string, o: SessionRunOptions): Promise<ExecResult> {
    return this.serial(async () => {
      if (typeof code !== 'string') throw new ValidationError('code must be a string');
      const vm = this.live();
      const { guest, image } = this.loaded!;
      const started = performance.now();
      const stdout = new BoundedOutput(o.outputBytes, o.onStdout);
      const stderr = new BoundedOutput(o.outputBytes, o.onStderr);
      const out = { stdout: (d: Uint8Array | string) => stdout.write(d), stderr: (d: Uint8Array | string) => stderr.write(d) };
      const deadline = Date.now() + o.timeoutMs;
      const req = { code, env: checkEnv(o.env), stdin: stdinBytes(o.stdin), mounts: [], memoryMb: this.memoryMb, deadline };
      const wasi = new WasiPreview1({ args: ['python3'], env: {}, stdin: req.stdin, out, mounts: baseMounts(guest), deadline });
      let r: { outcome: RuntimeOutcome; trusted: boolean };
      try {
        r = await runOnVm(vm, image, guest, req, wasi, out, deadline, o.signal, { tools: o.tools });
      } catch (e) {
        this.markLost(`its call failed (${e instanceof Error ? e.message : String(e)})`);
        throw e;
      } finally {
        wasi.close();
      }
      // a guest stopped by the watchdog or a fault is mid-instruction: nothing of it can be trusted
      const stopped = r.outcome.exitCode === EXIT.TIMEOUT || !r.trusted || r.outcome.trap?.kind === 'unknown' || r.outcome.trap?.kind === 'stack_exhausted';
      if (stopped) {
        const why = r.outcome.exitCode === EXIT.TIMEOUT ? `its call was stopped after its timeout of ${o.timeoutMs} ms` : 'its call ended the interpreter';
        this.markLost(why);
        out.stderr(`session: ${why}; the interpreter was stopped and its state since the last snapshot is lost\n`);
      }
      return this.result(r.outcome, stdout, stderr, started);
    });
  }

  snapshot(): Promise<SessionImage> {
    return this.serial(async () => {
      const vm = this.live();
      const msg = vm.readMsg();
      const size = Number(msg.memSize);
      const mem = vm.linearMemory(msg);
      // up to the last page holding a non-zero byte: memory past it is zero in any VM the image goes into
      let end = size;
      const zero = Buffer.alloc(PAGE);
      while (end > 0 && mem.read(end - PAGE, PAGE).equals(zero)) end -= PAGE;
      const bytes = new Uint8Array(mem.read(0, end));
      return { language: 'python', backend: 'hyperlight', bytes, meta: { build: buildId(this.loaded!.guest), memoryBytes: size } };
    });
  }

  restore(image: SessionImage): Promise<void> {
    return this.serial(async () => {
      this.check(image);
      if (this.vm && !this.lost) {
        await this.write(this.vm, image);
        return;
      }
      await this.start(image);
    });
  }

  /** Grows the VM's linear memory to the image's size, writes the image and zeroes the rest. */
  private async write(vm: MicroVm, image: SessionImage): Promise<void> {
    const { guest, image: py } = this.loaded!;
    const pages = Math.ceil(Math.max(image.bytes.length, Number(image.meta.memoryBytes ?? 0)) / PAGE);
    const noOutput = { stdout: () => {}, stderr: () => {} };
    const wasi = new WasiPreview1({ args: ['python3'], env: {}, stdin: new Uint8Array(0), out: noOutput, mounts: [] });
    try {
      const end = await invoke(vm, py.dispatch, guest, 'ak_py_grow', [pages], wasi, noOutput, Date.now() + CONTROL_TIMEOUT_MS);
      const have = end.kind === 'done' ? Number(end.results[0] ?? 0n) : 0;
      if (have < pages) {
        throw new ValidationError(`the image needs ${Math.ceil((pages * PAGE) / 2 ** 20)} MiB of memory; the session's limit is ${this.memoryMb} MiB`, { memoryMb: this.memoryMb });
      }
      const mem = vm.linearMemory(vm.readMsg());
      mem.write(0, image.bytes);
      // the allocator counts on memory past its break being zero
      const ZERO = Buffer.alloc(1 << 20);
      for (let at = image.bytes.length; at < mem.size; at += ZERO.length) mem.write(at, ZERO.subarray(0, Math.min(ZERO.length, mem.size - at)));
    } finally {
      wasi.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain.catch(() => undefined);
    // back to the pool: its reset brings the VM back to the clean interpreter
    if (this.vm) this.loaded?.image.pool.release(this.vm);
    this.vm = undefined;
  }
}
