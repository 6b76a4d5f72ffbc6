/**
 * The SDK over HTTP: each Transport call is one request to a running `agentkernel serve`. Runs with output
 * callbacks use the SSE twin of their endpoint so that output arrives as the guest writes it. Failures come back
 * as the same typed errors the kernel throws in-process (errorFromJSON), never as raw HTTP statuses.
 */
import type { ExecResult, FileEntry, Language, SandboxInfo } from '../../core/types.js';
import type { BackendStatus } from '../../backends/detect.js';
import { AbortError, AgentKernelError, UnavailableError, ValidationError } from '../../core/errors.js';
import type { WireResult, WireSandboxInfo, WireError } from '../../api/http/schemas.js';
import { fromWireError, fromWireResult, fromWireSandbox } from '../../api/http/wire.js';
import { readLocalApiKey } from '../../api/http/api-key.js';
import { guestPath } from '../../api/http/operations.js';
import type {
  CallOptions, CommandRunOptions, ComponentRunOptions, ConnectionOptions, EphemeralRunOptions, RunOptions, WasmRunOptions,
} from '../options.js';
import type { CreateSpec, Transport } from './types.js';
import { readSse } from './sse.js';
import { unixSocketFetch } from './unix-fetch.js';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:18888';

type Envelope<T> = { success: boolean; data?: T; error?: WireError };

/** The wire fields of RunOptions (hooks and signal travel otherwise). */
function runFields(o: RunOptions): Record<string, unknown> {
  return { env: o.env, cwd: o.cwd, stdin: o.stdin, timeout_ms: o.timeoutMs, memory_mb: o.memoryMb, output_bytes: o.outputBytes };
}

function choiceFields(o: EphemeralRunOptions): Record<string, unknown> {
  return { backend: o.backend, profile: o.profile };
}

/**
 * `/sandboxes/{name}/files/{path}`, segments encoded. A relative path stays relative (to the sandbox's working
 * directory) and an absolute one keeps its leading slash as %2F; '.' or '' is the working directory itself.
 */
function filesUrl(name: string, path: string): string {
  const base = `/sandboxes/${encodeURIComponent(name)}/files`;
  // validated here too: fetch would fold a '..' segment away and silently address another resource
  const p = guestPath(path === '' ? '.' : path);
  if (p === '.') return base;
  return `${base}/${p.startsWith('/') ? '%2F' : ''}${p.split('/').filter((s) => s !== '').map(encodeURIComponent).join('/')}`;
}

