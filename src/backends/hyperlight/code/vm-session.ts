/**
 * Code sessions in the micro-VM (Python and JavaScript): a session is a VM of its own, taken from the interpreter
 * image's pool and never reset between calls, so what one call defines (Python's `__main__` and modules, JavaScript's
 * globals) is there for the next. An image of a session is its linear memory (up to its last non-zero page), as in
 * the `wasm` backend's sessions: written back into a session's VM, or a fresh one (fork), it brings back the whole
 * interpreter. The interpreters' objects the driver keeps outside linear memory are made at init, before the
 * snapshot, so they are the same in every VM of the image. The host's WASI state (open files) is per call.
 *
 * A call the VM cannot finish cleanly (a timeout stops the guest mid-instruction, a fault) loses the session's state:
 * its VM is discarded and later calls say so until an image is restored.
 */
import { createHash } from 'node:crypto';
import { UnsupportedError, ValidationError } from '../../../core/errors.js';
import { BoundedOutput } from '../../../core/output.js';
import {
  EXIT, type ExecResult, type Language, type SessionHandle, type SessionImage, type SessionRunOptions, type SessionSupport, type ToolHost,
} from '../../../core/types.js';
import type { CodeRequest, OutputSink, RuntimeOutcome } from '../../../runtimes/types.js';
import { WasiPreview1 } from '../../../runtimes/wasi/wasi.js';
import { SessionHolder } from '../../session-holder.js';
import { checkEnv, stdinBytes } from '../../wasm/request.js';
import type { MicroVm, VmPool } from '../vmm.js';
import * as js from './javascript.js';
import * as py from './python.js';

const PAGE = 65536;
/** Restoring an image is bounded by this. */
const CONTROL_TIMEOUT_MS = 60_000;
const NO_OUTPUT: OutputSink = { stdout: () => {}, stderr: () => {} };

/** Builds an ExecResult from a run's outcome and its bounded output (the backend's own result shape). */
export type ResultOf = (r: RuntimeOutcome, stdout: BoundedOutput, stderr: BoundedOutput, started: number) => ExecResult;

/** What a session needs of an interpreter in the micro-VM. */
interface Interpreter {
  /** The pool of VMs of the clean interpreter, and what names the guest build. */
  load(memoryMb: number): Promise<{ pool: VmPool; key: string }>;
  run(vm: MicroVm, req: CodeRequest, out: OutputSink, tools: ToolHost | undefined, signal?: AbortSignal): Promise<{ outcome: RuntimeOutcome; trusted: boolean }>;
  /** Grows linear memory to at least `pages`; returns its pages. */
  grow(vm: MicroVm, pages: number, memoryMb: number): Promise<number>;
}

function pythonInterpreter(python: py.MicroVmPython): Interpreter {
  return {
    async load(memoryMb) {
      const { guest, image } = await python.loaded(memoryMb);
      return { pool: image.pool, key: guest.guest.key };
    },
    async run(vm, req, out, tools, signal) {
      const { guest, image } = await python.loaded(req.memoryMb);
      const wasi = new WasiPreview1({ args: ['python3'], env: {}, stdin: req.stdin, out, mounts: py.baseMounts(guest), deadline: req.deadline });
      try {
        return await py.runOnVm(vm, image, guest, req, wasi, out, req.deadline!, signal, { tools });
      } finally {
        wasi.close();
      }
    },
    async grow(vm, pages, memoryMb) {
      const { guest, image } = await python.loaded(memoryMb);
      const wasi = new WasiPreview1({ args: ['python3'], env: {}, stdin: new Uint8Array(0), out: NO_OUTPUT, mounts: [] });
      try {
        const end = await py.invoke(vm, image.dispatch, guest, 'ak_py_grow', [pages], wasi, NO_OUTPUT, Date.now() + CONTROL_TIMEOUT_MS);
        return end.kind === 'done' ? Number(end.results[0] ?? 0n) : 0;
      } finally {
        wasi.close();
      }
    },
  };
}

