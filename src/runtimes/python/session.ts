/**
 * A Python session: a Pyodide interpreter of its own whose `__main__` is kept from call to call and which is never
 * reset. Its image is its linear memory up to the program break; JavaScript-side state is made once at setup
 * (the runner, the tools bridge) and is the same in any interpreter set up the same way, which is what lets an
 * image start a fork. Files the guest writes to the in-memory filesystem live in JavaScript and are not part of
 * an image (docs/sessions.md).
 */
import type { PyodideAPI } from 'pyodide';
import { ValidationError } from '../../core/errors.js';
import { guestCwd } from '../command.js';
import { copyUsed, toolAnswer, writeImage, type InterpreterImage, type SessionInterpreter, type SessionRequest, type ToolCaller } from '../session.js';
import type { OutputSink, RuntimeOutcome } from '../types.js';
import { DeadlineWatch } from './deadline.js';
import { moduleMemory, type EmModule } from './emscripten.js';
import { outcomeOf, timedOut } from './outcome.js';
import { connectStdio, guardGrowth, installRunner, load, type RunnerFn } from './pyodide.js';
import { RUNNER_MODULE } from './runner.js';

const MiB = 1024 * 1024;
const HOST_MODULE = '_agentkernel_host';

export class PyodideSession implements SessionInterpreter {
  private readonly deadline = new DeadlineWatch();
  private capBytes = Infinity;
  private refusedGrowth = false;
  broken?: string;

  private constructor(
    private readonly py: PyodideAPI,
    private readonly m: EmModule,
    private readonly runner: RunnerFn,
  ) {}

  static async open(snapshot: Uint8Array | undefined, callTool?: ToolCaller): Promise<PyodideSession> {
    const py = await load(snapshot ? { _loadSnapshot: snapshot } : {});
    const noTools: ToolCaller = () => toolAnswer({ error: 'no tools are available here' });
    // strings only cross this bridge, so no JavaScript object is ever held by Python
    py.registerJsModule(HOST_MODULE, { call: callTool ?? noTools });
    const { m, run } = installRunner(py);
    py.runPython(`import ${HOST_MODULE}\n__import__(${JSON.stringify(RUNNER_MODULE)})._host = ${HOST_MODULE}.call\ndel ${HOST_MODULE}`);
    const s = new PyodideSession(py, m, run);
    py.setInterruptBuffer(s.deadline.interruptBuffer);
    guardGrowth(m, () => s.capBytes, () => {
      s.refusedGrowth = true;
    });
    return s;
  }

  private heapTop(): number {
    return this.m._sbrk(0) >>> 0;
  }

  async run(req: SessionRequest, out: OutputSink): Promise<RuntimeOutcome> {
    const cap = req.memoryMb * MiB;
    if (!(cap > this.heapTop())) {
      throw new ValidationError(`the session already uses ${Math.ceil(this.heapTop() / MiB)} MiB; the limit is ${req.memoryMb} MiB`, { memoryMb: req.memoryMb });
    }
    if (req.deadline !== undefined && Date.now() >= req.deadline) return timedOut(out);
    connectStdio(this.py, req.stdin, out);
    const r = { raw: undefined as string | undefined, hostError: undefined as unknown, fired: false, overCap: false, refused: false, memoryMb: req.memoryMb };
    this.capBytes = cap;
    this.refusedGrowth = false;
    if (req.deadline !== undefined) this.deadline.arm(req.deadline);
    const hostExitCode = process.exitCode;
    try {
      r.raw = this.runner(req.code, '<string>', JSON.stringify(['-c', ...(req.args ?? [])]), JSON.stringify(req.env), guestCwd(req), true, JSON.stringify(req.tools));
    } catch (e) {
      r.hostError = e;
    } finally {
      process.exitCode = hostExitCode;
      if (req.deadline !== undefined) r.fired = this.deadline.disarm();
      this.capBytes = Infinity;
    }
    r.overCap = this.heapTop() > cap;
    r.refused = this.refusedGrowth;
    // the C program ended or died: nothing of the session is left to run in
    if (r.hostError !== undefined) this.broken = r.hostError instanceof Error ? r.hostError.message : String(r.hostError);
    return outcomeOf(r, out);
  }

  snapshot(): InterpreterImage {
    return { bytes: copyUsed(moduleMemory(this.m).buffer, this.heapTop()), meta: {} };
  }

  restore(image: InterpreterImage): void {
    const missing = image.bytes.length - moduleMemory(this.m).buffer.byteLength;
    // grown through the C library's own break, so Emscripten's views follow; the image then resets the break
    if (missing > 0) this.m._sbrk(missing);
    writeImage(moduleMemory(this.m).buffer, image.bytes);
  }
}
