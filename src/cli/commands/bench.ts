import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { runAction } from '../action.js';
import { note } from '../output.js';
import type { BackendName } from '../../core/types.js';

// The harness (and every backend it measures) loads only when `bench` runs: other commands must not pay for it.
const harness = () => import('../../bench/index.js');
/** The harness's defaults, repeated for --help only; a test checks they match DEFAULTS. */
export const HELP_DEFAULTS = { durationS: 2, concurrency: 4, warmup: 3 } as const;

interface BenchFlags {
  list?: boolean;
  backends?: string[];
  workloads?: string[];
  references?: string[] | boolean;
  duration?: number;
  concurrency?: number;
  warmup?: number;
  json?: string;
  html?: string;
  config?: string;
  image?: string;
}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

function positiveNumber(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a number > 0`);
    return n;
  };
}

function integerAtLeast(what: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer >= ${min}`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('bench')
    .summary('benchmark every backend side by side, with reference tools measured in the same run')
    .description(
      'Run the same workloads on every available backend (each where it has the capability) and reference rows\n' +
        '(bwrap, crun/runc, docker/podman with a local image, node, raw WebAssembly, Pyodide) on this machine.\n' +
        'Every iteration checks its output: a wrong output fails the row and the command exits 1.\n' +
        'Unavailable backends are reported as skipped rows with the reason.',
    )
    .option('--backends <list>', 'comma-separated backends (default: every backend agentkernel knows)', list)
    .option('--workloads <list>', 'comma-separated workloads (default: all; --list names them)', list)
    .option('--references <list>', 'comma-separated reference rows (default: all; --list names them)', list)
    .option('--no-references', 'measure no reference rows')
    .option('--list', 'print the workloads and reference rows, and exit')
    .option('--duration <seconds>', `measured seconds per row, after warm-up (default ${HELP_DEFAULTS.durationS})`, positiveNumber('--duration'))
    .option('--concurrency <n>', `concurrent callers for the throughput phase (default ${HELP_DEFAULTS.concurrency})`, integerAtLeast('--concurrency', 1))
    .option('--warmup <n>', `warm-up iterations per row (default ${HELP_DEFAULTS.warmup})`, integerAtLeast('--warmup', 0))
    .option('--json <file>', 'write the JSON report to FILE (- for stdout; the table then goes to stderr)')
    .option('--html <file>', 'write a self-contained HTML report with charts to FILE')
    .option('-c, --config <file>', 'agentkernel.toml to use (default: ./agentkernel.toml if present)')
    .option('--image <image>', 'container image for the container backends (must be local: nothing is pulled)')
    .action(async (f: BenchFlags) => {
      await runAction({ config: f.config, image: f.image }, async (k, signal) => {
        const { REFERENCES, StderrProgress, WORKLOADS, renderHtml, renderText, runBench } = await harness();
        if (f.list) {
          process.stdout.write('workloads:\n');
          for (const w of WORKLOADS) process.stdout.write(`  ${w.id.padEnd(18)} ${w.title}\n`);
          process.stdout.write('references:\n');
          for (const r of REFERENCES) process.stdout.write(`  ${r.id.padEnd(18)} ${r.title}\n`);
          return 0;
        }
        const report = await runBench(k, {
          backends: f.backends as BackendName[] | undefined,
          workloads: f.workloads,
          references: f.references === false ? [] : Array.isArray(f.references) ? f.references : undefined,
          durationS: f.duration,
          concurrency: f.concurrency,
          warmup: f.warmup,
          progress: new StderrProgress(),
          signal,
        });
        const text = renderText(report);
        if (f.json === '-') {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          process.stderr.write(text);
        } else {
          process.stdout.write(text);
          if (f.json) {
            writeFileSync(resolve(f.json), `${JSON.stringify(report, null, 2)}\n`);
            note(`JSON report written to ${resolve(f.json)}`);
          }
        }
        if (f.html) {
          writeFileSync(resolve(f.html), renderHtml(report));
          note(`HTML report written to ${resolve(f.html)}`);
        }
        if (!report.ok) note('benchmark FAILED: a workload produced a wrong output or an error (see FAILED above)');
        return report.ok ? 0 : 1;
      });
    });
}