export class HttpTransport implements Transport {
  readonly baseUrl: string;
  readonly socketPath?: string;
  private readonly apiKey?: string;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: ConnectionOptions = {}) {
    this.socketPath = opts.socketPath;
    // over a socket the URL only carries the path; the host part is what the server sees in Host
    this.baseUrl = opts.socketPath ? 'http://localhost' : (opts.baseUrl ?? process.env.AGENTKERNEL_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.apiKey = opts.apiKey ?? readLocalApiKey();
    this.fetchImpl = opts.fetch ?? (opts.socketPath ? unixSocketFetch(opts.socketPath) : globalThis.fetch);
  }

  /** One request; network failures and aborts become typed errors, error envelopes are thrown. */
  private async request(method: string, path: string, init: { json?: unknown; bytes?: Uint8Array; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.bytes !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = init.bytes as Uint8Array<ArrayBuffer>;
    }
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.baseUrl}${path}`, { method, headers, body, signal: init.signal });
    } catch (e) {
      if (init.signal?.aborted) throw new AbortError();
      const where = this.socketPath ? `unix:${this.socketPath}` : this.baseUrl;
      // `unreachable`: the request never reached a server, so nothing ran and a caller may safely try elsewhere
      throw new UnavailableError(
        `cannot reach agentkernel at ${where}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message} `
          + '(start a server with `agentkernel serve` or `agentkernel daemon start`)',
        { baseUrl: where, unreachable: true },
      );
    }
    if (!res.ok) throw await this.failure(res);
    return res;
  }

  private async failure(res: Response): Promise<AgentKernelError> {
    const text = await res.text().catch(() => '');
    try {
      const env = JSON.parse(text) as Envelope<unknown>;
      if (env.error) return fromWireError(env.error);
    } catch {
      // not our envelope: a proxy or another program answered
    }
    return new AgentKernelError('INTERNAL', `HTTP ${res.status} from ${this.baseUrl}: ${text.slice(0, 200) || res.statusText}`, { status: res.status });
  }

  /** One JSON request, its `data` back (also used by the SDK's code sessions). */
  async json<T>(method: string, path: string, call: CallOptions, json?: unknown): Promise<T> {
    const res = await this.request(method, path, { json, signal: call.signal });
    return ((await res.json()) as Envelope<T>).data as T;
  }

  /** A run: plain JSON without callbacks, the SSE stream with them (also used by the SDK's code sessions). */
  async runAt(path: string, body: Record<string, unknown>, o: RunOptions): Promise<ExecResult> {
    if (!o.onStdout && !o.onStderr) return fromWireResult(await this.json<WireResult>('POST', path, o, body));
    const res = await this.request('POST', `${path}/stream`, { json: body, signal: o.signal });
    try {
      for await (const ev of readSse(res.body!)) {
        const data = JSON.parse(ev.data) as { text?: string } & WireResult & WireError;
        if (ev.event === 'stdout') o.onStdout?.(data.text ?? '');
        else if (ev.event === 'stderr') o.onStderr?.(data.text ?? '');
        else if (ev.event === 'exit') return fromWireResult(data);
        else if (ev.event === 'error') throw fromWireError(data);
      }
    } catch (e) {
      if (o.signal?.aborted) throw new AbortError();
      throw e;
    }
    throw new UnavailableError(`the stream from ${this.baseUrl}${path} ended before the run did (server stopped?)`);
  }

  run(argv: string[], o: CommandRunOptions): Promise<ExecResult> {
    return this.runAt('/run', { command: argv, image: o.image, ...runFields(o), ...choiceFields(o) }, o);
  }

  runCode(language: Language, code: string, o: EphemeralRunOptions): Promise<ExecResult> {
    return this.runAt('/code', { language, code, ...runFields(o), ...choiceFields(o) }, o);
  }

  runWasm(module: Uint8Array | string, o: WasmRunOptions): Promise<ExecResult> {
    const source = typeof module === 'string' ? { module_path: module } : { module: Buffer.from(module).toString('base64') };
    return this.runAt('/wasm', { ...source, invoke: o.invoke, args: o.args, ...runFields(o), ...choiceFields(o) }, o);
  }

  runComponent(component: Uint8Array | string, o: ComponentRunOptions): Promise<ExecResult> {
    const source = typeof component === 'string' ? { component_path: component } : { component: Buffer.from(component).toString('base64') };
    return this.runAt('/component', { ...source, invoke: o.invoke, args: o.args, ...runFields(o), ...choiceFields(o) }, o);
  }

  backends(call: CallOptions): Promise<BackendStatus[]> {
    return this.json('GET', '/backends', call);
  }

  async create(s: CreateSpec, call: CallOptions): Promise<SandboxInfo> {
    const body = { name: s.name, backend: s.backend, profile: s.profile, image: s.image, env: s.env, memory_mb: s.memoryMb, cpus: s.cpus, network: s.network };
    return fromWireSandbox(await this.json<WireSandboxInfo>('POST', '/sandboxes', call, body));
  }

  async get(name: string, call: CallOptions): Promise<SandboxInfo> {
    return fromWireSandbox(await this.json<WireSandboxInfo>('GET', `/sandboxes/${encodeURIComponent(name)}`, call));
  }

  async list(call: CallOptions): Promise<SandboxInfo[]> {
    return (await this.json<WireSandboxInfo[]>('GET', '/sandboxes', call)).map(fromWireSandbox);
  }

  async start(name: string, call: CallOptions): Promise<SandboxInfo> {
    return fromWireSandbox(await this.json<WireSandboxInfo>('POST', `/sandboxes/${encodeURIComponent(name)}/start`, call));
  }

  async stop(name: string, call: CallOptions): Promise<SandboxInfo> {
    return fromWireSandbox(await this.json<WireSandboxInfo>('POST', `/sandboxes/${encodeURIComponent(name)}/stop`, call));
  }

  async remove(name: string, call: CallOptions): Promise<void> {
    await this.json('DELETE', `/sandboxes/${encodeURIComponent(name)}`, call);
  }

  exec(name: string, argv: string[], o: RunOptions): Promise<ExecResult> {
    return this.runAt(`/sandboxes/${encodeURIComponent(name)}/exec`, { command: argv, ...runFields(o) }, o);
  }

  /** GET on a file route answers bytes for a file and a JSON listing for a directory. */
  private async fileOrListing(name: string, path: string, call: CallOptions): Promise<Uint8Array | FileEntry[]> {
    const res = await this.request('GET', filesUrl(name, path), { signal: call.signal });
    if (res.headers.get('content-type')?.startsWith('application/json')) {
      return ((await res.json()) as Envelope<{ entries: FileEntry[] }>).data!.entries;
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  async readFile(name: string, path: string, call: CallOptions): Promise<Uint8Array> {
    const got = await this.fileOrListing(name, path, call);
    if (Array.isArray(got)) throw new ValidationError(`${path} is a directory (use files.list)`, { path });
    return got;
  }

  async listFiles(name: string, path: string, call: CallOptions): Promise<FileEntry[]> {
    const got = await this.fileOrListing(name, path, call);
    if (!Array.isArray(got)) throw new ValidationError(`${path} is a file, not a directory (use files.read)`, { path });
    return got;
  }

  async writeFile(name: string, path: string, data: Uint8Array, call: CallOptions): Promise<void> {
    const res = await this.request('PUT', filesUrl(name, path), { bytes: data, signal: call.signal });
    await res.body?.cancel();
  }

  async removeFile(name: string, path: string, call: CallOptions): Promise<void> {
    await this.json('DELETE', filesUrl(name, path), call);
  }
}