function javascriptInterpreter(javascript: js.MicroVmJavaScript): Interpreter {
  const loaded = async (memoryMb: number) => ({ guest: await javascript.guest(), image: await javascript.image(memoryMb) });
  return {
    async load(memoryMb) {
      const { guest, image } = await loaded(memoryMb);
      return { pool: image.pool, key: guest.guest.key };
    },
    async run(vm, req, out, tools, signal) {
      const { guest, image } = await loaded(req.memoryMb);
      return js.runOnVm(vm, image, guest, req, out, req.deadline!, signal, { tools });
    },
    async grow(vm, pages, memoryMb) {
      const { guest, image } = await loaded(memoryMb);
      const end = await js.invoke(vm, image, guest, 'ak_js_grow', [pages], undefined, NO_OUTPUT, Date.now() + CONTROL_TIMEOUT_MS);
      return end.kind === 'done' ? Number(end.msg.results[0] ?? 0n) : 0;
    },
  };
}

/** Names the guest build an image was taken from (an image only fits the interpreter it came from). */
function buildId(key: string): number {
  return parseInt(createHash('sha256').update(key).digest('hex').slice(0, 8), 16);
}

export class HyperlightSessions implements SessionSupport {
  readonly languages: Language[] = ['python', 'javascript'];
  readonly #interpreters: Record<'python' | 'javascript', Interpreter>;

  constructor(
    runtimes: { python: py.MicroVmPython; javascript: js.MicroVmJavaScript },
    /** Whether each interpreter's guest is built (until then sessions are refused, as runCode is). */
    private readonly prepared: (language: 'python' | 'javascript') => boolean,
    private readonly result: ResultOf,
  ) {
    this.#interpreters = { python: pythonInterpreter(runtimes.python), javascript: javascriptInterpreter(runtimes.javascript) };
  }

  async open(language: Language, o: { memoryMb: number; image?: SessionImage }): Promise<SessionHandle> {
    if (language !== 'python' && language !== 'javascript') {
      throw new UnsupportedError(`sessions on the hyperlight backend are for python and javascript, not ${language}`, { backend: 'hyperlight', language });
    }
    if (!this.prepared(language)) {
      const what = language === 'python' ? 'CPython is not built' : 'QuickJS is not compiled';
      throw new UnsupportedError(`${what} for the micro-VM yet: run 'agentkernel setup' (once per installation)`, { backend: 'hyperlight', language });
    }
    const s = new VmSession(language, this.#interpreters[language], o.memoryMb, this.result);
    await s.start(o.image);
    return s;
  }
}

class VmSession implements SessionHandle {
  private loaded?: { pool: VmPool; key: string };
  private readonly vm = new SessionHolder<MicroVm>((vm) => this.loaded?.pool.discard(vm));

  constructor(
    readonly language: 'python' | 'javascript',
    private readonly interpreter: Interpreter,
    private readonly memoryMb: number,
    private readonly result: ResultOf,
  ) {}

  /** A VM from the clean interpreter's pool, with an image written into it when one is given. */
  async start(image?: SessionImage): Promise<void> {
    this.loaded ??= await this.interpreter.load(this.memoryMb);
    if (image) this.check(image);
    const vm = await this.loaded.pool.acquire();
    try {
      if (image) await this.write(vm, image);
    } catch (e) {
      this.loaded.pool.discard(vm);
      throw e;
    }
    this.vm.hold(vm);
  }

  private check(image: SessionImage): void {
    if (image.backend !== 'hyperlight') throw new ValidationError(`this image is of a ${image.backend} session, not a hyperlight one`);
    if (image.language !== this.language) throw new ValidationError(`this image is of a ${image.language} session, not a ${this.language} one`);
    if (image.meta.build !== buildId(this.loaded!.key)) {
      throw new ValidationError('this image was taken from another build of the interpreter for the micro-VM; it cannot be restored into this one');
    }
  }

