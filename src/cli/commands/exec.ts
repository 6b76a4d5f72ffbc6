import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { parseEnvPair, readStdin, type RunFlags } from '../options.js';
import { finishRun, streamHooks } from '../output.js';
import { runDaemonAction } from '../action.js';

interface ExecFlags extends RunFlags {
  workdir?: string;
}

export function register(program: Command): void {
  program
    .command('exec')
    .summary('run a command in a persistent sandbox')
    .description('Run CMD in sandbox NAME: `agentkernel exec NAME [-e K=V] -- CMD...`. The command\'s exit code is ours.')
    .argument('<name>', 'sandbox name')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', parseEnvPair)
    .option('-w, --workdir <dir>', 'working directory inside the sandbox')
    .option('-i, --interactive', 'pass this process\'s stdin to the command')
    .option('--timeout <ms>', 'wall-clock limit in milliseconds (exit code 124)', (v) => Number(v))
    .option('--json', 'print the result as JSON')
    .action(async (name: string, argv: string[], f: ExecFlags) => {
      await runDaemonAction(f, async (k, signal) => {
        if (f.timeout !== undefined && !(Number.isInteger(f.timeout) && f.timeout > 0)) throw new ValidationError('--timeout must be a positive integer');
        const stdin = f.interactive ? await readStdin() : undefined;
        const r = await k.exec(name, argv, { env: f.env, cwd: f.workdir, stdin, timeoutMs: f.timeout, ...streamHooks(f.json, signal) });
        return finishRun(r, f.json);
      });
    });
}
