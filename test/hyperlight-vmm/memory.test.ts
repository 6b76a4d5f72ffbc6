/**
 * Guest memory across VMs: a reset or pooled VM never sees what an earlier call wrote, snapshots fork a VM's
 * state, and creating/disposing many VMs leaks neither file descriptors nor memory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConflictError, ValidationError } from '../../src/core/errors.js';
import { MicroVm, Snapshot, VmPool, vmmSetShellCache, vmmStats } from '../../src/backends/hyperlight/vmm.js';
import { bootToReady, call, cleanupGuests, fdCount, guestImage, MiB, rssBytes, skipReason, type ReadyGuest } from './helpers.js';

const skip = await skipReason();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
if (skip) console.log(`# skipping micro-VM memory tests: ${skip}`);

/** The memory guest's results: {old global, nonzero bytes of its buffer, old value of a high page, old xmm15}. */
const CLEAN = [0n, 0n, 0n, 0n];
const marked = (m: bigint) => [m, 128n, m, m];

describe('micro-VM memory', { skip }, () => {
  let mem: ReadyGuest;
  let hello: ReadyGuest;

  before(async () => {
    mem = await bootToReady('memory');
    hello = await bootToReady('hello');
  });

  after(async () => {
    mem?.snapshot.dispose();
    hello?.snapshot.dispose();
    await cleanupGuests();
  });

  test('without a reset a VM keeps its writes; a reset drops them', async () => {
    const vm = mem.snapshot.createVm();
    try {
      assert.deepEqual((await call(vm, mem.dispatch, [7])).msg?.results, CLEAN);
      assert.deepEqual((await call(vm, mem.dispatch, [9])).msg?.results, marked(7n), 'the same VM, not reset, sees its writes');
      vm.reset();
      assert.deepEqual((await call(vm, mem.dispatch, [11])).msg?.results, CLEAN, 'a reset VM sees the snapshot');
    } finally {
      await vm.dispose();
    }
  });

  test('a pooled VM never sees what the previous caller wrote', async () => {
    const pool = new VmPool(mem.snapshot, { maxIdle: 2, maxVms: 2 });
    try {
      for (let i = 1; i <= 20; i++) {
        const vm = await pool.acquire();
        const r = await call(vm, mem.dispatch, [i]);
        assert.deepEqual(r.msg?.results, CLEAN, `call ${i}`);
        pool.release(vm);
      }
      const s = pool.stats;
      assert.ok(s.created <= 2, `VMs were reused (created ${s.created})`);
      assert.equal(s.reused, 20 - s.created);
    } finally {
      await pool.close();
    }
  });

  test('the pool discards a faulted VM, caps its size, and hands released VMs to waiters', async () => {
    const pool = new VmPool(hello.snapshot, { maxIdle: 1, maxVms: 1 });
    try {
      const a = await pool.acquire();
      const waiting = pool.acquire();
      assert.equal(pool.stats.waiting, 1);
      assert.equal((await call(a, hello.dispatch, [1])).exit.kind, 'done');
      pool.release(a);
      const b = await waiting;
      assert.equal(b, a, 'the reset VM went to the waiter');
      assert.equal((await call(b, hello.dispatch, [2])).msg?.results[1], 1n, 'fresh state: one call since the snapshot');
      // a VM that faulted is not reused
      b.enter(0x10000); // executing the message area faults
      assert.equal((await b.run({ timeoutMs: 5000 })).kind, 'fault');
      pool.release(b);
      assert.equal(pool.stats.discarded, 1);
      const c = await pool.acquire();
      assert.notEqual(c, b);
      assert.equal((await call(c, hello.dispatch, [3])).exit.kind, 'done');
      assert.throws(() => pool.release(b), ValidationError, 'a VM is released once');
      pool.release(c);
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.acquire(), ConflictError);
  });

  test('a recycled KVM VM (shell) carries nothing over from the VM disposed before', async () => {
    const first = mem.snapshot.createVm();
    assert.deepEqual((await call(first, mem.dispatch, [77])).msg?.results, CLEAN);
    await first.dispose();
    const shellsBefore = vmmStats().shells;
    assert.ok(shellsBefore >= 1, 'the clean VM left its shell');
    const second = mem.snapshot.createVm();
    try {
      assert.equal(vmmStats().shells, shellsBefore - 1, 'the new VM took it');
      assert.deepEqual((await call(second, mem.dispatch, [78])).msg?.results, CLEAN);
    } finally {
      await second.dispose();
    }
    // a VM that faulted is closed, never recycled
    const faulty = mem.snapshot.createVm();
    faulty.enter(0x10000);
    assert.equal((await faulty.run({ timeoutMs: 5000 })).kind, 'fault');
    const shells = vmmStats().shells;
    await faulty.dispose();
    assert.equal(vmmStats().shells, shells);
  });

  test('recycling can be turned off, releasing every cached shell', async () => {
    const vm = hello.snapshot.createVm();
    await call(vm, hello.dispatch, [1]);
    await vm.dispose();
    assert.ok(vmmStats().shells >= 1);
    const fds = await fdCount();
    vmmSetShellCache(0);
    try {
      assert.equal(vmmStats().shells, 0);
      assert.ok((await fdCount()) < fds, 'the shells\' fds were closed');
      const again = hello.snapshot.createVm();
      await again.dispose();
      assert.equal(vmmStats().shells, 0);
    } finally {
      vmmSetShellCache(16);
    }
  });

  test('the pool prewarms minIdle VMs', async () => {
    const pool = new VmPool(hello.snapshot, { minIdle: 2, maxIdle: 2 });
    try {
      for (let i = 0; i < 1000 && pool.stats.idle < 2; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(pool.stats.idle, 2);
      const vm = await pool.acquire();
      assert.equal(pool.stats.reused, 1);
      pool.release(vm);
    } finally {
      await pool.close();
    }
  });

  test('snapshot() forks a VM: the copy continues from its state, the original resets to its own snapshot', async () => {
    const vm = mem.snapshot.createVm();
    try {
      await call(vm, mem.dispatch, [42]);
      const fork = await vm.snapshot();
      assert.equal(fork.memSize, vm.memSize);
      assert.ok(fork.populatedBytes < vm.memSize / 4, `only pages with data are copied (${fork.populatedBytes} bytes)`);
      const child = fork.createVm();
      const grandchild = await fork.createVmAsync();
      fork.dispose(); // the VMs keep the memory alive
      try {
        assert.deepEqual((await call(child, mem.dispatch, [43])).msg?.results, marked(42n), 'the fork sees the parent\'s writes');
        child.reset();
        assert.deepEqual((await call(child, mem.dispatch, [44])).msg?.results, marked(42n), 'and resets to the fork point');
        assert.deepEqual((await call(grandchild, mem.dispatch, [45])).msg?.results, marked(42n));
        vm.reset();
        assert.deepEqual((await call(vm, mem.dispatch, [46])).msg?.results, CLEAN, 'the parent is unaffected');
      } finally {
        await Promise.all([child.dispose(), grandchild.dispose()]);
      }
    } finally {
      await vm.dispose();
    }
  });

  test('a snapshot taken at a host call resumes after it', async () => {
    const vm = hello.snapshot.createVm();
    try {
      vm.writeRequest({ op: 2, args: [5] });
      vm.enter(hello.dispatch);
      assert.equal((await vm.run({ timeoutMs: 5000 })).kind, 'hostcall');
      vm.writeReply({ status: 3 });
      const fork = await vm.snapshot();
      const child = fork.createVm();
      fork.dispose();
      try {
        for (const v of [child, vm]) {
          assert.equal((await v.run({ timeoutMs: 5000 })).kind, 'done', 'continues after the out, not into it again');
          assert.deepEqual(v.readMsg().results, [6n, 1n, 3n]);
        }
      } finally {
        await child.dispose();
      }
    } finally {
      await vm.dispose();
    }
  });

  test('guest images are validated', async () => {
    const img = await guestImage('hello');
    assert.throws(() => Snapshot.fromImage(new Uint8Array(10), { memSize: 16 * MiB }), /not an ELF|too short/);
    assert.throws(() => Snapshot.fromImage(img, { memSize: 3 * MiB }), ValidationError, 'too small');
    assert.throws(() => Snapshot.fromImage(img, { memSize: 16 * MiB + 4096 }), ValidationError, 'not a 2 MiB multiple');
    assert.throws(() => Snapshot.fromImage(img, { memSize: 2048 * MiB }), ValidationError, 'too large');
    const patch = (f: (v: DataView, phoff: number) => void): Uint8Array => {
      const copy = new Uint8Array(img);
      const v = new DataView(copy.buffer);
      f(v, Number(v.getBigUint64(32, true)));
      return copy;
    };
    const cases: [string, Uint8Array][] = [
      ['segment below the image base', patch((v, ph) => { v.setBigUint64(ph + 16, 0x1000n, true); v.setBigUint64(ph + 24, 0x1000n, true); })],
      ['segment past guest memory', patch((v, ph) => { v.setBigUint64(ph + 16, 0xff0000n, true); v.setBigUint64(ph + 24, 0xff0000n, true); })],
      ['file bytes past the end', patch((v, ph) => v.setBigUint64(ph + 32, 1n << 40n, true))],
      ['memsz wraps around', patch((v, ph) => { v.setBigUint64(ph + 40, 0xffffffffffff0000n, true); })],
      ['virtual != physical', patch((v, ph) => v.setBigUint64(ph + 24, 0x400000n, true))],
      ['entry outside the segments', patch((v) => v.setBigUint64(24, 0x100n, true))],
      ['not x86-64', patch((v) => v.setUint16(18, 183, true))],
      ['overlapping segments', patch((v, ph) => { const second = ph + 56; v.setBigUint64(second + 16, 0x200000n, true); v.setBigUint64(second + 24, 0x200000n, true); })],
    ];
    for (const [what, bytes] of cases) assert.throws(() => Snapshot.fromImage(bytes, { memSize: 16 * MiB }), ValidationError, what);
  });

  for (const recycled of [true, false]) {
    test(`1,000 VMs created, run and disposed leak neither fds nor memory (${recycled ? 'recycled shells' : 'new KVM VM each'})`, async () => {
      const cycle = async () => {
        const vm = hello.snapshot.createVm();
        const r = await call(vm, hello.dispatch, [1]);
        assert.equal(r.exit.kind, 'done');
        await vm.dispose();
      };
      const batch = async (n: number) => {
        for (let i = 0; i < n; i += 4) await Promise.all([cycle(), cycle(), cycle(), cycle()]);
      };
      vmmSetShellCache(recycled ? 16 : 0);
      try {
        await batch(100); // warm up: runner threads, allocator arenas, JIT, shell cache
        const vmsBefore = vmmStats().vms;
        const fdsBefore = await fdCount();
        const rssBefore = await rssBytes();
        await batch(1000);
        const fdsAfter = await fdCount();
        const rssAfter = await rssBytes();
        assert.equal(vmmStats().vms, vmsBefore, 'every VM was torn down');
        assert.ok(fdsAfter <= fdsBefore + 2, `fds ${fdsBefore} -> ${fdsAfter}`);
        assert.ok(rssAfter - rssBefore < 24 * MiB, `RSS grew ${((rssAfter - rssBefore) / MiB).toFixed(1)} MiB over 1,000 VMs`);
      } finally {
        vmmSetShellCache(16);
      }
    });
  }

  test('a VM dropped without dispose() is torn down by the garbage collector', async () => {
    const before = vmmStats().vms;
    (() => {
      hello.snapshot.createVm();
    })();
    for (let i = 0; i < 100 && vmmStats().vms > before; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(vmmStats().vms, before);
  });

  test('a disposed VM refuses further use', async () => {
    const vm = MicroVm.boot(await guestImage('hello'), { memSize: 8 * MiB });
    await vm.dispose();
    await vm.dispose();
    assert.equal(vm.disposed, true);
    await assert.rejects(vm.run(), ConflictError);
    assert.throws(() => vm.reset(), ConflictError);
    await assert.rejects(vm.snapshot(), ConflictError);
  });
});
