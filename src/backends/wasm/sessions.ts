/**
 * Code sessions on the wasm backend: each session is a worker of its own (jailed like every worker, never pooled)
 * that keeps one interpreter alive between calls. Calls go through the backend's ordinary dispatch, so limits,
 * output caps, timeouts and isolation reports are those of runCode. A call that ends the worker (a hard timeout,
 * the memory cap, a crash, an abort) loses the interpreter: the session says so on every later call until an
 * image is restored into a fresh worker. Images live in the host (the caller keeps them), so they survive that.
 * Whoever opened a session closes it (the kernel, at its close); a worker also ends when its host process does.
 */
import { AgentKernelError, UnavailableError, UnsupportedError, ValidationError, isAgentKernelError } from '../../core/errors.js';
import type { ExecResult, Language, SessionHandle, SessionImage, SessionRunOptions, SessionSupport, ToolHost } from '../../core/types.js';
import { toolAnswer } from '../../runtimes/session.js';
import type { Dispatch } from './backend.js';
import type { Jail } from './jail/index.js';
import { runnerLaunch, type LaunchOptions } from './launch.js';
import type { PythonSnapshot } from './snapshot.js';
import { TOOL_FD, WorkerProcess } from './worker-process.js';
import type { SessionJob, SessionOutcome } from './worker/protocol.js';
import { SessionHolder } from '../session-holder.js';

const LANGUAGES: Language[] = ['javascript', 'python'];
/** Opening (Pyodide loads in the worker), snapshot and restore are bounded by this. */
const CONTROL_TIMEOUT_MS = 60_000;
/** The longest request line a guest may send on the tool channel. */
const MAX_TOOL_REQUEST = 1024 * 1024;

export interface SessionDeps {
  jail: Jail;
  launch: LaunchOptions;
  python: PythonSnapshot;
  dispatch(d: Dispatch, pinned: WorkerProcess): Promise<ExecResult>;
}

let seq = 0;

export class WasmSessions implements SessionSupport {
  readonly languages = LANGUAGES;

  constructor(private readonly deps: SessionDeps) {}

  async open(language: Language, o: { memoryMb: number; image?: SessionImage }): Promise<SessionHandle> {
    if (!LANGUAGES.includes(language)) throw new UnsupportedError(`sessions on the wasm backend are for ${LANGUAGES.join(' and ')}, not ${language}`);
    if (o.image) checkImage(o.image, language);
    const s = new WasmSession(this.deps, language, o.memoryMb);
    await s.start(o.image);
    return s;
  }
}

function checkImage(image: SessionImage, language: Language): void {
  if (image.backend !== 'wasm') throw new ValidationError(`this image is of a ${image.backend} session, not a wasm one`);
  if (image.language !== language) throw new ValidationError(`this image is of a ${image.language} session, not a ${language} one`);
}

class WasmSession implements SessionHandle {
  /** The session's worker; losing it loses the interpreter's state since the last image. */
  private readonly worker = new SessionHolder<WorkerProcess>((w) => w.kill('close'));
  /** The running call's tools (the channel answers only while a call runs). */
  private tools?: ToolHost;

  constructor(
    private readonly deps: SessionDeps,
    readonly language: Language,
    private readonly memoryMb: number,
  ) {}

  /** A fresh worker with the interpreter set up, from an image when one is given. */
  async start(image?: SessionImage): Promise<void> {
    if (this.language === 'python') await this.deps.python.ensure();
    const base = runnerLaunch([], { ...this.deps.launch, prewarm: [] });
    const launch = { ...base, scriptArgs: [...base.scriptArgs, `--tool-fd=${TOOL_FD}`], name: `${base.name}-session-${++seq}` };
    const w = await WorkerProcess.start(this.deps.jail, launch, `session-${seq}`, 30_000, { toolChannel: true });
    try {
      this.serveTools(w);
      await this.control(w, { kind: 'session-open', language: this.language, ...(image ? { image: { bytes: image.bytes, meta: image.meta } } : {}) });
    } catch (e) {
      w.kill('close');
      throw e;
    }
    this.worker.hold(w);
  }

