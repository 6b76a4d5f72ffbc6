/**
 * The long fuzzing run: the same properties as test/fuzz/*.test.ts (WASI layer, micro-VM host calls, Wasm
 * loading in-process and through the wasm and hyperlight backends, HTTP + MCP over HTTP, MCP over stdio), each for
 * a share of the time budget, in rounds
 * of fresh seeds. Prints per surface: executions (shrink steps included), failures with their seed and shrunk
 * counterexample, duration, and how the executions ended. A failure's seed replays it in the CI test with
 * FUZZ_SEED=<seed> FUZZ_RUNS=<rounds>.
 *
 * Run: npx tsc -p . && node dist/bench/fuzz.js [--minutes 10] [--surfaces wasi,hostcall,...] [--seed N] [--json]
 * Exit status 1 when any surface had a failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    surfaces: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

// before any backend or server resolves its state and cache directories
const home = mkdtempSync(join(tmpdir(), 'ak-fuzz-bench-'));
process.env.AGENTKERNEL_HOME = home;

const { runFor } = await import('../test/fuzz/runner.js');
const { wasiSurface } = await import('../test/fuzz/wasi-surface.js');
const { hostcallSurface } = await import('../test/fuzz/hostcall-surface.js');
const { wasmLoadSurface, wasmBackendSurface, hyperlightBackendSurface } = await import('../test/fuzz/wasm-surface.js');
const { httpSurface } = await import('../test/fuzz/http-surface.js');
const { mcpStdioSurface } = await import('../test/fuzz/mcp-stdio-surface.js');

/** Share of the time budget per surface (the slow backends get more time per execution, not more time). */
const SURFACES = [
  { surface: wasiSurface, share: 0.2, chunk: 500 },
  { surface: hostcallSurface, share: 0.2, chunk: 250 },
  { surface: wasmLoadSurface, share: 0.15, chunk: 1000 },
  { surface: wasmBackendSurface, share: 0.15, chunk: 50 },
  { surface: hyperlightBackendSurface, share: 0.1, chunk: 10 },
  { surface: httpSurface, share: 0.15, chunk: 200 },
  { surface: mcpStdioSurface, share: 0.05, chunk: 100 },
];

const wanted = args.surfaces?.split(',').map((s) => s.trim());
const chosen = SURFACES.filter((s) => !wanted || wanted.includes(s.surface.name));
if (chosen.length === 0) throw new Error(`no such surface; known: ${SURFACES.map((s) => s.surface.name).join(', ')}`);
const shares = chosen.reduce((n, s) => n + s.share, 0);
const budgetMs = Number(args.minutes) * 60_000;
let seed = args.seed === undefined ? Date.now() | 0 : Number(args.seed) | 0;

const report: Record<string, unknown>[] = [];
let failed = false;
try {
  for (const { surface, share, chunk } of chosen) {
    const o = await surface.open();
    if ('skip' in o) {
      report.push({ surface: surface.name, skipped: o.skip });
      console.error(`${surface.name}: skipped (${o.skip})`);
      continue;
    }
    try {
      const firstSeed = seed;
      const f = await runFor(o, { budgetMs: (budgetMs * share) / shares, maxRuns: Number.MAX_SAFE_INTEGER, chunk, firstSeed });
      let healthy = 'yes';
      try {
        await o.healthy?.();
      } catch (e) {
        healthy = `NO: ${(e as Error).message}`;
        failed = true;
      }
      if (f.failures.length > 0) failed = true;
      const row = {
        surface: surface.name, executions: f.executions, failures: f.failures.length, durationS: Math.round(f.durationMs / 100) / 10,
        perSecond: Math.round((f.executions / f.durationMs) * 1000), firstSeed, healthyAfter: healthy, endings: o.stats?.(), failureDetails: f.failures,
      };
      report.push(row);
      console.error(`${surface.name}: ${f.executions} executions, ${f.failures.length} failures, ${row.durationS} s, healthy after: ${healthy}`);
      for (const x of f.failures) console.error(`  failure (seed ${x.seed}): ${x.error}\n  counterexample: ${x.counterexample.slice(0, 2000)}`);
      seed = (seed + 0x51ed) | 0;
    } finally {
      await o.close();
    }
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}

if (args.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log('| surface | executions | failures | seconds | exec/s | first seed | healthy after |');
  console.log('|---|---:|---:|---:|---:|---:|---|');
  for (const r of report) {
    if (r.skipped) console.log(`| ${r.surface} | skipped: ${r.skipped} | | | | | |`);
    else console.log(`| ${r.surface} | ${r.executions} | ${r.failures} | ${r.durationS} | ${r.perSecond} | ${r.firstSeed} | ${r.healthyAfter} |`);
  }
  for (const r of report) if (r.endings) console.log(`${r.surface} endings: ${JSON.stringify(r.endings)}`);
}
process.exit(failed ? 1 : 0);
