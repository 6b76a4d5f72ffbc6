/**
 * Code sessions as the kernel keeps them: named, per process (the library, a server, the daemon), each with its
 * backend's live interpreter, its snapshots (images kept here, in the host) and its registered tools. A session
 * runs one call at a time; limits apply per call exactly as for runCode.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, UnsupportedError, ValidationError } from '../core/errors.js';
import type { Backend, BackendName, ExecResult, Language, RunHooks, SessionHandle, SessionImage } from '../core/types.js';
import { loadBackend } from '../backends/registry.js';
import { parseLanguage } from '../runtimes/index.js';
import { validateSandboxName } from './store.js';
import { ToolRegistry, type ToolFn, type ToolInfo, type ToolSchema } from './tools.js';

export interface SnapshotInfo {
  name: string;
  bytes: number;
  createdAt: string;
}

export interface SessionInfo {
  name: string;
  language: Language;
  backend: BackendName;
  createdAt: string;
  /** Calls run so far. */
  calls: number;
  /** The session this one was forked from, and from which snapshot. */
  forkedFrom?: { session: string; snapshot?: string };
  snapshots: SnapshotInfo[];
  tools: string[];
}

export interface SessionCallOptions extends RunHooks {
  env?: Record<string, string>;
  stdin?: string | Uint8Array;
  timeoutMs: number;
  memoryMb: number;
  outputBytes: number;
}

interface Session {
  info: Omit<SessionInfo, 'snapshots' | 'tools'>;
  handle: SessionHandle;
  snapshots: Map<string, { image: SessionImage; createdAt: string }>;
  tools: ToolRegistry;
}

/** Most snapshots a session keeps (each is a copy of its interpreter's memory); the oldest goes first. */
export const MAX_SNAPSHOTS = 16;

export class SessionManager {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly defaults: { memoryMb: () => number }) {}

  private get(name: string): Session {
    const s = this.sessions.get(name);
    if (!s) throw new NotFoundError(`no session named '${name}'`, { session: name });
    return s;
  }

  private freeName(name: string | undefined): string {
    const n = name === undefined ? `s-${randomBytes(4).toString('hex')}` : validateSandboxName(name);
    if (this.sessions.has(n)) throw new ConflictError(`a session named '${n}' exists already`, { session: n });
    return n;
  }

  /** The backend a session would use: the named one (it must have sessions), else the portable engine. */
  private async backend(name: BackendName | undefined, language: Language): Promise<Backend> {
    const b = await loadBackend(name ?? 'wasm');
    if (!b.sessions) {
      throw new UnsupportedError(
        `the ${b.name} backend has no code sessions; the wasm backend has them`,
        { backend: b.name, capability: 'sessions' },
      );
    }
    if (!b.sessions.languages.includes(language)) {
      throw new UnsupportedError(`sessions on the ${b.name} backend are for ${b.sessions.languages.join(' and ')}, not ${language}`, { backend: b.name, language });
    }
    return b;
  }

  async create(o: { name?: string; language: Language | string; backend?: BackendName; memoryMb?: number }): Promise<SessionInfo> {
    const language = parseLanguage(o.language);
    const name = this.freeName(o.name);
    const b = await this.backend(o.backend, language);
    const handle = await b.sessions!.open(language, { memoryMb: o.memoryMb ?? this.defaults.memoryMb() });
    return this.add(name, handle, b.name, new ToolRegistry());
  }

  private add(name: string, handle: SessionHandle, backend: BackendName, tools: ToolRegistry, forkedFrom?: SessionInfo['forkedFrom']): SessionInfo {
    if (this.sessions.has(name)) {
      void handle.close();
      throw new ConflictError(`a session named '${name}' exists already`, { session: name });
    }
    const s: Session = {
      info: { name, language: handle.language, backend, createdAt: new Date().toISOString(), calls: 0, ...(forkedFrom ? { forkedFrom } : {}) },
      handle, snapshots: new Map(), tools,
    };
    this.sessions.set(name, s);
    return describe(s);
  }

  async run(name: string, code: string, o: SessionCallOptions): Promise<ExecResult> {
    const s = this.get(name);
    if (typeof code !== 'string') throw new ValidationError('code must be a string');
    s.info.calls++;
    return s.handle.run(code, { ...o, tools: s.tools.host() });
  }

  async snapshot(name: string, label?: string): Promise<SnapshotInfo> {
    const s = this.get(name);
    const snap = label === undefined ? `snap-${s.snapshots.size + 1}` : validateSandboxName(label);
    const image = await s.handle.snapshot();
    const createdAt = new Date().toISOString();
    s.snapshots.delete(snap);
    s.snapshots.set(snap, { image, createdAt });
    while (s.snapshots.size > MAX_SNAPSHOTS) s.snapshots.delete(s.snapshots.keys().next().value as string);
    return { name: snap, bytes: image.bytes.byteLength, createdAt };
  }

  private image(s: Session, label?: string): [string, SessionImage] {
    const key = label ?? [...s.snapshots.keys()].pop();
    const found = key === undefined ? undefined : s.snapshots.get(key);
    if (!found || key === undefined) {
      throw new NotFoundError(label === undefined ? `session '${s.info.name}' has no snapshot` : `session '${s.info.name}' has no snapshot named '${label}'`, { session: s.info.name });
    }
    return [key, found.image];
  }

  /** Put a snapshot back (the latest when none is named); also revives a session whose interpreter was lost. */
  async restore(name: string, label?: string): Promise<SnapshotInfo> {
    const s = this.get(name);
    const [key, image] = this.image(s, label);
    await s.handle.restore(image);
    return { name: key, bytes: image.bytes.byteLength, createdAt: s.snapshots.get(key)!.createdAt };
  }

  /** A new session started from a snapshot of another (a fresh one taken now when none is named); it diverges independently. */
  async fork(name: string, o: { name?: string; snapshot?: string } = {}): Promise<SessionInfo> {
    const s = this.get(name);
    const target = this.freeName(o.name);
    const image = o.snapshot !== undefined ? this.image(s, o.snapshot)[1] : await s.handle.snapshot();
    const b = await loadBackend(s.info.backend);
    const handle = await b.sessions!.open(s.info.language, { memoryMb: this.defaults.memoryMb(), image });
    return this.add(target, handle, b.name, s.tools.clone(), { session: name, ...(o.snapshot !== undefined ? { snapshot: o.snapshot } : {}) });
  }

  async close(name: string): Promise<void> {
    const s = this.get(name);
    this.sessions.delete(name);
    await s.handle.close();
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map(describe);
  }

  info(name: string): SessionInfo {
    return describe(this.get(name));
  }

  registerTool(session: string, tool: string, schema: ToolSchema, fn: ToolFn, description?: string): void {
    this.get(session).tools.register(tool, schema, fn, description);
  }

  unregisterTool(session: string, tool: string): boolean {
    return this.get(session).tools.unregister(tool);
  }

  tools(session: string): ToolInfo[] {
    return this.get(session).tools.list();
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.handle.close()));
  }
}

function describe(s: Session): SessionInfo {
  return {
    ...s.info,
    snapshots: [...s.snapshots].map(([name, v]) => ({ name, bytes: v.image.bytes.byteLength, createdAt: v.createdAt })),
    tools: s.tools.names(),
  };
}
