/**
 * A JavaScript session: one QuickJS runtime and context that live as long as the session, in a QuickJS module
 * of their own (so the module's linear memory holds this session's state and nothing else). Each call runs like
 * a fresh `node -e` script in that context: globals (`var`, functions, `globalThis.x`, top-level `let`/`const`)
 * survive; the prelude (console, process, timers) is set up again with the call's env and stdin.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten';
import { AgentKernelError } from '../../core/errors.js';
import { EXIT } from '../../core/types.js';
import { copyUsed, writeImage, type InterpreterImage, type SessionInterpreter, type SessionRequest, type ToolCaller } from '../session.js';
import type { OutputSink, RuntimeOutcome } from '../types.js';
import { QuickJsEngine } from './engine.js';
import { GuestRun, HostBridge, newContext, type StopState } from './quickjs.js';

const MiB = 1024 * 1024;

import { TOOLS_SOURCE } from './tools-source.js';

function pointer(o: QuickJSContext | QuickJSRuntime, field: 'ctx' | 'rt'): number {
  return (o as unknown as Record<string, { value: number }>)[field]!.value;
}

export class QuickJsSession implements SessionInterpreter {
  /** Set when the interpreter's state can no longer be trusted; every later run is refused with it. */
  broken?: string;

  private constructor(
    private readonly engine: QuickJsEngine,
    private readonly rt: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
    private readonly prelude: QuickJSHandle,
    private readonly bridge: HostBridge,
    private readonly installTools: QuickJSHandle,
  ) {}

  static async open(callTool?: ToolCaller): Promise<QuickJsSession> {
    const engine = await QuickJsEngine.load();
    const { rt, ctx, prelude } = newContext(engine);
    const bridge = new HostBridge(ctx);
    if (callTool) bridge.callTool = callTool;
    const installTools = ctx.unwrapResult(ctx.evalCode(TOOLS_SOURCE, 'tools.js', { type: 'global', strict: true }));
    // handles the library caches on first use: made now, so that they exist in every image and every fork
    void ctx.global;
    return new QuickJsSession(engine, rt, ctx, prelude, bridge, installTools);
  }

  /** What a fork's fresh setup must reproduce for an image to fit it. */
  private meta(): Record<string, number> {
    return { rt: pointer(this.rt, 'rt'), ctx: pointer(this.ctx, 'ctx') };
  }

  async run(req: SessionRequest, out: OutputSink): Promise<RuntimeOutcome> {
    const { ctx, rt } = this;
    const stop: StopState = { exitRequested: false, exitCode: 0, timedOut: false };
    const release = this.engine.admit(req.memoryMb);
    const hostExitCode = process.exitCode;
    try {
      rt.setMemoryLimit(Math.max(1, Math.floor(req.memoryMb * MiB)));
      rt.setInterruptHandler(() => {
        if (stop.exitRequested) return true;
        if (req.deadline !== undefined && Date.now() > req.deadline) {
          stop.timedOut = true;
          return true;
        }
        return false;
      });
      const names = JSON.stringify(req.tools);
      return await new GuestRun(ctx, rt, this.prelude, req, out, stop, {
        bridge: this.bridge,
        afterPrelude: (c, host) => {
          const n = c.newString(names);
          try {
            c.unwrapResult(c.callFunction(this.installTools, c.undefined, host, n)).dispose();
          } finally {
            n.dispose();
          }
        },
      }).execute();
    } catch (e) {
      // the host's stack or the module gave out mid-call (see QuickJsRuntime.run): the state is suspect
      const message = e instanceof Error ? e.message : String(e);
      this.broken = message;
      this.engine.retire();
      out.stderr(`InternalError: ${message}\n`);
      return { exitCode: EXIT.TRAP, trap: { kind: e instanceof RangeError ? 'stack_exhausted' : 'unknown', message } };
    } finally {
      process.exitCode = hostExitCode;
      release();
    }
  }

  snapshot(): InterpreterImage {
    return { bytes: copyUsed(this.engine.linearMemory.buffer), meta: this.meta() };
  }

  restore(image: InterpreterImage): void {
    const mine = this.meta();
    for (const k of Object.keys(mine)) {
      if (image.meta[k] !== mine[k]) {
        throw new AgentKernelError('INTERNAL', `the image does not fit this interpreter (${k} at ${image.meta[k]}, here ${mine[k]})`);
      }
    }
    this.engine.growTo(image.bytes.length);
    writeImage(this.engine.linearMemory.buffer, image.bytes);
  }
}
