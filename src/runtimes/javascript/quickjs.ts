/**
 * JavaScript: QuickJS compiled to WebAssembly (quickjs-emscripten, release-sync build). The Wasm module is
 * loaded once per process with one runtime, context and prelude, whose linear memory is copied once (the clean
 * state) and written back after every run, so nothing a run defines survives it and no run pays for making a
 * context or parsing the prelude again. Limits are QuickJS's own: a heap cap (an out-of-memory ends the run with exit 137), a
 * stack cap below Node's own stack, and an interrupt handler that stops the run at its deadline (exit 124).
 *
 * The guest sees the prelude (console, a minimal process, timers) and nothing of the host. The host drives a
 * small event loop: microtasks (promise jobs) after the script and after each timer, timers in due order.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, type GuestError } from '../../core/types.js';
import { guestCwd } from '../command.js';
import type { CodeRequest, CodeRuntime, OutputSink, RuntimeOutcome } from '../types.js';
import { QuickJsEngine } from './engine.js';
import { PRELUDE_SOURCE } from './prelude.js';
import { copyUsed, writeImage } from '../session.js';

const MiB = 1024 * 1024;
/** QuickJS's stack limit: well below what Node's own stack allows for Wasm frames, so deep recursion becomes a
 * catchable JS "stack overflow" inside the guest instead of a RangeError in the host. */
const MAX_STACK_BYTES = 256 * 1024;

/** Why a run stopped early, decided by the host callbacks. */
export interface StopState {
  exitRequested: boolean;
  exitCode: number;
  timedOut: boolean;
}


class GuestExit extends Error {}

/** A runtime and context with the prelude parsed (not yet run). */
export function newContext(engine: QuickJsEngine): { rt: QuickJSRuntime; ctx: QuickJSContext; prelude: QuickJSHandle } {
  const rt = engine.module.newRuntime();
  rt.setMaxStackSize(MAX_STACK_BYTES);
  const ctx = rt.newContext();
  const prelude = ctx.unwrapResult(ctx.evalCode(PRELUDE_SOURCE, 'prelude.js', { type: 'global', strict: true }));
  return { rt, ctx, prelude };
}

/**
 * The host functions handed to the prelude. They serve whichever run is current, so a context that outlives a run
 * (a session) keeps one set: its functions are created once and their ids stay what its memory image refers to.
 */
export class HostBridge {
  run?: GuestRun;
  /** Synchronous call of a host tool (sessions only): returns the answer line. */
  callTool?: (name: string, argsJson: string) => string;
  readonly host: QuickJSHandle;

  constructor(ctx: QuickJSContext) {
    const host = ctx.newObject();
    const fn = (name: string, impl: (run: GuestRun, ...args: QuickJSHandle[]) => QuickJSHandle | void): void => {
      const f = ctx.newFunction(name, (...args) => (this.run ? impl(this.run, ...args) : undefined));
      ctx.setProp(host, name, f);
      f.dispose();
    };
    fn('write', (run, fd, text) => run.write(ctx.getNumber(fd), ctx.getString(text)));
    fn('writeBytes', (run, fd, buf) => {
      const bytes = ctx.getArrayBuffer(buf);
      try {
        run.write(ctx.getNumber(fd), bytes.value.slice());
      } finally {
        bytes.dispose();
      }
    });
    fn('exit', (run, code) => run.exit(ctx.getNumber(code)));
    fn('stdin', (run) => ctx.newString(Buffer.from(run.req.stdin).toString('utf8')));
    fn('callTool', (_run, name, args) => {
      if (!this.callTool) throw new Error('no tools are available here');
      return ctx.newString(this.callTool(ctx.getString(name), ctx.getString(args)));
    });
    this.host = host;
  }
}

/**
 * The interpreter every run of a QuickJsRuntime uses: one runtime, context, prelude and host bridge, made once, and
 * the image of linear memory taken right after (the clean state). After each run the image is written back, so
 * the next run starts from exactly that state without re-creating and re-parsing anything (the JavaScript-side
 * objects of the library were all made before the image, as for sessions).
 */
