/**
 * A short soak with fault injection: callers through the library, the HTTP API, MCP and a daemon, on the wasm and
 * hyperlight backends, while wasm workers are SIGKILLed mid-run and the daemon is SIGKILLed and restarted. Every
 * request must get its own answer or an error that an injected fault explains; host memory, descriptors and
 * processes must stay flat. About 40 s on a loaded 2-core machine. bench/soak.ts runs the same for longer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// a home of its own, before anything resolves a state directory
const home = mkdtempSync(join(tmpdir(), 'ak-soak-home-'));
process.env.AGENTKERNEL_HOME = home;
delete process.env.AGENTKERNEL_API_KEY;

const { runSoak, formatReport, check, buildRequest, makeNonce } = await import('../../src/soak/index.js');
const { probe } = await import('../../src/backends/detect.js');

const wasm = await probe('wasm');
const skip = wasm.available ? undefined : `wasm backend unavailable: ${wasm.reason ?? 'unknown'}`;

test('the checker tells an own answer from a mixed-up one, a wrong one and an unexplained error', () => {
  const nonce = makeNonce(7, 123);
  const other = makeNonce(8, 123);
  const req = buildRequest(7, nonce, 'echo-wasm', 'wasm');
  const faults = { workerKills: true, serverRestarts: false };
  const result = (stdout: string, exitCode = 0) => ({ kind: 'result' as const, exitCode, stdout, stderr: '' });
  assert.equal(check(req, result(`${nonce}\n`), faults).verdict, 'ok');
  assert.equal(check(req, result(`${other}\n`), faults).verdict, 'mixed');
  assert.equal(check(req, result(''), faults).verdict, 'wrong');
  assert.equal(check(req, result(`${nonce}\n`, 1), faults).verdict, 'wrong');
  const died = { kind: 'error' as const, code: 'INTERNAL', message: 'the wasm worker (pid 42) died during the run: killed by SIGKILL' };
  assert.equal(check(req, died, faults).verdict, 'error');
  assert.equal(check(req, died, { workerKills: false, serverRestarts: false }).verdict, 'unexplained');
  const refused = { kind: 'error' as const, code: 'CONNECTION', message: 'fetch failed' };
  assert.equal(check(req, refused, faults).verdict, 'unexplained');
  assert.equal(check(req, refused, { workerKills: false, serverRestarts: true }).verdict, 'error');
  const invoke = buildRequest(9, makeNonce(9, 123), 'echo-invoke', 'hyperlight');
  assert.equal(check(invoke, { ...result(''), results: [makeNonce(9, 123)] }, faults).verdict, 'ok');
  assert.equal(check(invoke, { ...result(''), results: [other] }, faults).verdict, 'mixed');
  const spin = buildRequest(10, makeNonce(10, 123), 'spin', 'wasm');
  assert.equal(check(spin, { ...result('', 124), timedOut: true }, faults).verdict, 'ok');
  assert.equal(check(spin, result(`${other}\n`), faults).verdict, 'mixed');
  const abort = buildRequest(11, makeNonce(11, 123), 'abort', 'wasm');
  assert.equal(check(abort, { kind: 'error', code: 'ABORTED', message: 'aborted' }, faults).verdict, 'error');
  assert.equal(check(abort, died, faults).verdict, 'error');
  assert.equal(check(abort, result('', 124), faults).verdict, 'wrong');
});

test('soak: no request lost or mixed up under injected faults, host flat', { skip, timeout: 180_000 }, async (t) => {
  try {
    const report = await runSoak({
      durationMs: 20_000,
      warmupMs: 5_000,
      concurrency: 2,
      interfaces: ['library', 'http', 'mcp', 'daemon'],
      backends: ['wasm', 'hyperlight'],
      workerKillEveryMs: 1500,
      daemonRestartEveryMs: 8000,
      progressEveryMs: 10_000,
      onProgress: (line) => t.diagnostic(line),
    });
    const text = formatReport(report);
    for (const line of text.split('\n')) t.diagnostic(line);
    for (const s of report.skipped) console.log(`# soak: ${s}`);
    assert.deepEqual(report.failures, [], text);
    assert.equal(report.verdicts.lost + report.verdicts.mixed + report.verdicts.wrong + report.verdicts.unexplained, 0, text);
    // the faults really happened and were survived
    assert.ok(report.faults.workerKills > 0, 'no worker was killed');
    assert.ok(report.faults.daemonRestarts >= 1, 'the daemon was not restarted');
    for (const iface of report.interfaces) assert.ok((report.perInterface[iface]?.ok ?? 0) > 0, `${iface}: no request succeeded\n${text}`);
    for (const kind of ['spin', 'trap', 'bomb'] as const) assert.ok((report.perKind[kind]?.ok ?? 0) > 0, `${kind}: never answered as expected\n${text}`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
