import type { Command } from 'commander';
import { UnsupportedError } from '../../core/errors.js';
import { loadBackend } from '../../backends/registry.js';
import { runAction } from '../action.js';

export function register(program: Command): void {
  program
    .command('attach')
    .summary('open an interactive shell in a sandbox')
    .argument('<name>', 'sandbox name')
    .argument('[command...]', 'command to run instead of the default shell')
    .action(async (name: string, command: string[]) => {
      await runAction({}, async (k) => {
        const rec = k.store.require(name);
        const b = await loadBackend(rec.backend);
        if (!b.attach) throw new UnsupportedError(`backend '${b.name}' has no interactive shell; use \`agentkernel exec ${name} -- ...\``);
        return b.attach(name, { command: command.length ? command : undefined });
      });
    });
}
