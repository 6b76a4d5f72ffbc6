/**
 * The HTML report: one self-contained file (echarts inlined from node_modules, the full JSON report embedded), so it
 * opens offline and can be archived next to the JSON. Charts: latency distribution per backend/workload (box plot
 * on a log scale: min, p25, p50, p75, p99) and runs per second per target with 1 and N callers. Tables repeat every
 * figure, the skipped and failed rows, the machine facts and the quoted figures.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { machineLine } from '../machine.js';
import { QUOTED_LABEL } from '../quoted.js';
import type { BenchReport, RowResult } from '../types.js';
import { formatKiB, formatMs, formatQuoted, formatRate, formatRatio } from './format.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Text that sits inside <script>: a closing tag in it would end the element early. */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1');
}

function echartsSource(): string {
  return readFileSync(createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js'), 'utf8');
}

function rowCells(r: RowResult, callers: number): string {
  const td = (s: string, cls = '') => `<td${cls ? ` class="${cls}"` : ''}>${esc(s)}</td>`;
  const head = td(r.target) + td(r.workload);
  if (r.status !== 'ok') {
    const text = r.status === 'skipped' ? `skipped: ${r.reason}` : `FAILED: ${r.error}`;
    return `<tr class="${r.status}">${head}<td colspan="9" class="note">${esc(text)}</td></tr>`;
  }
  const l = r.latencyMs!;
  const conc = r.throughput?.concurrent;
  const mem = r.memory ? (r.memory.perSandboxKiB === null ? `n/m: ${r.memory.note ?? ''}` : formatKiB(r.memory.perSandboxKiB)) : '';
  return `<tr title="${esc(`${r.title}\n${r.method ?? ''}`)}">${head}${td(String(r.iterations), 'n')}${td(r.firstMs === undefined ? '' : formatMs(r.firstMs), 'n')}` +
    `${td(formatMs(l.min), 'n')}${td(formatMs(l.p50), 'n')}${td(formatMs(l.p99), 'n')}` +
    `${td(r.ratioToFastestReference === undefined ? '' : formatRatio(r.ratioToFastestReference), 'n')}` +
    `${td(formatRate(r.throughput!.sequentialPerSec), 'n')}${td(conc && conc.callers === callers ? formatRate(conc.perSec) : '', 'n')}${td(mem, 'n')}</tr>`;
}

/** Runs in the browser: builds the charts from the embedded report. */
const CHARTS_JS = `
(function () {
  var report = JSON.parse(document.getElementById('bench-data').textContent);
  var ok = report.rows.filter(function (r) { return r.status === 'ok'; });
  var n = report.settings.concurrency;
  function fmt(ms) { return ms < 1 ? (ms * 1000).toPrecision(3) + ' µs' : ms < 1000 ? ms.toPrecision(3) + ' ms' : (ms / 1000).toPrecision(3) + ' s'; }

  var ids = ok.map(function (r) { return r.id; }).reverse();
  var byId = {}; ok.forEach(function (r) { byId[r.id] = r; });
  var latEl = document.getElementById('latency');
  latEl.style.height = Math.max(240, 28 * ids.length + 80) + 'px';
  var lat = echarts.init(latEl);
  lat.setOption({
    tooltip: { trigger: 'item', formatter: function (p) {
      var l = byId[p.name].latencyMs;
      return p.name + '<br>min ' + fmt(l.min) + '<br>p25 ' + fmt(l.p25) + '<br>p50 ' + fmt(l.p50) + '<br>p75 ' + fmt(l.p75) + '<br>p99 ' + fmt(l.p99) + '<br>max ' + fmt(l.max);
    } },
    grid: { left: 200, right: 40, top: 20, bottom: 50 },
    xAxis: { type: 'log', name: 'ms (log scale)', nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: 'category', data: ids },
    series: [{ type: 'boxplot', data: ids.map(function (id) { var l = byId[id].latencyMs; return [l.min, l.p25, l.p50, l.p75, l.p99]; }) }]
  });

  function throughput(el, pick, title) {
    var workloads = [], targets = [];
    ok.forEach(function (r) {
      if (pick(r) === undefined) return;
      if (workloads.indexOf(r.workload) < 0) workloads.push(r.workload);
      if (targets.indexOf(r.target) < 0) targets.push(r.target);
    });
    var chart = echarts.init(document.getElementById(el));
    chart.setOption({
      title: { text: title, textStyle: { fontSize: 14 } },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 24 },
      grid: { left: 70, right: 20, top: 70, bottom: 70 },
      xAxis: { type: 'category', data: workloads, axisLabel: { rotate: 30 } },
      yAxis: { type: 'log', name: 'runs/s (log)' },
      series: targets.map(function (t) {
        return { name: t, type: 'bar', data: workloads.map(function (w) {
          var r = ok.filter(function (x) { return x.target === t && x.workload === w; })[0];
          var v = r ? pick(r) : undefined;
          return v === undefined ? null : Number(v.toPrecision(4));
        }) };
      })
    });
  }
  throughput('tput1', function (r) { return r.throughput.sequentialPerSec; }, 'runs per second, 1 caller');
  throughput('tputN', function (r) { return r.throughput.concurrent ? r.throughput.concurrent.perSec : undefined; }, 'runs per second, ' + n + ' concurrent callers');
  window.addEventListener('resize', function () {
    ['latency', 'tput1', 'tputN'].forEach(function (id) { echarts.getInstanceByDom(document.getElementById(id)).resize(); });
  });
})();
`;

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.skipped td { color: #888; } tr.failed td { color: #b00; font-weight: bold; }
.banner { padding: .6em 1em; border-radius: 4px; } .banner.bad { background: #fdd; color: #900; } .banner.good { background: #efe; }
.chart { width: 100%; height: 420px; margin: 1em 0; }
.quoted { color: #555; font-style: italic; }
`;

export function renderHtml(report: BenchReport): string {
  const s = report.settings;
  const m = report.machine;
  const ref = report.fastestReference;
  const failed = report.rows.filter((r) => r.status === 'failed').length;
  const facts: [string, string][] = [
    ['date', m.date], ['CPU', m.cpuModel], ['cores', String(m.cores)], ['memory', `${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ['kernel', `${m.platform} ${m.kernel} ${m.kernelVersion}`], ['arch', m.arch], ['Node.js', m.node], ['agentkernel', m.agentkernel],
    ['KVM', m.kvm.summary], ['load average at start', m.loadAverage.join(' ')],
    ['settings', `${s.durationS} s per row, ${s.warmup} warm-up iterations, ${s.concurrency} concurrent callers`],
    ['backends', report.backends.map((b) => `${b.name}: ${b.available ? 'available' : `unavailable (${b.reason ?? ''})`}`).join('; ')],
  ];
  const quoted = report.quoted.map((q) => `<tr class="quoted"><td>${esc(q.source)}</td><td>${esc(q.label)}</td><td class="n">${esc(formatQuoted(q.ms))}</td></tr>`).join('\n');
  const data = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>agentkernel bench ${esc(report.startedAt)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>agentkernel bench</h1>
<p>${esc(machineLine(m))}</p>
<p class="banner ${report.ok ? 'good' : 'bad'}">${report.ok ? 'Every measured iteration produced its expected output.' : `${failed} row(s) FAILED: a wrong output or an error; no figures are reported for them.`}</p>
<p>${ref ? `×ref is each p50 divided by the p50 of the fastest reference measured in this run (${esc(ref.id)}, ${esc(formatMs(ref.p50Ms))}): compare ratios across runs, since absolute times move with the machine's load.` : 'No reference was measured in this run.'}</p>

<h2>Latency per backend and workload</h2>
<p>Box: p25–p75 with the median; whiskers: min and p99. One caller, after warm-up.</p>
<div id="latency" class="chart"></div>

<h2>Throughput</h2>
<div id="tput1" class="chart"></div>
<div id="tputN" class="chart"></div>

<h2>All rows</h2>
<table>
<thead><tr><th>target</th><th>workload</th><th>runs</th><th>first</th><th>min</th><th>p50</th><th>p99</th><th>×ref</th><th>runs/s ×1</th><th>runs/s ×${s.concurrency}</th><th>mem/sandbox</th></tr></thead>
<tbody>
${report.rows.map((r) => rowCells(r, s.concurrency)).join('\n')}
</tbody>
</table>

<h2>Machine</h2>
<table>${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>

<h2>Published figures (${esc(QUOTED_LABEL)})</h2>
<table><thead><tr><th>source</th><th>what</th><th>time</th></tr></thead><tbody>
${quoted}
</tbody></table>

<script type="application/json" id="bench-data">${data}</script>
<script>${scriptSafe(echartsSource())}</script>
<script>${scriptSafe(CHARTS_JS)}</script>
</body>
</html>
`;
}