interface CleanInterpreter {
  /** What the interrupt handler (set once, before the image: the library enables it in C only the first time) checks. */
  current: { stop: StopState; deadline?: number } | undefined;
  engine: QuickJsEngine;
  rt: QuickJSRuntime;
  ctx: QuickJSContext;
  prelude: QuickJSHandle;
  bridge: HostBridge;
  image: Uint8Array;
}

export class QuickJsRuntime implements CodeRuntime {
  readonly language = 'javascript' as const;
  private engine?: Promise<QuickJsEngine>;
  private interpreter?: CleanInterpreter;
  /** one run at a time: they share the interpreter */
  private queue: Promise<unknown> = Promise.resolve();
  /** the memory reset of the last run, done between runs; flushed before the next */
  private pendingReset?: () => void;

  async prepare(): Promise<void> {
    await this.ready();
  }

  private async getEngine(): Promise<QuickJsEngine> {
    let e = this.engine ? await this.engine : undefined;
    if (!e || e.isRetired) {
      this.engine = QuickJsEngine.load();
      try {
        e = await this.engine;
      } catch (err) {
        this.engine = undefined;
        throw err;
      }
    }
    return e;
  }

  /** The interpreter in its clean state (made on first use, and again after its engine was retired). */
  private async ready(): Promise<CleanInterpreter> {
    this.flushReset();
    const engine = await this.getEngine();
    if (this.interpreter?.engine === engine) return this.interpreter;
    const { rt, ctx, prelude } = newContext(engine);
    const bridge = new HostBridge(ctx);
    const it: CleanInterpreter = { current: undefined, engine, rt, ctx, prelude, bridge, image: new Uint8Array(0) };
    rt.setInterruptHandler(() => {
      const c = it.current;
      if (!c) return false;
      if (c.stop.exitRequested) return true;
      if (c.deadline !== undefined && Date.now() > c.deadline) {
        c.stop.timedOut = true;
        return true;
      }
      return false;
    });
    // handles the library caches on first use: made now, so that they exist in the image
    void ctx.global;
    it.image = copyUsed(engine.linearMemory.buffer);
    this.interpreter = it;
    return it;
  }

  private flushReset(): void {
    const reset = this.pendingReset;
    this.pendingReset = undefined;
    reset?.();
  }

  run(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    const result = this.queue.then(() => this.runExclusive(req, out));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runExclusive(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    const it = await this.ready();
    const { engine, rt, ctx } = it;
    const stop: StopState = { exitRequested: false, exitCode: 0, timedOut: false };
    const release = engine.admit(req.memoryMb);
    // an Emscripten exit inside the module would set the host's process.exitCode: keep the host's own
    const hostExitCode = process.exitCode;
    let healthy = true;
    try {
      rt.setMemoryLimit(Math.max(1, Math.floor(req.memoryMb * MiB)));
      it.current = { stop, ...(req.deadline !== undefined ? { deadline: req.deadline } : {}) };
      return await new GuestRun(ctx, rt, it.prelude, req, out, stop, { bridge: it.bridge }).execute();
    } catch (e) {
      // the host's own stack or the Wasm module gave out mid-call: its state cannot be trusted any more
      healthy = false;
      engine.retire();
      this.interpreter = undefined;
      const message = e instanceof Error ? e.message : String(e);
      const stackExhausted = e instanceof RangeError;
      out.stderr(`${stackExhausted ? 'RangeError: Maximum call stack size exceeded' : `InternalError: ${message}`}\n`);
      return { exitCode: EXIT.TRAP, trap: { kind: stackExhausted ? 'stack_exhausted' : 'unknown', message } };
    } finally {
      it.current = undefined;
      process.exitCode = hostExitCode;
      release();
      if (healthy) {
        // back to the clean state once the caller has the result (the next run flushes it first)
        this.pendingReset = () => {
          try {
            writeImage(engine.linearMemory.buffer, it.image);
          } catch {
            engine.retire();
            this.interpreter = undefined;
          }
        };
        setImmediate(() => this.flushReset());
      }
    }
  }
}

/** What a session's runs share: the bridge made with its context, and a step after the prelude (e.g. `tools`). */
export interface GuestRunOptions {
  bridge?: HostBridge;
  afterPrelude?: (ctx: QuickJSContext, host: QuickJSHandle) => void;
}

/** One run inside a context: owns every handle it creates and frees them all. */
export class GuestRun {
  private readonly handles: QuickJSHandle[] = [];
  private tickFn?: QuickJSHandle;
  private formatErrorFn?: QuickJSHandle;
  private exitCodeFn?: QuickJSHandle;

