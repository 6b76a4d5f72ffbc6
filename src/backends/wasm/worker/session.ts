/**
 * The session side of a pinned worker: one interpreter whose state is kept between jobs, and the synchronous tool
 * channel. A guest's `tools.NAME(...)` runs synchronously inside the interpreter, so the worker writes one JSON
 * line to a dedicated descriptor (a socket the host made for this worker only) and blocks reading the answer line;
 * the host validates and runs the tool meanwhile. A tool that never answers is ended by the run's timeout, which
 * kills the worker (the session then reports its state as lost).
 */
import { readSync, writeSync } from 'node:fs';
import { AgentKernelError, ConflictError } from '../../../core/errors.js';
import type { Language } from '../../../core/types.js';
import { QuickJsSession } from '../../../runtimes/javascript/session.js';
import { PyodideSession } from '../../../runtimes/python/session.js';
import type { SessionInterpreter, ToolCaller } from '../../../runtimes/session.js';
import type { OutputSink, RuntimeRequest } from '../../../runtimes/types.js';
import type { SessionJob, SessionOutcome, WireRequest } from './protocol.js';

/** Longest answer line accepted from the host (the host caps tool results well below this). */
const MAX_ANSWER = 16 * 1024 * 1024;

export function toolChannel(fd: number): ToolCaller {
  let pending = Buffer.alloc(0);
  return (name, argsJson) => {
    const line = Buffer.from(`${JSON.stringify({ name, args: argsJson })}\n`, 'utf8');
    for (let off = 0; off < line.length;) off += writeSync(fd, line, off);
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const nl = pending.indexOf(10);
      if (nl >= 0) {
        const answer = pending.subarray(0, nl).toString('utf8');
        pending = pending.subarray(nl + 1);
        return answer;
      }
      if (pending.length > MAX_ANSWER) throw new Error('the answer of a tool call is too large');
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) throw new Error('the host closed the tool channel');
      pending = Buffer.concat([pending, chunk.subarray(0, n)]);
    }
  };
}

export class SessionHost {
  private interp?: SessionInterpreter;
  private language?: Language;

  constructor(
    private readonly pythonSnapshot: () => Uint8Array | undefined,
    private readonly callTool?: ToolCaller,
  ) {}

  async run(job: SessionJob, req: (w: WireRequest) => RuntimeRequest, out: OutputSink): Promise<SessionOutcome> {
    if (job.kind === 'session-open') {
      if (this.interp) throw new ConflictError('this worker already holds a session');
      this.language = job.language;
      this.interp = job.language === 'javascript'
        ? await QuickJsSession.open(this.callTool)
        : job.language === 'python'
          ? await PyodideSession.open(this.pythonSnapshot(), this.callTool)
          : undefined;
      if (!this.interp) throw new AgentKernelError('UNSUPPORTED', `no sessions for ${job.language}`);
      if (job.image) this.interp.restore(job.image);
      return { exitCode: 0 };
    }
    const interp = this.interp;
    if (!interp) throw new AgentKernelError('INTERNAL', 'this worker holds no session');
    // the host then starts a fresh worker for a restore; nothing more runs in this one
    if (interp.broken) throw new ConflictError(`the session's interpreter ended: ${interp.broken}`, { lost: interp.broken });
    switch (job.kind) {
      case 'session-run':
        return interp.run({ ...req(job.req), code: job.code, tools: job.tools }, out);
      case 'session-snapshot':
        return { exitCode: 0, image: interp.snapshot() };
      case 'session-restore':
        interp.restore(job.image);
        return { exitCode: 0 };
    }
  }
}
