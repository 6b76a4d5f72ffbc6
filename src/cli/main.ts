/**
 * The `agentkernel` command line. Each command lives in its own module under commands/ and registers itself;
 * this file only assembles them. Commands load their backends lazily, so `--help` and small runs start fast.
 */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { register as run } from './commands/run.js';
import { register as runCode } from './commands/run-code.js';
import { register as create } from './commands/create.js';
import { register as lifecycle } from './commands/lifecycle.js';
import { register as exec } from './commands/exec.js';
import { register as attach } from './commands/attach.js';
import { register as list } from './commands/list.js';
import { register as cp } from './commands/cp.js';
import { register as status } from './commands/status.js';
import { register as serve } from './commands/serve.js';
import { register as mcpServer } from './commands/mcp-server.js';
import { register as daemon } from './commands/daemon.js';
import { register as bench } from './commands/bench.js';
import { register as setup } from './commands/setup.js';
import { register as audit } from './commands/audit.js';
import { register as plugin } from './commands/plugin.js';
import { register as session } from './commands/session.js';

const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('agentkernel')
    .description('Run untrusted code from AI agents in sandboxes: WebAssembly in KVM micro-VMs, a portable jailed Wasm engine, containers.')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .passThroughOptions();
  for (const r of [run, runCode, create, lifecycle, exec, attach, list, cp, status, setup, bench, serve, mcpServer, daemon, audit, session, plugin]) r(program);
  program.addHelpText(
    'after',
    '\nExit codes: the guest\'s own exit code; 124 timeout; 134 Wasm trap; 137 memory limit;\n' +
      'for errors of agentkernel itself: 2 bad input or config, 3 backend unavailable/unsupported, 4 not found, 5 conflict.',
  );
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  await buildProgram().parseAsync(argv);
}
