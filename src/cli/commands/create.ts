import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { addDirOption, type RunFlags } from '../options.js';
import { runDaemonAction } from '../action.js';
import { printInfo } from './list.js';
import { parseEnvPair } from '../options.js';

interface CreateFlags extends RunFlags {
  cpus?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('create')
    .summary('create a persistent sandbox')
    .description('Create a persistent sandbox NAME that keeps its files between `exec` calls until `remove`.')
    .argument('<name>', 'sandbox name (letters, digits, _ - .)')
    .option('-B, --backend <name>', 'backend (default: automatic selection for shell work)')
    .option('-p, --profile <name>', 'security profile: permissive, moderate (default), restrictive')
    .option('-c, --config <file>', 'agentkernel.toml to use')
    .option('--image <image>', 'container image (container backends)')
    .option('--memory <mb>', 'memory cap in MiB', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('--memory must be a positive integer');
      return n;
    })
    .option('--cpus <n>', 'CPU cap', (v) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError('--cpus must be a positive number');
      return n;
    })
    .option('--no-network', 'deny network access')
    .option('-e, --env <KEY=VALUE>', 'environment variable for every exec (repeatable)', parseEnvPair)
    .option('--json', 'print the sandbox as JSON');
  addDirOption(cmd);
  cmd.action(async (name: string, f: CreateFlags) => {
    await runDaemonAction(f, async (k) => {
      const info = await k.create({
        name, backend: f.backend, profile: f.profile, image: f.image, memoryMb: f.memory, cpus: f.cpus,
        env: f.env, mounts: f.dir, network: f.network === false ? false : undefined,
      });
      printInfo([info], f.json);
      return 0;
    });
  });
}