  constructor(
    private readonly ctx: QuickJSContext,
    private readonly rt: QuickJSRuntime,
    private readonly prelude: QuickJSHandle,
    readonly req: CodeRequest,
    private readonly out: OutputSink,
    private readonly stop: StopState,
    private readonly opts: GuestRunOptions = {},
  ) {}

  write(fd: number, data: string | Uint8Array): void {
    if (this.stop.exitRequested) return;
    if (fd === 2) this.out.stderr(data);
    else this.out.stdout(data);
  }

  exit(code: number): never {
    this.stop.exitCode = code & 0xff;
    this.stop.exitRequested = true;
    // unwinds the guest; if it catches this, the interrupt handler ends the run at its next check
    throw new GuestExit('process.exit');
  }

  private keep<T extends QuickJSHandle>(h: T): T {
    this.handles.push(h);
    return h;
  }

  async execute(): Promise<RuntimeOutcome> {
    try {
      this.installPrelude();
      const script = this.req.scriptPath;
      const filename = !script ? '[eval]' : script === '-' ? '[stdin]' : script;
      const evaluated = this.evaluate(filename);
      if (evaluated.error) return this.finish(this.keep(evaluated.error));
      // the completion value: a promise there (`main()` last, or a module's evaluation) is watched for rejection
      const completion = this.keep(evaluated.value);
      const failure = await this.eventLoop();
      if (failure) return this.finish(failure);
      if (!this.stop.exitRequested && !this.stop.timedOut) {
        const state = this.ctx.typeof(completion) === 'object' ? this.ctx.getPromiseState(completion) : undefined;
        if (state?.type === 'rejected') return this.finish(this.keep(state.error));
        if (state && 'value' in state && state.value && state.value !== completion) this.keep(state.value);
      }
      return this.finish();
    } finally {
      if (this.opts.bridge?.run === this) this.opts.bridge.run = undefined;
      for (const h of this.handles.reverse()) if (h.alive) h.dispose();
    }
  }

  /**
   * Script code runs as a global script, like `node -e`; code that only parses as a module (import/export or
   * top-level await) runs as one, as Node's module detection does. A failed parse ran nothing, so retrying is safe.
   */
  private evaluate(filename: string): ReturnType<QuickJSContext['evalCode']> {
    const { ctx, req } = this;
    const asModule = () => ctx.evalCode(req.code, filename, { type: 'module', backtraceBarrier: true });
    if (filename.endsWith('.mjs')) return asModule();
    const r = ctx.evalCode(req.code, filename, { type: 'global', backtraceBarrier: true });
    if (!r.error || !/\b(import|export|await)\b/.test(req.code)) return r;
    const name = ctx.getProp(r.error, 'name');
    const isSyntax = ctx.typeof(name) === 'string' && ctx.getString(name) === 'SyntaxError';
    name.dispose();
    if (!isSyntax) return r;
    r.error.dispose();
    return asModule();
  }

  private installPrelude(): void {
    const { ctx } = this;
    let bridge = this.opts.bridge;
    if (!bridge) {
      bridge = new HostBridge(ctx);
      this.keep(bridge.host);
    }
    bridge.run = this;
    const host = bridge.host;

    const config = JSON.stringify({
      argv: ['node', this.req.scriptPath ?? '[eval]', ...(this.req.args ?? [])],
      env: { ...this.req.env },
      cwd: guestCwd(this.req),
    });
    const configHandle = this.keep(ctx.newString(config));
    const api = this.keep(ctx.unwrapResult(ctx.callFunction(this.prelude, ctx.undefined, host, configHandle)));
    this.tickFn = this.keep(ctx.getProp(api, 'tick'));
    this.formatErrorFn = this.keep(ctx.getProp(api, 'formatError'));
    this.exitCodeFn = this.keep(ctx.getProp(api, 'exitCode'));
    this.opts.afterPrelude?.(ctx, host);
  }

