/**
 * `agentkernel plugin install|uninstall|list`: write (or remove) the MCP client configuration of coding agents so
 * they start `agentkernel mcp-server`. Only agentkernel's own entry is touched in files the agents share with
 * other settings.
 */
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { reportError } from '../output.js';
import { runPlain as act } from '../action.js';
import type { FileResult, InstallOptions, Target } from '../../plugins/index.js';

interface PluginFlags {
  global?: boolean;
  force?: boolean;
  dryRun?: boolean;
  dir?: string;
  json?: boolean;
}

const NAMES = ['claude', 'codex', 'gemini', 'opencode', 'mcp'];

function targetsOf(names: string[]): string[] {
  const out: string[] = [];
  for (const n of names.map((x) => x.toLowerCase())) {
    if (n === 'all') out.push(...NAMES);
    else if (NAMES.includes(n)) out.push(n);
    else throw new ValidationError(`unknown agent '${n}' (known: ${NAMES.join(', ')}, all)`);
  }
  return [...new Set(out)];
}

const MARK: Record<FileResult['outcome'], string> = {
  created: '+', updated: '~', unchanged: '=', kept: '!', removed: '-', absent: ' ',
};

async function change(names: string[], f: PluginFlags, remove: boolean): Promise<number> {
  const { target, installPlugin, uninstallPlugin } = await import('../../plugins/index.js');
  const opts: InstallOptions = { dir: f.dir, global: f.global, force: f.force, dryRun: f.dryRun };
  let failed = false;
  for (const name of targetsOf(names)) {
    const t = target(name) as Target;
    process.stdout.write(`${t.name}: ${t.description}${f.dryRun ? ' (dry run: nothing written)' : ''}\n`);
    let results: FileResult[];
    try {
      results = (remove ? uninstallPlugin : installPlugin)(t, opts);
    } catch (e) {
      failed = true;
      reportError(e);
      continue;
    }
    for (const r of results) {
      process.stdout.write(`  ${MARK[r.outcome]} ${r.path} (${r.outcome}${r.note ? `: ${r.note}` : ''})\n`);
      if (r.outcome === 'kept') failed = true;
    }
    if (!remove && !f.dryRun && results.every((r) => r.outcome !== 'kept')) process.stdout.write(`  ${t.nextSteps}\n`);
  }
  return failed ? 1 : 0;
}

async function list(f: PluginFlags): Promise<number> {
  const { TARGETS, isInstalled, filePath, serverCommand } = await import('../../plugins/index.js');
  const rows = TARGETS.map((t) => ({
    agent: t.name,
    description: t.description,
    installed: isInstalled(t, { dir: f.dir, global: f.global }),
    files: t.files.map((file) => filePath(file, { dir: f.dir, global: f.global })),
  }));
  if (f.json) {
    process.stdout.write(`${JSON.stringify({ server: serverCommand(), agents: rows }, null, 2)}\n`);
    return 0;
  }
  for (const r of rows) process.stdout.write(`${r.agent.padEnd(9)} ${(r.installed ? 'installed' : 'not installed').padEnd(14)} ${r.description}\n`);
  const s = serverCommand();
  process.stdout.write(`\nserver entry: ${[s.command, ...s.args].join(' ')}\n`);
  return 0;
}


function scopeOptions(cmd: Command): Command {
  return cmd
    .option('-g, --global', 'the agent\'s user-wide configuration instead of the project\'s')
    .option('--dir <path>', 'project directory (default: the working directory)');
}

export function register(program: Command): void {
  const plugin = program
    .command('plugin')
    .summary('configure coding agents (Claude Code, Codex, Gemini CLI, OpenCode, any MCP client) to use agentkernel');
  scopeOptions(plugin
    .command('install')
    .summary('add the agentkernel MCP server to the agents\' configuration (only its own entry is touched)')
    .argument('<agents...>', `${NAMES.join(', ')} or all`)
    .option('--force', 'replace an agentkernel entry or file that differs from this installation\'s')
    .option('--dry-run', 'say what would change, write nothing'))
    .action((agents: string[], f: PluginFlags) => act(() => change(agents, f, false)));
  scopeOptions(plugin
    .command('uninstall')
    .summary('remove the agentkernel entry (and files it installed) from the agents\' configuration')
    .argument('<agents...>', `${NAMES.join(', ')} or all`)
    .option('--force', 'also remove an installed file that was changed since')
    .option('--dry-run', 'say what would change, write nothing'))
    .action((agents: string[], f: PluginFlags) => act(() => change(agents, f, true)));
  scopeOptions(plugin
    .command('list')
    .summary('show each agent, whether agentkernel is configured for it, and the server command')
    .option('--json', 'print JSON'))
    .action((f: PluginFlags) => act(() => list(f)));
}
