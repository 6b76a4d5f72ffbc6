/**
 * The long soak: concurrent callers through the library, the HTTP API, MCP and a daemon, on the wasm and
 * hyperlight backends, with faults injected (workers SIGKILLed mid-run, the daemon SIGKILLed and restarted, guests
 * that spin, trap, blow up their memory or are abandoned). Prints progress while it runs, then requests, errors by
 * kind, lost/mixed counts, host rss/fd/processes at start and end, and per-interface throughput. Exits 1 when any
 * answer was lost, mixed up or wrong, or the host grew beyond tolerance.
 *
 * Run: npx tsc -p . && node dist/bench/soak.js [--duration 600] [--concurrency 3] [--interfaces library,http,mcp,daemon]
 *      [--backends wasm,hyperlight] [--kill-every 2000] [--restart-every 60000] [--fault-share 0.2] [--json FILE]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '3' },
    interfaces: { type: 'string', default: 'library,http,mcp,daemon' },
    backends: { type: 'string', default: 'wasm,hyperlight' },
    'kill-every': { type: 'string', default: '2000' },
    'restart-every': { type: 'string', default: '60000' },
    'fault-share': { type: 'string', default: '0.2' },
    progress: { type: 'string', default: '15' },
    json: { type: 'string' },
  },
});

// a home of its own, set before anything resolves a state directory
const home = mkdtempSync(join(tmpdir(), 'ak-bench-soak-'));
process.env.AGENTKERNEL_HOME = home;
delete process.env.AGENTKERNEL_API_KEY;
const { runSoak, formatReport } = await import('../src/soak/index.js');

const list = <T extends string>(s: string): T[] => s.split(',').map((x) => x.trim()).filter(Boolean) as T[];
try {
  const report = await runSoak({
    durationMs: Number(args.duration) * 1000,
    warmupMs: Number(args.warmup) * 1000,
    concurrency: Number(args.concurrency),
    interfaces: list(args.interfaces!),
    backends: list(args.backends!),
    workerKillEveryMs: Number(args['kill-every']),
    daemonRestartEveryMs: Number(args['restart-every']),
    faultShare: Number(args['fault-share']),
    progressEveryMs: Number(args.progress) * 1000,
    onProgress: (line) => console.log(line),
  });
  console.log(formatReport(report));
  if (args.json) writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.failures.length ? 1 : 0;
} finally {
  rmSync(home, { recursive: true, force: true });
}
