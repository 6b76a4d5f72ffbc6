/** Renders docs/cli.md from the commands' own help, so docs and `--help` always agree. */
import { programWith } from './main.js';
import { loadRegisters } from './commands/index.js';

// every command, loaded once when the docs are first needed
const registers = await loadRegisters();

export function renderCliDocs(): string {
  const program = programWith(registers);
  program.configureOutput({ getOutHelpWidth: () => 110, getErrHelpWidth: () => 110 });
  const parts = [
    '# agentkernel command line',
    '',
    'Generated from the CLI\'s own `--help` by `npm run docs`; `test/cli/docs.test.ts` fails when it is stale.',
    '',
    '```text',
    program.helpInformation().trimEnd(),
    '```',
  ];
  for (const cmd of program.commands) {
    cmd.configureOutput({ getOutHelpWidth: () => 110, getErrHelpWidth: () => 110 });
    parts.push('', `## agentkernel ${cmd.name()}`, '', '```text', cmd.helpInformation().trimEnd(), '```');
  }
  return `${parts.join('\n')}\n`;
}