  /** Runs microtasks and timers until none are left. Returns the error handle of an uncaught exception, if any. */
  private async eventLoop(): Promise<QuickJSHandle | undefined> {
    const { ctx, rt, stop, req } = this;
    for (;;) {
      while (rt.hasPendingJob()) {
        const r = rt.executePendingJobs(-1);
        if (r.error) return this.keep(r.error);
        if (stop.exitRequested || stop.timedOut) return undefined;
      }
      if (stop.exitRequested || stop.timedOut) return undefined;
      const t = ctx.callFunction(this.tickFn!, ctx.undefined);
      if (t.error) return this.keep(t.error);
      const next = ctx.getNumber(t.value);
      t.value.dispose();
      if (next < 0 && !rt.hasPendingJob()) return undefined;
      if (next > 0) {
        const left = req.deadline === undefined ? next : Math.min(next, req.deadline - Date.now());
        if (left <= 0 && req.deadline !== undefined && Date.now() >= req.deadline) {
          stop.timedOut = true;
          return undefined;
        }
        await sleep(Math.max(0, left));
      }
    }
  }

  /** Turns the end state into an outcome, printing an uncaught exception the way Node does. */
  private finish(errorHandle?: QuickJSHandle): RuntimeOutcome {
    const { stop, out } = this;
    if (stop.exitRequested) return { exitCode: stop.exitCode };
    if (stop.timedOut) {
      out.stderr('timeout: the run was stopped at its deadline\n');
      return { exitCode: EXIT.TIMEOUT };
    }
    if (!errorHandle) return { exitCode: this.guestExitCode() };
    const error = this.describe(errorHandle);
    if (error.name === 'InternalError' && error.message === 'out of memory') {
      const message = `memory limit of ${this.req.memoryMb} MiB reached`;
      out.stderr(`${error.traceback}\n${message}\n`);
      return { exitCode: EXIT.MEMORY, trap: { kind: 'memory_limit', message }, error };
    }
    out.stderr(`${error.traceback}\n`);
    return { exitCode: EXIT.EXCEPTION, error };
  }

  private guestExitCode(): number {
    const r = this.ctx.callFunction(this.exitCodeFn!, this.ctx.undefined);
    if (r.error) {
      r.error.dispose();
      return 0;
    }
    const code = this.ctx.getNumber(r.value) & 0xff;
    r.value.dispose();
    return code;
  }

  private describe(errorHandle: QuickJSHandle): GuestError {
    const { ctx } = this;
    // formatted inside the guest (it knows Error objects); after an out-of-memory that may fail: dump instead
    const r = this.formatErrorFn ? ctx.callFunction(this.formatErrorFn, ctx.undefined, errorHandle) : undefined;
    if (r && !r.error) {
      const text = ctx.getString(r.value);
      r.value.dispose();
      const j = JSON.parse(text) as { name: string; message: string; text: string };
      return { name: j.name, message: j.message, traceback: j.text };
    }
    r?.error?.dispose();
    const d = ctx.dump(errorHandle) as { name?: unknown; message?: unknown; stack?: unknown } | unknown;
    if (d && typeof d === 'object') {
      const o = d as { name?: unknown; message?: unknown; stack?: unknown };
      const name = String(o.name ?? 'Error');
      const message = String(o.message ?? '');
      return { name, message, traceback: `${name}: ${message}${typeof o.stack === 'string' && o.stack ? `\n${o.stack.replace(/\n$/, '')}` : ''}` };
    }
    return { name: 'Error', message: String(d), traceback: `Uncaught ${String(d)}` };
  }
}
