/** `sandbox.commands`: run commands inside the sandbox. */
import type { ExecResult } from '../../../core/types.js';
import { ValidationError } from '../../../core/errors.js';
import type { RunOptions } from '../../options.js';
import type { Transport } from '../../transport/types.js';

export class Commands {
  /** @internal */
  constructor(private readonly transport: Transport, private readonly sandbox: string) {}

  /**
   * Run a command and wait for it. A string runs through `sh -c`; an array is the argv itself. A non-zero exit
   * code is a result (`exitCode`), not an exception. With `onStdout`/`onStderr`, output is delivered as the
   * command writes it.
   */
  run(cmd: string | string[], opts: RunOptions = {}): Promise<ExecResult> {
    const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
    if (argv.length === 0) throw new ValidationError('empty command');
    return this.transport.exec(this.sandbox, argv, opts);
  }
}
