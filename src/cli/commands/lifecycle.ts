/** start, stop and remove: the same shape, one sandbox name each. */
import type { Command } from 'commander';
import type { RunFlags } from '../options.js';
import { runDaemonAction } from '../action.js';
import { printInfo } from './list.js';

export function register(program: Command): void {
  for (const [verb, summary] of [
    ['start', 'start a stopped sandbox'],
    ['stop', 'stop a sandbox, keeping its files'],
  ] as const) {
    program
      .command(verb)
      .summary(summary)
      .argument('<name>', 'sandbox name')
      .option('--json', 'print the sandbox as JSON')
      .action(async (name: string, f: RunFlags) => {
        await runDaemonAction(f, async (k) => {
          printInfo([await k[verb](name)], f.json);
          return 0;
        });
      });
  }
  program
    .command('remove')
    .alias('rm')
    .summary('remove sandboxes and their files')
    .argument('<names...>', 'sandbox names')
    .action(async (names: string[]) => {
      await runDaemonAction({}, async (k) => {
        for (const n of names) await k.remove(n);
        return 0;
      });
    });
}
