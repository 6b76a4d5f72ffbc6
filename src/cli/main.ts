/**
 * The `agentkernel` command line. Each command lives in its own module under commands/ and registers itself;
 * this file only assembles them. A call loads only the module of the command it names (commands/index.ts), and
 * commands load their backends lazily, so `--help` and small runs start fast.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { loadRegisters, modulesFor, type Register } from './commands/index.js';

// read as text: require() of JSON would start the CommonJS loader for one field
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The program with these commands registered (docs and `--help` give it all of them). */
export function programWith(registers: readonly Register[]): Command {
  const program = new Command('agentkernel')
    .description('Run untrusted code from AI agents in sandboxes: WebAssembly in KVM micro-VMs, a portable jailed Wasm engine, containers.')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .passThroughOptions();
  for (const r of registers) r(program);
  program.addHelpText(
    'after',
    '\nExit codes: the guest\'s own exit code; 124 timeout; 134 Wasm trap; 137 memory limit;\n' +
      'for errors of agentkernel itself: 2 bad input or config, 3 backend unavailable/unsupported, 4 not found, 5 conflict.',
  );
  return program;
}

/** The program for this command line: only the named command's module when it names one, else every command. */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  return programWith(await loadRegisters(argv ? modulesFor(argv) : undefined));
}

export async function main(argv = process.argv): Promise<void> {
  await (await buildProgram(argv)).parseAsync(argv);
}