  private async control(w: WorkerProcess, job: SessionJob): Promise<SessionOutcome> {
    const end = await w.run(job, { outputBytes: 4096, memoryMb: this.memoryMb, hardTimeoutMs: CONTROL_TIMEOUT_MS, onOutput: () => {} });
    if (end.kind !== 'done') {
      this.markLost(`its worker was stopped during ${job.kind.slice('session-'.length)} (${end.reason})`);
      throw new UnavailableError(`the session's ${job.kind.slice('session-'.length)} failed: its worker was stopped (${end.reason})`);
    }
    return end.outcome as SessionOutcome;
  }

  /** A worker whose interpreter ended answers every job with CONFLICT and `lost`: the session is then lost. */
  private async guard<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      if (isAgentKernelError(e) && e.code === 'CONFLICT' && typeof e.details?.lost === 'string') {
        this.markLost(`its interpreter ended (${e.details.lost})`);
        return this.worker.live() as never;
      }
      throw e;
    }
  }

  private markLost(why: string): void {
    this.worker.markLost(why);
  }

  run(code: string, o: SessionRunOptions): Promise<ExecResult> {
    return this.worker.serial(async () => {
      if (typeof code !== 'string') throw new ValidationError('code must be a string');
      const w = this.worker.live();
      this.tools = o.tools;
      let result: ExecResult;
      try {
        result = await this.guard(this.deps.dispatch({
          mounts: [], limits: { timeoutMs: o.timeoutMs, memoryMb: o.memoryMb, outputBytes: o.outputBytes }, hooks: o, env: o.env, stdin: o.stdin,
          job: (req) => ({ kind: 'session-run', code, tools: o.tools?.names ?? [], req }),
        }, w));
      } catch (e) {
        if (w.state === 'dead') this.markLost(`its call ended the interpreter (${e instanceof Error ? e.message : String(e)})`);
        throw e;
      } finally {
        this.tools = undefined;
      }
      if (w.state === 'dead') {
        const why = result.timedOut ? `its call was stopped after its timeout of ${o.timeoutMs} ms` : result.trap?.kind === 'memory_limit' ? 'its call exceeded the memory limit' : 'its call ended the interpreter';
        this.markLost(why);
        const note = `session: ${why}; the interpreter was stopped and its state since the last snapshot is lost\n`;
        return { ...result, stderr: result.stderr + note };
      }
      return result;
    });
  }

  snapshot(): Promise<SessionImage> {
    return this.worker.serial(async () => {
      const out = await this.guard(this.control(this.worker.live(), { kind: 'session-snapshot' }));
      if (!out.image) throw new AgentKernelError('INTERNAL', 'the worker sent no image');
      return { language: this.language, backend: 'wasm' as const, bytes: out.image.bytes, meta: out.image.meta };
    });
  }

  restore(image: SessionImage): Promise<void> {
    return this.worker.serial(async () => {
      checkImage(image, this.language);
      const w = this.worker.current;
      if (w) {
        try {
          await this.guard(this.control(w, { kind: 'session-restore', image: { bytes: image.bytes, meta: image.meta } }));
          return;
        } catch (e) {
          if (!this.worker.isLost) throw e;
        }
      }
      await this.start(image);
    });
  }

  async close(): Promise<void> {
    const w = await this.worker.close({ wait: false });
    if (w) {
      w.kill('close');
      await w.exitedPromise();
    }
  }

  /** Answers the guest's tool calls: one JSON line in, one out, only for tools of the running call. */
  private serveTools(w: WorkerProcess): void {
    const sock = w.toolSocket;
    if (!sock) throw new AgentKernelError('INTERNAL', 'the session worker has no tool channel');
    (sock as unknown as { unref?: () => void }).unref?.();
    sock.on('error', () => {});
    let pending = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      pending += chunk;
      if (pending.length > MAX_TOOL_REQUEST && !pending.includes('\n')) {
        sock.destroy();
        return;
      }
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        void this.answer(line).then((a) => sock.write(`${a}\n`));
      }
    });
  }

  private async answer(line: string): Promise<string> {
    try {
      const { name, args } = JSON.parse(line) as { name: string; args: string };
      const tools = this.tools;
      if (!tools || typeof name !== 'string' || !tools.names.includes(name)) {
        return toolAnswer({ error: `no tool named '${String(name)}' is registered` });
      }
      if (args.length > MAX_TOOL_REQUEST) return toolAnswer({ error: `the arguments of '${name}' are larger than ${MAX_TOOL_REQUEST} bytes` });
      return toolAnswer({ json: await tools.call(name, args) });
    } catch (e) {
      return toolAnswer({ error: e instanceof Error ? e.message : String(e) });
    }
  }
}
