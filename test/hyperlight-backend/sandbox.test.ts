/**
 * MicroVmSandbox: state kept across calls, snapshot/restore forks, and 1,000 sandboxes created and disposed
 * without leaking file descriptors or memory.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MicroVmSandbox } from '../../src/backends/hyperlight/sandbox.js';
import { COUNTER, HELLO, skipReason } from './helpers.js';

const skip = await skipReason();
if (skip) console.log(`# skipping MicroVmSandbox tests: ${skip}`);

const fds = () => readdirSync('/proc/self/fd').length;
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

test('a sandbox keeps its state across calls; snapshot/restore forks it', { skip }, async () => {
  const sb = await MicroVmSandbox.create(COUNTER, { memoryMb: 8 });
  try {
    assert.deepEqual((await sb.invoke('bump')).results, [1, 10]);
    assert.deepEqual((await sb.invoke('bump')).results, [2, 20]);
    const snap = await sb.snapshot();
    try {
      assert.deepEqual((await sb.invoke('bump')).results, [3, 30]);
      const a = await MicroVmSandbox.restore(snap);
      const b = await MicroVmSandbox.restore(snap);
      try {
        assert.deepEqual((await a.invoke('bump')).results, [3, 30]);
        assert.deepEqual((await a.invoke('bump')).results, [4, 40]);
        assert.deepEqual((await b.invoke('bump')).results, [3, 30]);
      } finally {
        await a.dispose();
        await b.dispose();
      }
    } finally {
      snap.dispose();
    }
    assert.deepEqual((await sb.invoke('bump')).results, [4, 40]);
  } finally {
    await sb.dispose();
  }
  await assert.rejects(sb.invoke('bump'), /disposed/);
});

test('a sandbox runs WASI commands and survives a timeout', { skip }, async () => {
  const sb = await MicroVmSandbox.create(HELLO, { memoryMb: 8 });
  try {
    const r = await sb.runWasm();
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'hello\n');
    await assert.rejects(sb.invoke('missing'), /exports no function named "missing"/);
  } finally {
    await sb.dispose();
  }
  const spin = await MicroVmSandbox.create(COUNTER, { memoryMb: 8 });
  try {
    const t = await spin.invoke('spin', [], { timeoutMs: 100 });
    assert.equal(t.exitCode, 124);
    assert.equal(t.timedOut, true);
    assert.deepEqual((await spin.invoke('square', [7])).results, ['49']);
  } finally {
    await spin.dispose();
  }
});

test('1,000 sandboxes created and disposed leak no fds and no memory', { skip }, async () => {
  const base = await MicroVmSandbox.create(COUNTER, { memoryMb: 8 });
  const snap = await base.snapshot();
  const round = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const sb = await MicroVmSandbox.restore(snap);
      assert.deepEqual((await sb.invoke('bump')).results, [1, 10]);
      await sb.dispose();
    }
  };
  try {
    await round(100); // warm: shell cache, runner threads, JIT
    const fd0 = fds();
    const rss0 = rssMb();
    await round(1000);
    const grewFds = fds() - fd0;
    const grewRss = rssMb() - rss0;
    assert.ok(grewFds <= 2, `fds grew by ${grewFds}`);
    assert.ok(grewRss < 48, `RSS grew by ${grewRss.toFixed(1)} MiB`);
  } finally {
    snap.dispose();
    await base.dispose();
  }
});
