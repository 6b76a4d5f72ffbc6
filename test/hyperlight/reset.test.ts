/**
 * Resetting a micro-VM to its snapshot, both ways the engine does it (copying back the pages written since the
 * last reset, or dropping every private page past the copy limit): whatever a run wrote, the guest itself, the host
 * through writeGuest, or JavaScript through a view, the next run on the same VM finds the snapshot's bytes. Checked
 * on the engine with a hand-written guest, on a plain Wasm module (WASI writes through a view) and on JavaScript.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MicroVmJavaScript } from '../../src/backends/hyperlight/code/javascript.js';
import { GuestImage, callImage, prepareModule } from '../../src/backends/hyperlight/sandbox.js';
import { AK_MSG_ADDR } from '../../src/backends/hyperlight/abi.js';
import { vmmSetResetCopyLimit, vmmStats, type VmmStats } from '../../src/backends/hyperlight/vmm.js';
import type { CodeRequest, OutputSink } from '../../src/runtimes/types.js';
import { loadModuleBytes } from '../../src/runtimes/wasm/module.js';
import { bootToReady, call, cleanupGuests, MiB, skipReason } from '../hyperlight-vmm/helpers.js';

const skip = await skipReason();
if (skip) console.log(`# skipping reset tests: ${skip}`);

const DEFAULT_LIMIT = 16 * MiB;
const MODES = [
  { name: 'copying back written pages', limit: DEFAULT_LIMIT, counter: 'resetsCopied' },
  { name: 'dropping private pages', limit: 0, counter: 'resetsDropped' },
] as const;

after(async () => {
  if (!skip) vmmSetResetCopyLimit(DEFAULT_LIMIT);
  await cleanupGuests();
});

/** How many resets of the given kind happened while fn ran. */
async function resetsDuring(counter: keyof VmmStats, fn: () => Promise<void>): Promise<number> {
  const before = vmmStats()[counter];
  await fn();
  return vmmStats()[counter] - before;
}

describe('engine: one VM reset between calls', { skip }, () => {
  for (const mode of MODES) {
    test(`guest writes to .data, .bss, a hole and xmm15 are gone after reset (${mode.name})`, async () => {
      vmmSetResetCopyLimit(mode.limit);
      const g = await bootToReady('memory');
      const vm = g.snapshot.createVm();
      try {
        const n = await resetsDuring(mode.counter, async () => {
          for (let i = 1; i <= 4; i++) {
            const r = await call(vm, g.dispatch, [0x5a5a0000 + i]);
            assert.equal(r.exit.kind, 'done');
            // results: old global, nonzero bytes in the buffer, old value of the high (hole) page, old xmm15
            assert.deepEqual(r.msg?.results, [0n, 0n, 0n, 0n], `call ${i} saw an earlier call's marks`);
            vm.reset();
          }
        });
        assert.equal(n, 4);
      } finally {
        await vm.dispose();
        g.snapshot.dispose();
      }
    });

    test(`host writes (writeGuest and a view) are undone by reset (${mode.name})`, async () => {
      vmmSetResetCopyLimit(mode.limit);
      const g = await bootToReady('memory');
      const vm = g.snapshot.createVm();
      // the message area holds the snapshot's READY message; 2 MiB up is a page of the image
      const spots = [AK_MSG_ADDR + 64, 2 * MiB + 0x3000];
      try {
        const pristine = spots.map((a) => vm.readGuest(a, 4096));
        for (let i = 0; i < 3; i++) {
          vm.writeGuest(spots[0]!, new Uint8Array(4096).fill(0xa5));
          vm.withView(spots[1]!, 4096, (view) => view.fill(0x5a));
          assert.equal(vm.readGuest(spots[0]!, 1)[0], 0xa5);
          assert.equal(vm.readGuest(spots[1]!, 1)[0], 0x5a);
          vm.reset();
          spots.forEach((a, j) => assert.deepEqual(vm.readGuest(a, 4096), pristine[j], `reset ${i} left the host's write at 0x${a.toString(16)}`));
          // and the guest itself finds nothing either
          const r = await call(vm, g.dispatch, [7]);
          assert.deepEqual(r.msg?.results, [0n, 0n, 0n, 0n]);
          vm.reset();
        }
      } finally {
        await vm.dispose();
        g.snapshot.dispose();
      }
    });
  }

  test('a VM whose written pages pass the copy limit drops them instead, and is still exact', async () => {
    vmmSetResetCopyLimit(8 * 1024); // two pages: one call of the memory guest writes more
    const g = await bootToReady('memory');
    const vm = g.snapshot.createVm();
    try {
      const dropped = await resetsDuring('resetsDropped', async () => {
        for (let i = 1; i <= 3; i++) {
          const r = await call(vm, g.dispatch, [i]);
          assert.deepEqual(r.msg?.results, [0n, 0n, 0n, 0n]);
          vm.reset();
        }
      });
      assert.equal(dropped, 3);
    } finally {
      vmmSetResetCopyLimit(DEFAULT_LIMIT);
      await vm.dispose();
      g.snapshot.dispose();
    }
  });
});

/** A WASI program that fails (exit 1) if linear memory, its global or its size is not the snapshot's, then
 * leaves marks: its own stores, a grown memory, and host writes through WASI (clock_time_get, random_get). */
