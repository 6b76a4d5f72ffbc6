/**
 * Running guests on the real /dev/kvm: host calls, timeouts and cancellation, CPU faults, hostile messages, and
 * several VMs running at once. Skipped, with the reason, where micro-VMs cannot run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AK_HC_WASI_BASE, AK_MSG_ADDR, MSG } from '../../src/backends/hyperlight/abi.js';
import { ConflictError, ValidationError } from '../../src/core/errors.js';
import { GuestProtocolError, parseOutputRecords, vmmAvailability, vmmStats, type AkMessage, type MicroVm } from '../../src/backends/hyperlight/vmm.js';
import { bootToReady, call, cleanupGuests, MiB, skipReason, type ReadyGuest } from './helpers.js';

const skip = await skipReason();
if (skip) console.log(`# skipping micro-VM run tests: ${skip}`);

test('vmmAvailability() explains itself', () => {
  const a = vmmAvailability();
  assert.equal(typeof a.available, 'boolean');
  assert.equal(typeof a.details, 'object');
  if (a.available) assert.equal(a.details.kvmApiVersion, 12);
  else assert.ok(a.reason && a.reason.length > 0, 'an unavailable engine says why');
});

describe('micro-VM runs', { skip }, () => {
  let hello: ReadyGuest;
  let spin: ReadyGuest;
  let fault: ReadyGuest;
  let hostile: ReadyGuest;

  before(async () => {
    hello = await bootToReady('hello');
    spin = await bootToReady('spin');
    fault = await bootToReady('fault');
    hostile = await bootToReady('hostile');
  });

  after(async () => {
    for (const g of [hello, spin, fault, hostile]) g?.snapshot.dispose();
    await cleanupGuests();
  });

  test('hello: output through a host call, results through DONE, repeatedly after reset', async () => {
    const vm = hello.snapshot.createVm();
    try {
      for (let i = 0; i < 3; i++) {
        if (i > 0) vm.reset();
        const r = await call(vm, hello.dispatch, [41 + i]);
        assert.equal(r.exit.kind, 'done');
        assert.equal(r.hostcalls, 1);
        assert.equal(r.output.get(1), 'hello from the guest\n');
        assert.deepEqual(r.msg?.results, [BigInt(42 + i), 1n, 0n], 'args[0] + 1, calls since the snapshot = 1, flush status 0');
      }
    } finally {
      await vm.dispose();
    }
  });

  test('the reply status reaches the guest', async () => {
    const vm = hello.snapshot.createVm();
    try {
      vm.writeRequest({ op: 2, args: [0] });
      vm.enter(hello.dispatch);
      const first = await vm.run({ timeoutMs: 5000 });
      assert.equal(first.kind, 'hostcall');
      vm.writeReply({ status: -7 });
      const second = await vm.run({ timeoutMs: 5000 });
      assert.equal(second.kind, 'done');
      assert.equal(vm.readMsg().results[2], BigInt.asUintN(64, -7n));
    } finally {
      await vm.dispose();
    }
  });

  test('a spinning guest is stopped by its timeout, then by cancel(), and the VM works after reset', async () => {
    const vm = spin.snapshot.createVm();
    try {
      const r = await call(vm, spin.dispatch, [0], { timeoutMs: 100 });
      assert.equal(r.exit.kind, 'timeout');
      assert.ok(r.exit.rip >= 0x200000n && r.exit.rip < 0x300000n, 'stopped inside the guest image');

      // resuming continues the spin; cancel() stops it (and the event loop kept running meanwhile)
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const running = vm.run();
      await new Promise((res) => setTimeout(res, 60));
      assert.equal(vm.busy, true);
      assert.throws(() => vm.reset(), ConflictError, 'no reset while running');
      assert.equal(vm.cancel(), true);
      const stopped = await running;
      clearInterval(timer);
      assert.equal(stopped.kind, 'cancelled');
      assert.ok(ticks > 0, 'timers fired while the guest was running');

      // an AbortSignal does the same
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 30);
      assert.equal((await vm.run({ signal: ac.signal })).kind, 'cancelled');

      vm.reset();
      const done = await call(vm, spin.dispatch, [100000]);
      assert.equal(done.exit.kind, 'done');
      assert.deepEqual(done.msg?.results, [100000n]);
      assert.equal(vm.cancel(), false, 'nothing to cancel when idle');
    } finally {
      await vm.dispose();
    }
  });

  const faults: [number, string, 'fault' | 'unexpected'][] = [
    [0, 'ud2', 'fault'],
    [1, 'write past guest memory', 'fault'],
    [2, 'divide by zero', 'fault'],
    [3, 'null pointer write', 'fault'],
    [4, 'write to the GDT', 'fault'],
    [5, 'hlt', 'fault'],
    [9, 'execute the message area', 'fault'],
    [10, 'non-canonical address', 'fault'],
    [7, 'in from an ABI port', 'unexpected'],
  ];
  for (const [mode, what, kind] of faults) {
    test(`fault: ${what} is reported, the host survives, the VM is reusable after reset`, async () => {
      const vm = fault.snapshot.createVm();
      try {
        const r = await call(vm, fault.dispatch, [mode]);
        assert.equal(r.exit.kind, kind, JSON.stringify(r.exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
        if (r.exit.kind === 'fault') assert.match(r.exit.detail, /CPU exception/);
        assert.equal(vm.stopped, true);
        await assert.rejects(vm.run(), ConflictError, 'a stopped VM does not resume');
        vm.reset();
        assert.equal(vm.stopped, false);
        const ok = await call(vm, fault.dispatch, [99]);
        assert.equal(ok.exit.kind, 'done');
      } finally {
        await vm.dispose();
      }
    });
  }

  test('fault: I/O on a port outside the ABI and `syscall` stop the guest', async () => {
    const vm = fault.snapshot.createVm();
    try {
      for (const mode of [6, 8]) {
        vm.reset();
        const r = await call(vm, fault.dispatch, [mode]);
        assert.ok(r.exit.kind === 'fault' || r.exit.kind === 'unexpected', `mode ${mode}: ${r.exit.kind}`);
      }
    } finally {
      await vm.dispose();
    }
  });

  test('hostile messages are rejected before the host touches memory they point at', async () => {
    const vm = hostile.snapshot.createVm();
    const rejected: string[] = [];
    // what a WASI host would do with fd_write: read the iovec array from linear memory
    const serve = (v: MicroVm, msg: AkMessage): number => {
      if (msg.func !== AK_HC_WASI_BASE + 26) return 52;
      v.linearMemory(msg).read(Number(msg.args[1]), Number(msg.args[2]) * 8);
      return 0;
    };
    try {
      for (let mode = 0; mode <= 7; mode++) {
        vm.reset();
        vm.writeRequest({ op: 2, args: [mode] });
        vm.enter(hostile.dispatch);
        const exit = await vm.run({ timeoutMs: 5000 });
        assert.equal(exit.kind, 'hostcall', `mode ${mode}`);
        let status = 0;
        try {
          const msg = vm.readMsg();
          if (msg.func === 1) parseOutputRecords(vm.readMsgData(msg));
          else status = serve(vm, msg);
        } catch (e) {
          assert.ok(e instanceof GuestProtocolError, `mode ${mode}: ${String(e)}`);
          rejected.push(String(mode));
          status = 21; // WASI EFAULT
        }
        vm.writeReply({ status });
        const end = await vm.run({ timeoutMs: 5000 });
        assert.equal(end.kind, 'done', `mode ${mode} ends normally`);
        // (the message still holds the hostile fields: read the status word alone)
        assert.equal(vm.readGuest(AK_MSG_ADDR + MSG.status, 4).readInt32LE(0), status);
      }
      assert.deepEqual(rejected, ['0', '1', '2', '3', '4', '5', '6'], 'every hostile mode but the unknown function (served as ENOSYS)');
    } finally {
      await vm.dispose();
    }
  });

  test('guest memory access is bounds-checked', async () => {
    const vm = hello.snapshot.createVm();
    try {
      assert.throws(() => vm.readGuest(16 * MiB - 4, 8), ValidationError);
      assert.throws(() => vm.readGuest(2 ** 53, 1), ValidationError);
      assert.throws(() => vm.readGuest(-1, 1), ValidationError);
      assert.throws(() => vm.writeGuest(16 * MiB, new Uint8Array(1)), ValidationError);
      assert.throws(() => vm.writeGuest(0x1000, new Uint8Array(8)), ValidationError, 'the host area is not writable');
      assert.throws(() => vm.enter(16 * MiB), ValidationError);
      assert.equal(vm.readGuest(16 * MiB - 8, 8).length, 8);
    } finally {
      await vm.dispose();
    }
    assert.throws(() => vm.readGuest(0x10000, 8), ConflictError, 'no access after dispose');
  });

  test('dispose() of a running VM stops the guest and releases the VM', async () => {
    const before = vmmStats().vms;
    const vm = spin.snapshot.createVm();
    const running = call(vm, spin.dispatch, [0], { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20));
    await vm.dispose();
    assert.equal((await running).exit.kind, 'cancelled');
    assert.equal(vmmStats().vms, before);
  });

  test('several async callers run VMs at once', async () => {
    const vms = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? hello : spin).snapshot.createVmAsync()));
    try {
      const results = await Promise.all(
        vms.map(async (vm, i) => {
          const rounds: bigint[] = [];
          for (let k = 0; k < 5; k++) {
            vm.reset();
            const r = i % 2 ? await call(vm, hello.dispatch, [i * 100 + k]) : await call(vm, spin.dispatch, [20000 + i * 1000 + k]);
            assert.equal(r.exit.kind, 'done');
            rounds.push(r.msg!.results[0]);
          }
          return rounds;
        }),
      );
      results.forEach((rounds, i) => {
        const want = Array.from({ length: 5 }, (_, k) => BigInt(i % 2 ? i * 100 + k + 1 : 20000 + i * 1000 + k));
        assert.deepEqual(rounds, want, `caller ${i}`);
      });
    } finally {
      await Promise.all(vms.map((vm) => vm.dispose()));
    }
  });

  test('spinning guests do not hold up others', async () => {
    const spinners = await Promise.all([spin.snapshot.createVmAsync(), spin.snapshot.createVmAsync()]);
    const worker = hello.snapshot.createVm();
    try {
      const spinning = spinners.map((vm) => call(vm, spin.dispatch, [0], { timeoutMs: 2000 }));
      const r = await call(worker, hello.dispatch, [1]);
      assert.equal(r.exit.kind, 'done');
      for (const vm of spinners) assert.equal(vm.busy, true, 'the spinners were still running when the call finished');
      for (const vm of spinners) vm.cancel();
      for (const s of await Promise.all(spinning)) assert.equal(s.exit.kind, 'cancelled');
    } finally {
      await Promise.all([...spinners, worker].map((vm) => vm.dispose()));
    }
  });
});
