/**
 * The escape corpus against every backend available here: canaries planted on the host (files in the temp, home
 * and project directories, an environment variable, a loopback listener), every case tried through every way into
 * each backend, the backend x case table printed, and a test per cell that fails when the cell broke. Backends
 * that cannot run here are skipped with the reason printed.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TEST_HOME } from '../wasm-backend/helpers.js';
import { createWasmBackend } from '../../src/backends/wasm/index.js';
import { HyperlightBackend } from '../../src/backends/hyperlight/backend.js';
import { createDockerBackend } from '../../src/backends/docker/index.js';
import { createPodmanBackend } from '../../src/backends/podman/index.js';
import type { ContainerBackend } from '../../src/backends/container/backend.js';
import { dir } from '../../src/core/paths.js';
import { BaseBackend } from '../../src/backends/base.js';
import type { BackendName, Capabilities, ExecResult, Language, RunCodeOptions } from '../../src/core/types.js';
import { ESCAPE_CASES, plantCanaries, renderTable, runEscapeCorpus, type EscapeTarget, type Matrix } from '../../src/security/escape/index.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/images.js';
import { tempStore } from '../containers/tmp.js';

// the wasm backend tests' home: the Python snapshot and compiled micro-VM guests are made once for all of them
assert.equal(process.env.AGENTKERNEL_HOME, TEST_HOME);

const canaries = await plantCanaries({ projectDir: process.cwd() });

// Python loaded by every new worker in the background: attempts that end their worker (timeouts, memory caps)
// would otherwise make the next Python attempt wait for a fresh load
const wasm = createWasmBackend({ poolSize: 1, prewarm: ['javascript', 'python'] });
const targets: EscapeTarget[] = [{
  backend: wasm,
  ownedPids: () => wasm.pool.info().flatMap((w) => w.pids),
  // a neighbour's workspace is a host directory: an attacker would aim at its host path
  neighbour: { guestPath: '/workspace/escape-neighbour.txt', attackerPath: (name) => join(dir('state', 'wasm-fs', name), 'escape-neighbour.txt') },
}];
const skipped = new Map<BackendName, string>();

const hyper = new HyperlightBackend();
const hyperAvail = await hyper.availability();
if (hyperAvail.available) targets.push({ backend: hyper });
else skipped.set('hyperlight', `hyperlight unavailable: ${hyperAvail.reason}`);

const containers: ContainerBackend[] = [];
for (const make of [createDockerBackend, createPodmanBackend]) {
  const be = make({ poolSize: 0, store: tempStore() });
  let why: string | undefined;
  try {
    why = await ensureTestImage(be);
  } catch (e) {
    why = `${be.name}: could not build the test image: ${(e as Error).message}`;
  }
  if (why) skipped.set(be.name, why);
  else {
    containers.push(be);
    targets.push({ backend: be, image: TEST_IMAGE });
  }
}
for (const [name, why] of skipped) console.log(`# escape corpus: skipping ${name}: ${why}`);

let matrix: Matrix;

before(async () => {
  matrix = await runEscapeCorpus(targets, { canaries, concurrency: { docker: 5, podman: 5 } });
  console.log(`\n${renderTable(matrix)}\n`);
  const slow = matrix.cells.flatMap((c) => c.attempts.filter((a) => (a.ms ?? 0) >= 3000).map((a) => `${c.backend} ${c.caseId} ${a.via} ${a.ms} ms`));
  if (slow.length > 0) console.log(`# attempts over 3 s: ${slow.join('; ')}`);
  for (const b of matrix.backends) {
    const ms = matrix.cells.filter((c) => c.backend === b).flatMap((c) => c.attempts).reduce((n, a) => n + (a.ms ?? 0), 0);
    console.log(`# ${b}: attempts took ${(ms / 1000).toFixed(1)} s in all`);
  }
});

after(async () => {
  await Promise.allSettled([wasm.close(), hyper.close(), ...containers.map((c) => c.close())]);
  await canaries.close();
});

for (const t of targets) {
  describe(`escape corpus on ${t.backend.name}`, () => {
    for (const c of ESCAPE_CASES) {
      test(`${c.id}: ${c.threat}`, () => {
        const cell = matrix.cells.find((x) => x.backend === t.backend.name && x.caseId === c.id);
        assert.ok(cell, 'the runner judged this cell');
        assert.notEqual(cell.state, 'broke', cell.reason);
      });
    }
  });
}
for (const [name, why] of skipped) test(`escape corpus on ${name}`, { skip: why }, () => {});

test('every backend available here is exercised, not only n.a. (at least 8 cases held on each)', () => {
  for (const t of targets) {
    const held = matrix.cells.filter((c) => c.backend === t.backend.name && c.state === 'held');
    assert.ok(held.length >= 8, `${t.backend.name}: only ${held.length} cells held`);
  }
});

/**
 * A "backend" with no isolation at all: shell code runs as bash on the host, Python as the host's python3, both as
 * this process; a mount is the host directory itself (its guest path in the code replaced by the host path). The
 * corpus must call their attempts broke; if it did not, its checks would be worthless.
 */