const MARKER = `(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (global $g (mut i32) (i32.const 0))
  (func $check (param $addr i32)
    (if (i64.ne (i64.load (local.get $addr)) (i64.const 0)) (then (call $exit (i32.const 1)))))
  (func (export "_start")
    (call $check (i32.const 1024))
    (call $check (i32.const 2048))
    (call $check (i32.const 70000))
    (if (i32.ne (global.get $g) (i32.const 0)) (then (call $exit (i32.const 2))))
    (if (i32.ne (memory.size) (i32.const 2)) (then (call $exit (i32.const 3))))
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 1024)))
    (drop (call $random (i32.const 2048) (i32.const 16)))
    (i64.store (i32.const 70000) (i64.const -1))
    (global.set $g (i32.const 1))
    (drop (memory.grow (i32.const 1)))))`;

/** Fails (exit 1) unless every 4 KiB page of its 3 MiB of linear memory starts at zero, then writes each one:
 * more pages than a reset keeps writable, so most are write-protected again and must be logged when rewritten. */
const SPREAD = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 48)
  (func (export "_start") (local $a i32)
    (loop $pages
      (if (i64.ne (i64.load (local.get $a)) (i64.const 0)) (then (call $exit (i32.const 1))))
      (i64.store (local.get $a) (i64.const -1))
      (local.set $a (i32.add (local.get $a) (i32.const 4096)))
      (br_if $pages (i32.lt_u (local.get $a) (i32.const 3145728))))))`;

describe('a Wasm module on one pooled VM', { skip }, () => {
  test('a run that writes hundreds of pages leaves none of them written for the next runs', async () => {
    vmmSetResetCopyLimit(DEFAULT_LIMIT);
    const silent: OutputSink = { stdout: () => {}, stderr: () => {} };
    const ctx = { env: {}, stdin: new Uint8Array(0), mounts: [], timeoutMs: 5000, out: silent };
    const image = await GuestImage.boot(await prepareModule(await loadModuleBytes(SPREAD)), 8, 5000);
    try {
      const before = vmmStats();
      for (let i = 0; i < 4; i++) {
        const r = await callImage(image, { op: 'start', programName: 'spread', args: [] }, ctx);
        assert.equal(r.exitCode, 0, `run ${i} found a page written by an earlier run`);
      }
      assert.equal(image.pool.stats.created, 1, JSON.stringify(image.pool.stats));
      assert.ok(vmmStats().resetsCopied - before.resetsCopied >= 3);
      assert.ok(vmmStats().pagesRestored - before.pagesRestored >= 3 * 768);
    } finally {
      await image.close();
    }
  });

  for (const mode of MODES) {
    test(`no run sees the marks of the run before (${mode.name})`, async () => {
      vmmSetResetCopyLimit(mode.limit);
      const silent: OutputSink = { stdout: () => {}, stderr: () => {} };
      const ctx = { env: {}, stdin: new Uint8Array(0), mounts: [], timeoutMs: 5000, out: silent };
      const image = await GuestImage.boot(await prepareModule(await loadModuleBytes(MARKER)), 8, 5000);
      try {
        const n = await resetsDuring(mode.counter, async () => {
          for (let i = 0; i < 4; i++) {
            const r = await callImage(image, { op: 'start', programName: 'marker', args: [] }, ctx);
            assert.equal(r.exitCode, 0, `run ${i} found an earlier run's mark (exit ${r.exitCode})`);
          }
        });
        assert.equal(image.pool.stats.created, 1, JSON.stringify(image.pool.stats));
        assert.ok(n >= 3, `${n} resets`);
      } finally {
        await image.close();
      }
    });
  }
});

describe('JavaScript on one pooled VM', { skip }, () => {
  const rt = new MicroVmJavaScript();
  // the guest is compiled on first use (minutes, once per machine), and booted once: not within a run's deadline
  before(() => rt.image(16));
  after(() => rt.close());
  const request = (code: string): CodeRequest => ({ code, env: {}, stdin: new Uint8Array(0), mounts: [], memoryMb: 16, deadline: Date.now() + 10_000 });

  for (const mode of MODES) {
    test(`globals, prototypes and heap of one run are gone in the next (${mode.name})`, async () => {
      vmmSetResetCopyLimit(mode.limit);
      // the long comment makes the code bigger than the message area: it is written into linear memory by the host
      const code = (i: number) => `${i % 2 ? `/*${'x'.repeat(70_000)}*/` : ''}
        console.log(typeof globalThis.marker, ({}).polluted, Array.isArray(globalThis.big));
        globalThis.marker = ${i}; Object.prototype.polluted = 1; globalThis.big = new Array(50000).fill('m');`;
      const n = await resetsDuring(mode.counter, async () => {
        for (let i = 0; i < 4; i++) {
          let stdout = '';
          const out: OutputSink = { stdout: (d) => (stdout += Buffer.from(d).toString()), stderr: (d) => (stdout += Buffer.from(d).toString()) };
          const r = await rt.run(request(code(i)), out);
          assert.equal(r.exitCode, 0, stdout);
          assert.equal(stdout, 'undefined undefined false\n', `run ${i}`);
        }
      });
      assert.ok(n >= 3, `${n} resets`);
    });
  }
});