  run(code: string, o: SessionRunOptions): Promise<ExecResult> {
    return this.vm.serial(async () => {
      if (typeof code !== 'string') throw new ValidationError('code must be a string');
      const vm = this.vm.live();
      const started = performance.now();
      const stdout = new BoundedOutput(o.outputBytes, o.onStdout);
      const stderr = new BoundedOutput(o.outputBytes, o.onStderr);
      const out = { stdout: (d: Uint8Array | string) => stdout.write(d), stderr: (d: Uint8Array | string) => stderr.write(d) };
      const req: CodeRequest = {
        code, env: checkEnv(o.env), stdin: stdinBytes(o.stdin), mounts: [], memoryMb: this.memoryMb, deadline: Date.now() + o.timeoutMs,
      };
      let r: { outcome: RuntimeOutcome; trusted: boolean };
      try {
        r = await this.interpreter.run(vm, req, out, o.tools, o.signal);
      } catch (e) {
        this.vm.markLost(`its call failed (${e instanceof Error ? e.message : String(e)})`);
        throw e;
      }
      // a guest stopped by the watchdog or a fault is mid-instruction: nothing of it can be trusted
      const stopped = r.outcome.exitCode === EXIT.TIMEOUT || !r.trusted || r.outcome.trap?.kind === 'unknown' || r.outcome.trap?.kind === 'stack_exhausted';
      if (stopped) {
        const why = r.outcome.exitCode === EXIT.TIMEOUT ? `its call was stopped after its timeout of ${o.timeoutMs} ms` : 'its call ended the interpreter';
        this.vm.markLost(why);
        out.stderr(`session: ${why}; the interpreter was stopped and its state since the last snapshot is lost\n`);
      }
      return this.result(r.outcome, stdout, stderr, started);
    });
  }

  snapshot(): Promise<SessionImage> {
    return this.vm.serial(async () => {
      const vm = this.vm.live();
      const msg = vm.readMsg();
      const size = Number(msg.memSize);
      const mem = vm.linearMemory(msg);
      // up to the last page holding a non-zero byte: memory past it is zero in any VM the image goes into
      let end = size;
      const zero = Buffer.alloc(PAGE);
      while (end > 0 && mem.read(end - PAGE, PAGE).equals(zero)) end -= PAGE;
      const bytes = new Uint8Array(mem.read(0, end));
      return { language: this.language, backend: 'hyperlight', bytes, meta: { build: buildId(this.loaded!.key), memoryBytes: size } };
    });
  }

  restore(image: SessionImage): Promise<void> {
    return this.vm.serial(async () => {
      this.check(image);
      const vm = this.vm.current;
      if (vm) {
        await this.write(vm, image);
        return;
      }
      await this.start(image);
    });
  }

  /** Grows the VM's linear memory to the image's size, writes the image and zeroes the rest. */
  private async write(vm: MicroVm, image: SessionImage): Promise<void> {
    const pages = Math.ceil(Math.max(image.bytes.length, Number(image.meta.memoryBytes ?? 0)) / PAGE);
    const have = await this.interpreter.grow(vm, pages, this.memoryMb);
    if (have < pages) {
      throw new ValidationError(`the image needs ${Math.ceil((pages * PAGE) / 2 ** 20)} MiB of memory; the session's limit is ${this.memoryMb} MiB`, { memoryMb: this.memoryMb });
    }
    const mem = vm.linearMemory(vm.readMsg());
    mem.write(0, image.bytes);
    // the allocator counts on memory past its break being zero
    const ZERO = Buffer.alloc(1 << 20);
    for (let at = image.bytes.length; at < mem.size; at += ZERO.length) mem.write(at, ZERO.subarray(0, Math.min(ZERO.length, mem.size - at)));
  }

  async close(): Promise<void> {
    const vm = await this.vm.close({ wait: true });
    // back to the pool: its reset brings the VM back to the clean interpreter
    if (vm) this.loaded?.pool.release(vm);
  }
}
