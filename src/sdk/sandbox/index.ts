/**
 * `Sandbox`: one persistent sandbox, reached over HTTP (`Sandbox.create`) or in this process (`Sandbox.local`).
 * The object mirrors the folders of this module: `sandbox.commands` (commands/), `sandbox.files` (filesystem/).
 *
 *   await using sbx = await Sandbox.create({ baseUrl: 'http://127.0.0.1:18888' });
 *   const r = await sbx.commands.run('echo hi');    // r.stdout === 'hi\n'
 */
import { randomBytes } from 'node:crypto';
import type { AgentKernel } from '../../service/kernel.js';
import type { ExecResult, Language, SandboxInfo } from '../../core/types.js';
import { AgentKernelError, ValidationError } from '../../core/errors.js';
import type { CallOptions, ConnectionOptions, RunOptions, SandboxCreateOptions } from '../options.js';
import type { Transport } from '../transport/types.js';
import { HttpTransport } from '../transport/http.js';
import { LocalTransport } from '../transport/local.js';
import { Commands } from './commands/index.js';
import { Filesystem } from './filesystem/index.js';

export interface LocalOptions {
  /** The in-process kernel to use. @default the library's shared kernel (`defaultKernel()`; release it with `shutdown()`) */
  kernel?: AgentKernel;
}

/** How each language's code runs as a command inside a sandbox. */
const INTERPRETER: Record<Language, (code: string) => string[]> = {
  python: (code) => ['python3', '-c', code],
  javascript: (code) => ['node', '-e', code],
  shell: (code) => ['sh', '-c', code],
};

export async function localTransport(opts: LocalOptions): Promise<LocalTransport> {
  return new LocalTransport(opts.kernel ?? (await import('../../index.js')).defaultKernel());
}

export class Sandbox {
  /** Run commands in the sandbox. */
  readonly commands: Commands;
  /** Read and write the sandbox's files. */
  readonly files: Filesystem;
  private killed = false;

  private constructor(private readonly transport: Transport, private last: SandboxInfo) {
    this.commands = new Commands(transport, last.name);
    this.files = new Filesystem(transport, last.name);
  }

  /** Create a sandbox on a running agentkernel server. */
  static async create(opts: SandboxCreateOptions & ConnectionOptions = {}): Promise<Sandbox> {
    return Sandbox.createWith(new HttpTransport(opts), opts);
  }

  /** Create a sandbox in this process, through AgentKernel (no server needed). */
  static async local(opts: SandboxCreateOptions & LocalOptions = {}): Promise<Sandbox> {
    return Sandbox.createWith(await localTransport(opts), opts);
  }

  /** A handle on an existing sandbox of a running server. */
  static async connect(name: string, opts: ConnectionOptions & CallOptions = {}): Promise<Sandbox> {
    const t = new HttpTransport(opts);
    return new Sandbox(t, await t.get(name, opts));
  }

  /** Every sandbox of a running server. */
  static list(opts: ConnectionOptions & CallOptions = {}): Promise<SandboxInfo[]> {
    return new HttpTransport(opts).list(opts);
  }

  private static async createWith(t: Transport, o: SandboxCreateOptions): Promise<Sandbox> {
    const name = o.name ?? `sbx-${randomBytes(8).toString('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 10).toLowerCase()}`;
    const { signal, ...spec } = o;
    const info = await t.create({
      name, backend: spec.backend, profile: spec.profile, image: spec.image, env: spec.env,
      memoryMb: spec.memoryMb, cpus: spec.cpus, network: spec.network,
    }, { signal });
    return new Sandbox(t, info);
  }

  get name(): string {
    return this.last.name;
  }

  /** What was known about the sandbox at the last call that returned it. */
  get info(): SandboxInfo {
    return this.last;
  }

  /** Fresh information (status, backend...). */
  async getInfo(opts: CallOptions = {}): Promise<SandboxInfo> {
    this.last = await this.transport.get(this.name, opts);
    return this.last;
  }

  /**
   * Run code with the sandbox's interpreter (`python3 -c`, `node -e`, `sh -c`), so it sees the sandbox's files.
   * An uncaught exception is a result with a non-zero exit code and its traceback on stderr.
   */
  runCode(language: Language, code: string, opts: RunOptions = {}): Promise<ExecResult> {
    const argv = INTERPRETER[language]?.(code);
    if (!argv) throw new ValidationError(`unknown language '${language}' (javascript, python or shell)`);
    return this.transport.exec(this.name, argv, opts);
  }

  async start(opts: CallOptions = {}): Promise<SandboxInfo> {
    this.last = await this.transport.start(this.name, opts);
    return this.last;
  }

  async stop(opts: CallOptions = {}): Promise<SandboxInfo> {
    this.last = await this.transport.stop(this.name, opts);
    return this.last;
  }

  /** Remove the sandbox and its files. Calling it again (or after someone else removed it) is not an error. */
  async kill(opts: CallOptions = {}): Promise<void> {
    if (this.killed) return;
    try {
      await this.transport.remove(this.name, opts);
    } catch (e) {
      if (!(e instanceof AgentKernelError && e.code === 'NOT_FOUND')) throw e;
    }
    this.killed = true;
  }

  /** `await using sbx = await Sandbox.create()` removes the sandbox at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}
