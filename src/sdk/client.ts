/**
 * `Client`: the stateless calls (run code, run a Wasm module, run a command in a throw-away sandbox) without
 * managing a sandbox. Over HTTP by default; `Client.local()` runs them in this process.
 *
 *   const client = new Client();                        // http://127.0.0.1:18888, key from the environment
 *   const r = await client.runCode('python', 'print(1+1)');
 */
import type { ExecResult, Language } from '../core/types.js';
import type { BackendStatus } from '../backends/detect.js';
import { ValidationError } from '../core/errors.js';
import type { CallOptions, CommandRunOptions, ComponentRunOptions, ConnectionOptions, EphemeralRunOptions, WasmRunOptions } from './options.js';
import type { Transport } from './transport/types.js';
import { HttpTransport } from './transport/http.js';
import { localTransport, type LocalOptions } from './sandbox/index.js';

export class Client {
  private readonly transport: Transport;

  constructor(opts: ConnectionOptions | { transport: Transport } = {}) {
    this.transport = 'transport' in opts ? opts.transport : new HttpTransport(opts);
  }

  /** A client that runs everything in this process through AgentKernel. */
  static async local(opts: LocalOptions = {}): Promise<Client> {
    return new Client({ transport: await localTransport(opts) });
  }

  /** Run a snippet in a fresh interpreter. */
  runCode(language: Language, code: string, opts: EphemeralRunOptions = {}): Promise<ExecResult> {
    return this.transport.runCode(language, code, opts);
  }

  /**
   * Run a WASI module (`_start`), or call an export with `invoke`. `module` is the bytes of a .wasm binary or of
   * .wat text, or the path of such a file on the machine that runs it (the server's, over HTTP).
   */
  runWasm(module: Uint8Array | string, opts: WasmRunOptions = {}): Promise<ExecResult> {
    return this.transport.runWasm(module, opts);
  }

  /**
   * Run a WASI 0.2 component (its wasi:cli/run), or call one of its exports with `invoke` (the return value comes
   * back in `value`). `component` is the bytes of a component binary or component text, or the path of one on the
   * machine that runs it.
   */
  runComponent(component: Uint8Array | string, opts: ComponentRunOptions = {}): Promise<ExecResult> {
    return this.transport.runComponent(component, opts);
  }

  /** Run a command in a throw-away sandbox. A string runs through `sh -c`. */
  run(cmd: string | string[], opts: CommandRunOptions = {}): Promise<ExecResult> {
    const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
    if (argv.length === 0) throw new ValidationError('empty command');
    return this.transport.run(argv, opts);
  }

  /** The backends and their availability where the code runs. */
  backends(opts: CallOptions = {}): Promise<BackendStatus[]> {
    return this.transport.backends(opts);
  }
}
