import type { Command } from 'commander';
import type { RunFlags } from '../options.js';
import { runAction } from '../action.js';

export function register(program: Command): void {
  program
    .command('status')
    .summary('show every backend: available or not, and exactly why')
    .option('--json', 'print JSON')
    .action(async (f: RunFlags) => {
      await runAction(f, async (k) => {
        const all = await k.status();
        if (f.json) {
          process.stdout.write(`${JSON.stringify({ backends: all, settings: { profile: k.settings.profile.name, limits: k.settings.limits, config: k.settings.configPath ?? null } }, null, 2)}\n`);
          return 0;
        }
        const w = Math.max(...all.map((b) => b.name.length));
        for (const b of all) {
          const state = b.available ? 'available  ' : 'unavailable';
          process.stdout.write(`${b.name.padEnd(w)}  ${state}  ${b.available ? b.summary : b.reason ?? ''}\n`);
          if (b.available && b.reason) process.stdout.write(`${''.padEnd(w)}  ${''.padEnd(11)}  note: ${b.reason}\n`);
          const layers = b.details?.isolation as { layers?: string[]; missing?: { layer: string; reason: string }[] } | undefined;
          if (layers?.layers) process.stdout.write(`${''.padEnd(w)}  ${''.padEnd(11)}  isolation: ${layers.layers.join(' + ')}\n`);
          for (const m of layers?.missing ?? []) process.stdout.write(`${''.padEnd(w)}  ${''.padEnd(11)}  missing layer ${m.layer}: ${m.reason}\n`);
        }
        process.stdout.write(`\nprofile: ${k.settings.profile.name}; timeout ${k.settings.limits.timeoutMs} ms; memory ${k.settings.limits.memoryMb} MiB; output ${k.settings.limits.outputBytes} bytes\n`);
        return 0;
      });
    });
}
