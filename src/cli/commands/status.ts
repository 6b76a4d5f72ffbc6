import type { Command } from 'commander';
import type { RunFlags } from '../options.js';
import { runAction } from '../action.js';
import { picksFrom, WORKLOAD_ORDER } from '../../backends/detect.js';

export function register(program: Command): void {
  program
    .command('status')
    .summary('show every backend: available or not, and exactly why')
    .description(
      'Show every backend: available or unavailable with the exact reason (missing binary, no /dev/kvm access, ' +
        'wrong OS), whether automatic selection may pick it (some are usable only with -B NAME), and which backend ' +
        `each workload would get here. Preference orders: Wasm and code ${WORKLOAD_ORDER.wasm.join(' > ')}; ` +
        `shell ${WORKLOAD_ORDER.shell.join(' > ')}. -B NAME on any command overrides the choice.`,
    )
    .option('--json', 'print JSON')
    .action(async (f: RunFlags) => {
      await runAction(f, async (k) => {
        const all = await k.status();
        const picks = await picksFrom(all);
        if (f.json) {
          const settings = { profile: k.settings.profile.name, limits: k.settings.limits, config: k.settings.configPath ?? null };
          process.stdout.write(`${JSON.stringify({ backends: all, selection: { order: WORKLOAD_ORDER, picks }, settings }, null, 2)}\n`);
          return 0;
        }
        const w = Math.max(...all.map((b) => b.name.length));
        const pad = `${''.padEnd(w)}  ${''.padEnd(11)}  `;
        for (const b of all) {
          const state = b.available ? 'available  ' : 'unavailable';
          process.stdout.write(`${b.name.padEnd(w)}  ${state}  ${b.available ? b.summary : b.reason ?? ''}\n`);
          if (b.available && !b.autoSelect) process.stdout.write(`${pad}only with -B ${b.name}: not picked automatically\n`);
          if (b.available && b.reason) process.stdout.write(`${pad}note: ${b.reason}\n`);
          const layers = b.details?.isolation as { layers?: string[]; missing?: { layer: string; reason: string }[] } | undefined;
          if (layers?.layers) process.stdout.write(`${pad}isolation: ${layers.layers.join(' + ')}\n`);
          for (const m of layers?.missing ?? []) process.stdout.write(`${pad}missing layer ${m.layer}: ${m.reason}\n`);
        }
        process.stdout.write('\nautomatic selection here (-B NAME overrides):\n');
        const lw = Math.max(...picks.map((p) => p.label.length));
        for (const p of picks) process.stdout.write(`  ${p.label.padEnd(lw)}  ${p.backend ?? `none: ${p.error}`}\n`);
        process.stdout.write(`\nprofile: ${k.settings.profile.name}; timeout ${k.settings.limits.timeoutMs} ms; memory ${k.settings.limits.memoryMb} MiB; output ${k.settings.limits.outputBytes} bytes\n`);
        return 0;
      });
    });
}
