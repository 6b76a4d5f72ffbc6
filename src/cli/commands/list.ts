import type { Command } from 'commander';
import type { SandboxInfo } from '../../core/types.js';
import type { RunFlags } from '../options.js';
import { runDaemonAction } from '../action.js';

export function printInfo(list: SandboxInfo[], json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(list.length === 1 ? list[0] : list, null, 2)}\n`);
    return;
  }
  const rows = [['NAME', 'BACKEND', 'STATUS', 'PROFILE', 'IMAGE', 'CREATED'], ...list.map((s) => [
    s.name, s.backend, s.status, s.profile, s.image ?? '-', s.createdAt,
  ])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}

export function register(program: Command): void {
  program
    .command('list')
    .alias('ls')
    .summary('list sandboxes of every backend')
    .option('--json', 'print JSON (with what each backend applied)')
    .action(async (f: RunFlags) => {
      await runDaemonAction(f, async (k) => {
        const list = await k.list();
        if (f.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        else printInfo(list);
        return 0;
      });
    });
  program
    .command('inspect')
    .summary('show a sandbox and the isolation its backend applied, as JSON')
    .argument('<name>', 'sandbox name')
    .action(async (name: string) => {
      await runDaemonAction({ json: true }, async (k) => {
        process.stdout.write(`${JSON.stringify(await k.get(name), null, 2)}\n`);
        return 0;
      });
    });
}