class HostInterpreter extends BaseBackend {
  constructor(readonly name: BackendName, private readonly language: Language) {
    super();
  }
  async availability() {
    return { available: true };
  }
  capabilities(): Capabilities {
    return { lifecycle: false, exec: false, files: false, runWasm: false, invoke: false, languages: [this.language], snapshot: false, wasmComponent: false };
  }
  async runCode(_l: Language, code: string, o: RunCodeOptions = {}): Promise<ExecResult> {
    for (const m of o.mounts ?? []) code = code.replaceAll(`"${m.guestPath}`, `"${m.hostPath}`);
    const argv = this.language === 'python' ? ['python3', '-c', code] : ['bash', '-c', code];
    // asynchronously: the canaries' loopback listener lives in this process and must answer meanwhile
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(argv[0], argv.slice(1), { encoding: 'utf8', timeout: Math.min(o.timeoutMs ?? 3000, 3000) }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 124) : 0, stdout, stderr }));
      child.stdin?.end();
    });
    return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr, stdoutTruncated: false, stderrTruncated: false, durationMs: 0, backend: this.name };
  }
  async close() {}
}

const shadowReadable = (() => { try { readFileSync('/etc/shadow'); return true; } catch { return false; } })();

test('the corpus has teeth: an unsandboxed shell breaks the file, network and environment cases', async () => {
  const ids = [...(shadowReadable ? ['read-etc-shadow'] : []), 'read-host-tmp', 'read-home', 'read-project', 'write-outside', 'net-host-loopback', 'host-env'];
  const m = await runEscapeCorpus([{ backend: new HostInterpreter('host-shell' as BackendName, 'shell') }], { canaries, cases: ESCAPE_CASES.filter((c) => ids.includes(c.id)) });
  for (const id of ids) {
    const cell = m.cells.find((c) => c.caseId === id);
    assert.equal(cell?.state, 'broke', `${id} should break on the host itself: ${cell?.reason}`);
  }
  assert.match(renderTable(m), /BROKE/);
  assert.deepEqual(canaries.outsideEntries(), ['escaped']);
  rmSync(join(canaries.paths.outside, 'escaped'));
});

const hostPython = spawnSync('python3', ['-c', 'import sys; print(sys.version_info >= (3, 8))'], { encoding: 'utf8' }).stdout?.trim() === 'True';
test('the CPython-under-WASI attempts have teeth: the host\'s own python3 breaks them by the canaries', { skip: hostPython ? false : 'no python3 (3.8+) on this host' }, async () => {
  // not write-outside (it writes into the guest's own / and stdlib, here the host's system directories) nor
  // net-egress (its tries leave loopback)
  const ids = [...(shadowReadable ? ['read-etc-shadow'] : []), 'read-host-tmp', 'read-home', 'read-project', 'net-host-loopback', 'host-env'];
  // only the attempts written for the micro-VM's CPython, offered to the host interpreter
  const cases = ESCAPE_CASES.filter((c) => ids.includes(c.id)).map((c) => ({
    ...c,
    attempts: c.attempts.filter((a) => a.via === 'python' && a.only?.includes('hyperlight')).map((a) => ({ ...a, only: undefined })),
  }));
  assert.ok(cases.every((c) => c.attempts.length > 0), 'each case has a CPython attempt');
  const m = await runEscapeCorpus([{ backend: new HostInterpreter('host-python' as BackendName, 'python') }], { canaries, cases });
  const caught: Record<string, RegExp> = { 'net-host-loopback': /loopback listener got \d+ connection/, 'read-etc-shadow': /\/etc\/shadow appears/ };
  for (const id of ids) {
    const cell = m.cells.find((c) => c.caseId === id);
    assert.equal(cell?.state, 'broke', `${id} should break on the host itself`);
    assert.match(cell.reason ?? '', caught[id] ?? /the canary secret appears/, `${id} broke for the wrong reason: ${cell.reason}`);
  }
});
