/**
 * `CodeSession`: an interpreter whose state survives between calls (docs/sessions.md), in this process
 * (`CodeSession.local`) or on a running server (`CodeSession.create`). Tools — host functions the session's code
 * calls as `tools.NAME(...)` — can only be registered in this process: a tool is a function here, and a server
 * cannot call back into a client.
 *
 *   const s = await CodeSession.local('python');
 *   s.registerTool('lookup', z.object({ key: z.string() }), ({ key }) => db[key]);
 *   await s.run('x = tools.lookup(key="a")');
 *   await s.run('print(x)');                      // state kept
 */
import { randomBytes } from 'node:crypto';
import type { ExecResult, Language } from '../core/types.js';
import { UnsupportedError } from '../core/errors.js';
import type { AgentKernel } from '../service/kernel.js';
import type { SessionInfo, SnapshotInfo } from '../service/sessions.js';
import type { ToolFn, ToolInfo, ToolSchema } from '../service/tools.js';
import type { WireSessionInfo, WireSnapshotInfo } from '../api/http/sessions.js';
import { fromWireSession, fromWireSnapshot } from '../api/http/wire.js';
import type { CallOptions, ConnectionOptions, RunOptions } from './options.js';
import { HttpTransport } from './transport/http.js';
import { localTransport, type LocalOptions } from './sandbox/index.js';

export type { SessionInfo, SnapshotInfo, ToolFn, ToolInfo, ToolSchema };

export interface CodeSessionOptions extends CallOptions {
  /** @default a generated name */
  name?: string;
  /** @default 'wasm' (the backend with sessions) */
  backend?: string;
  /** Memory for the interpreter at start, MiB. @default the kernel's (or server's) limit */
  memoryMb?: number;
}

export type SessionRunOptions = Omit<RunOptions, 'cwd'>;

/** Where a session lives: an in-process kernel or a server. */
interface Place {
  create(language: Language, o: CodeSessionOptions): Promise<SessionInfo>;
  info(name: string, call: CallOptions): Promise<SessionInfo>;
  run(name: string, code: string, o: SessionRunOptions): Promise<ExecResult>;
  snapshot(name: string, snapshot: string | undefined, call: CallOptions): Promise<SnapshotInfo>;
  restore(name: string, snapshot: string | undefined, call: CallOptions): Promise<SnapshotInfo>;
  fork(name: string, o: { name?: string; snapshot?: string }, call: CallOptions): Promise<SessionInfo>;
  close(name: string, call: CallOptions): Promise<void>;
  kernel?: AgentKernel;
}

function localPlace(k: AgentKernel): Place {
  return {
    kernel: k,
    create: (language, o) => k.createSession({ name: o.name, language, backend: o.backend, memoryMb: o.memoryMb }),
    info: async (name) => k.sessions.info(name),
    run: (name, code, o) => k.runInSession(name, code, o),
    snapshot: (name, snap) => k.snapshotSession(name, snap),
    restore: (name, snap) => k.restoreSession(name, snap),
    fork: (name, o) => k.forkSession(name, o),
    close: (name) => k.closeSession(name),
  };
}

function httpPlace(t: HttpTransport): Place {
  const at = (name: string, rest = ''): string => `/sessions/${encodeURIComponent(name)}${rest}`;
  return {
    create: async (language, o) =>
      fromWireSession(await t.json<WireSessionInfo>('POST', '/sessions', o, { name: o.name, language, backend: o.backend, memory_mb: o.memoryMb })),
    info: async (name, call) => fromWireSession(await t.json<WireSessionInfo>('GET', at(name), call)),
    run: (name, code, o) => t.runAt(at(name, '/run'), {
      code, env: o.env, stdin: o.stdin, timeout_ms: o.timeoutMs, memory_mb: o.memoryMb, output_bytes: o.outputBytes,
    }, o),
    snapshot: async (name, snapshot, call) => fromWireSnapshot(await t.json<WireSnapshotInfo>('POST', at(name, '/snapshot'), call, { snapshot })),
    restore: async (name, snapshot, call) => fromWireSnapshot(await t.json<WireSnapshotInfo>('POST', at(name, '/restore'), call, { snapshot })),
    fork: async (name, o, call) => fromWireSession(await t.json<WireSessionInfo>('POST', at(name, '/fork'), call, o)),
    close: async (name, call) => {
      await t.json('DELETE', at(name), call);
    },
  };
}

export class CodeSession {
  private closed = false;

  private constructor(private readonly place: Place, private last: SessionInfo) {}

  /** A session on a running agentkernel server (no tools: see registerTool). */
  static async create(language: Language, opts: CodeSessionOptions & ConnectionOptions = {}): Promise<CodeSession> {
    const place = httpPlace(new HttpTransport(opts));
    return new CodeSession(place, await place.create(language, opts));
  }

  /** A session in this process, through AgentKernel (tools available). */
  static async local(language: Language, opts: CodeSessionOptions & LocalOptions = {}): Promise<CodeSession> {
    const place = localPlace((await localTransport(opts)).kernel);
    return new CodeSession(place, await place.create(language, { ...opts, name: opts.name ?? `s-${randomBytes(5).toString('hex')}` }));
  }

  get name(): string {
    return this.last.name;
  }

  get language(): Language {
    return this.last.language;
  }

  /** What was known at the last call that returned it. */
  get info(): SessionInfo {
    return this.last;
  }

  async getInfo(opts: CallOptions = {}): Promise<SessionInfo> {
    this.last = await this.place.info(this.name, opts);
    return this.last;
  }

  /** Run code; what it defines stays for the next call. */
  run(code: string, opts: SessionRunOptions = {}): Promise<ExecResult> {
    return this.place.run(this.name, code, opts);
  }

  /** Keep the interpreter's state under a name (default snap-N). */
  snapshot(name?: string, opts: CallOptions = {}): Promise<SnapshotInfo> {
    return this.place.snapshot(this.name, name, opts);
  }

  /** Put a snapshot back (the latest by default); also revives a session whose interpreter was lost. */
  restore(name?: string, opts: CallOptions = {}): Promise<SnapshotInfo> {
    return this.place.restore(this.name, name, opts);
  }

  /** A new session from a snapshot of this one (or from its state now); it starts with this one's tools. */
  async fork(o: { name?: string; snapshot?: string } & CallOptions = {}): Promise<CodeSession> {
    const { signal, ...rest } = o;
    return new CodeSession(this.place, await this.place.fork(this.name, rest, { signal }));
  }

  /**
   * A host function the session's code may call: `tools.NAME(args)` in JavaScript, `tools.NAME(**kwargs)` in
   * Python. Arguments are checked against `schema` (JSON Schema or zod) before `fn` runs; a bad call, or an error
   * thrown by `fn`, reaches the guest as a ToolError exception. Local sessions only.
   */
  registerTool(name: string, schema: ToolSchema, fn: ToolFn, description?: string): this {
    const k = this.place.kernel;
    if (!k) {
      throw new UnsupportedError('tools can only be registered on a session in this process (CodeSession.local): a server cannot call back into its client', { capability: 'tools' });
    }
    k.registerTool(this.name, name, schema, fn, description);
    return this;
  }

  /** The registered tools with their schemas (local sessions). */
  tools(): ToolInfo[] {
    return this.place.kernel ? this.place.kernel.listTools(this.name) : [];
  }

  /** End the session (its snapshots go with it). Closing twice is not an error. */
  async close(opts: CallOptions = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.place.close(this.name, opts);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
