/**
 * Every command module, in help order, with the command names (and aliases) it registers. A call names its
 * command first, so the CLI loads only that module (and what it imports); `--help`, an unknown name and the docs
 * load them all. test/cli/startup.test.ts checks that these names are exactly the ones each module registers.
 */
import type { Command } from 'commander';

export type Register = (program: Command) => void;

export interface CommandModule {
  /** The top-level command names and aliases the module registers. */
  names: readonly string[];
  load: () => Promise<Register>;
}

export const COMMAND_MODULES: readonly CommandModule[] = [
  { names: ['run'], load: async () => (await import('./run.js')).register },
  { names: ['run-code'], load: async () => (await import('./run-code.js')).register },
  { names: ['create'], load: async () => (await import('./create.js')).register },
  { names: ['start', 'stop', 'remove', 'rm'], load: async () => (await import('./lifecycle.js')).register },
  { names: ['exec'], load: async () => (await import('./exec.js')).register },
  { names: ['attach'], load: async () => (await import('./attach.js')).register },
  { names: ['list', 'ls', 'inspect'], load: async () => (await import('./list.js')).register },
  { names: ['cp'], load: async () => (await import('./cp.js')).register },
  { names: ['status'], load: async () => (await import('./status.js')).register },
  { names: ['setup'], load: async () => (await import('./setup.js')).register },
  { names: ['bench'], load: async () => (await import('./bench.js')).register },
  { names: ['serve'], load: async () => (await import('./serve.js')).register },
  { names: ['mcp-server'], load: async () => (await import('./mcp-server.js')).register },
  { names: ['daemon'], load: async () => (await import('./daemon.js')).register },
  { names: ['audit'], load: async () => (await import('./audit.js')).register },
  { names: ['session'], load: async () => (await import('./session.js')).register },
  { names: ['plugin'], load: async () => (await import('./plugin.js')).register },
];

/** The modules a command line needs: the one registering its command, none for the version, else all of them. */
export function modulesFor(argv: readonly string[]): readonly CommandModule[] {
  const name = argv[2];
  if ((name === '-V' || name === '--version') && argv.length === 3) return [];
  const one = name === undefined ? undefined : COMMAND_MODULES.find((m) => m.names.includes(name));
  return one ? [one] : COMMAND_MODULES;
}

/** The register functions of these modules, loaded at once, in the order given. */
export function loadRegisters(modules: readonly CommandModule[] = COMMAND_MODULES): Promise<Register[]> {
  return Promise.all(modules.map((m) => m.load()));
}
