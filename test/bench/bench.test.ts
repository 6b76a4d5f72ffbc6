/**
 * The benchmark harness: every requested row is in the report, unavailable backends are skipped with their reason,
 * a wrong output fails the benchmark, and the JSON and HTML reports are written with the data. Short durations:
 * these tests check the harness, not the speed of anything.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentKernel } from '../../src/service/kernel.js';
import { ValidationError } from '../../src/core/errors.js';
import { probe } from '../../src/backends/detect.js';
import { runBench, renderText, renderHtml, StderrProgress, type BenchReport } from '../../src/bench/index.js';
import { cli, tempHome } from '../helpers/cli.js';

process.env.AGENTKERNEL_HOME = tempHome();
const kernel = new AgentKernel();
after(() => kernel.close());

const QUICK = { durationS: 0.2, concurrency: 2, warmup: 1 } as const;
const wasm = await probe('wasm');
const noWasm = wasm.available ? false : `the wasm backend is unavailable here: ${wasm.reason}`;

function lines(): { stream: { write(s: string): boolean; isTTY: boolean }; text: () => string } {
  let out = '';
  return { stream: { write: (s: string) => ((out += s), true), isTTY: false }, text: () => out };
}

test('every requested row is reported; unavailable backends are skipped with the reason; figures are consistent', async () => {
  const progress = lines();
  const report = await runBench(kernel, {
    ...QUICK,
    backends: ['wasm', 'firecracker'],
    workloads: ['wasm-hello', 'invoke', 'echo'],
    references: ['wasm-instantiate', 'node'],
    progress: new StderrProgress(progress.stream),
  });
  // JSON round trip: nothing in the report is lost by serialisation
  const json = JSON.parse(JSON.stringify(report)) as BenchReport;
  assert.deepEqual(json, report);
  assert.equal(json.schema, 'agentkernel-bench/1');
  const ids = json.rows.map((r) => r.id).sort();
  assert.deepEqual(ids, [
    'firecracker/echo', 'firecracker/invoke', 'firecracker/wasm-hello',
    'reference/node', 'reference/wasm-instantiate',
    'wasm/echo', 'wasm/invoke', 'wasm/wasm-hello',
  ]);
  for (const r of json.rows.filter((x) => x.target === 'firecracker')) {
    assert.equal(r.status, 'skipped');
    assert.match(r.reason!, /firecracker.*unavailable/);
    assert.equal(r.latencyMs, undefined);
  }
  assert.equal(json.backends.find((b) => b.name === 'firecracker')?.available, false);
  for (const r of json.rows.filter((x) => x.target === 'wasm')) {
    if (wasm.available) assert.equal(r.status, 'ok', `${r.id}: ${r.error ?? r.reason}`);
    else assert.equal(r.status, 'skipped');
  }
  assert.equal(json.ok, true, JSON.stringify(json.rows.filter((r) => r.status === 'failed')));
  const measured = json.rows.filter((r) => r.status === 'ok');
  assert.ok(measured.some((r) => r.id === 'reference/wasm-instantiate'));
  for (const r of measured) {
    const l = r.latencyMs!;
    assert.ok(r.iterations >= 1 && l.min > 0 && l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max, r.id);
    assert.ok(r.throughput!.sequentialPerSec > 0, r.id);
    assert.equal(r.throughput!.concurrent?.callers, 2, r.id);
    assert.ok(r.ratioToFastestReference! >= 1 - 1e-9, r.id);
    assert.ok(r.method, r.id);
  }
  assert.ok(json.fastestReference && json.fastestReference.id.startsWith('reference/'));
  assert.ok(json.machine.cores > 0 && json.machine.node === process.version && typeof json.machine.kvm.present === 'boolean');
  assert.ok(json.quoted.some((q) => q.label.includes('Firecracker') && q.ms === 195));

  const text = renderText(json);
  assert.match(text, /reference\s+wasm-instantiate/);
  assert.match(text, /firecracker \(all 3 workloads\): backend 'firecracker' is unavailable/);
  assert.match(text, /quoted, not measured here/);
  assert.match(progress.text(), /\[\d+\/8\] reference\/node: ok/);
});

test('a wrong output fails the row and the benchmark, and no figures are reported for it', async () => {
  const report = await runBench(kernel, {
    ...QUICK,
    backends: [],
    references: ['wasm-instantiate', 'node'],
    expect: { 'wasm-instantiate': { stdout: 'goodbye\n' } },
  });
  assert.equal(report.ok, false);
  const bad = report.rows.find((r) => r.id === 'reference/wasm-instantiate')!;
  assert.equal(bad.status, 'failed');
  assert.match(bad.error!, /wrong output: stdout "hello\\n", expected "goodbye\\n"/);
  assert.equal(bad.latencyMs, undefined);
  assert.equal(report.rows.find((r) => r.id === 'reference/node')!.status, 'ok');
  assert.match(renderText(report), /FAILED \(1 row; no figures are reported for them\)/);
});

test('a wrong output from a backend fails the benchmark', { skip: noWasm }, async () => {
  const report = await runBench(kernel, {
    ...QUICK,
    backends: ['wasm'],
    workloads: ['invoke', 'js'],
    references: [],
    expect: { invoke: { results: [3] }, js: { stdout: '3\n' } },
  });
  assert.equal(report.ok, false);
  for (const r of report.rows) assert.equal(r.status, 'failed', r.id);
  assert.match(report.rows[0].error!, /^wasm\/invoke: wrong output: results \[2\], expected \[3\]/);
  assert.match(report.rows[1].error!, /^wasm\/js: wrong output: stdout "2\\n", expected "3\\n"/);
});

test('unknown workload and reference names are refused with the known ones', async () => {
  await assert.rejects(runBench(kernel, { workloads: ['nope'] }), (e: unknown) => e instanceof ValidationError && /unknown workload 'nope' \(known: start-cold/.test(e.message));
  await assert.rejects(runBench(kernel, { references: ['nope'] }), ValidationError);
  await assert.rejects(runBench(kernel, { concurrency: 0 }), ValidationError);
});

test('the HTML report is self-contained and carries the data', async () => {
  const report = await runBench(kernel, { ...QUICK, backends: ['qemu'], workloads: ['echo'], references: ['wasm-instantiate'] });
  const html = renderHtml(report);
  assert.doesNotMatch(html, /<script[^>]+src=/, 'no external scripts');
  assert.match(html, /echarts/);
  const data = /<script type="application\/json" id="bench-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(data);
  assert.deepEqual(JSON.parse(data[1]), JSON.parse(JSON.stringify(report)));
  assert.match(html, /qemu/);
});

test('agentkernel bench writes the JSON and HTML reports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ak-bench-test-'));
  const jsonFile = join(dir, 'bench.json');
  const htmlFile = join(dir, 'bench.html');
  const r = await cli(['bench', '--backends', 'firecracker,wasm', '--workloads', 'wasm-hello', '--references', 'wasm-instantiate',
    '--duration', '0.2', '--warmup', '1', '--concurrency', '2', '--json', jsonFile, '--html', htmlFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /reference\s+wasm-instantiate/);
  assert.match(r.stderr, /JSON report written/);
  const report = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchReport;
  assert.deepEqual(report.rows.map((x) => x.id), ['firecracker/wasm-hello', 'wasm/wasm-hello', 'reference/wasm-instantiate']);
  assert.equal(report.rows[0].status, 'skipped');
  const html = readFileSync(htmlFile, 'utf8');
  assert.ok(html.includes('reference/wasm-instantiate'));
  assert.ok(html.length > 500_000, 'echarts is inlined');

  const bad = await cli(['bench', '--workloads', 'nope']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown workload 'nope'/);
});

test('bench --help repeats the harness defaults exactly, and --list names every workload and reference', async () => {
  const { HELP_DEFAULTS } = await import('../../src/cli/commands/bench.js');
  const { DEFAULTS, WORKLOAD_IDS, REFERENCE_IDS } = await import('../../src/bench/index.js');
  assert.deepEqual(HELP_DEFAULTS, DEFAULTS);
  const r = await cli(['bench', '--list']);
  assert.equal(r.code, 0, r.stderr);
  for (const id of [...WORKLOAD_IDS, ...REFERENCE_IDS]) assert.match(r.stdout, new RegExp(`^  ${id} `, 'm'));
});
