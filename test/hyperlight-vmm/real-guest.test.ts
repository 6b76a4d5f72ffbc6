/**
 * The engine with the real guest runtime: a Wasm module compiled by the hyperlight pipeline (wasm2c + guest/) boots
 * to READY, is snapshotted there, and serves a WASI command (output through AK_HC_FLUSH) and an invocation from
 * VMs made from the snapshot. Skipped where micro-VMs or the guest toolchain are unavailable.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import wabtInit from 'wabt';
import { AK_HC_FLUSH, AK_OP_INVOKE, AK_OP_START } from '../../src/backends/hyperlight/abi.js';
import { compileGuest } from '../../src/backends/hyperlight/compile.js';
import { guestToolchain } from '../../src/backends/hyperlight/toolchain.js';
import { MicroVm, parseOutputRecords, type Snapshot } from '../../src/backends/hyperlight/vmm.js';
import { MiB, skipReason } from './helpers.js';
import { HELLO_WAT } from '../api/fixtures.js';

// the same WASI hello the API tests use
const MODULE = HELLO_WAT;

async function why(): Promise<string | undefined> {
  const s = await skipReason();
  if (s) return s;
  try {
    await guestToolchain();
    return undefined;
  } catch (e) {
    return `guest toolchain unavailable: ${(e as Error).message}`;
  }
}

const skip = await why();
if (skip) console.log(`# skipping the real-guest test: ${skip}`);

let home: string | undefined;
let snapshot: Snapshot | undefined;
let dispatch = 0n;
let addIndex = -1;

before(async () => {
  if (skip) return;
  home = await mkdtemp(join(tmpdir(), 'ak-vmm-home-'));
  process.env.AGENTKERNEL_HOME = home;
  const wabt = await wabtInit();
  const mod = wabt.parseWat('m.wat', MODULE);
  const bytes = new Uint8Array(mod.toBinary({}).buffer);
  mod.destroy();
  const guest = await compileGuest(bytes, { onProgress: () => {} });
  addIndex = guest.exports.find((e) => e.name === 'add')?.index ?? -1;
  const vm = MicroVm.boot(await readFile(guest.imagePath), { memSize: 32 * MiB });
  try {
    const exit = await vm.run({ timeoutMs: 10_000 });
    assert.equal(exit.kind, 'ready');
    dispatch = vm.readMsg().args[0];
    snapshot = await vm.snapshot();
  } finally {
    await vm.dispose();
  }
});

after(async () => {
  snapshot?.dispose();
  if (home) await rm(home, { recursive: true, force: true });
});

test('a compiled WASI command prints through the VM, twice from one snapshot', { skip }, async () => {
  for (let round = 0; round < 2; round++) {
    const vm = snapshot!.createVm();
    try {
      vm.writeRequest({ op: AK_OP_START });
      vm.enter(dispatch);
      let out = '';
      let exit = await vm.run({ timeoutMs: 10_000 });
      while (exit.kind === 'hostcall') {
        const msg = vm.readMsg();
        assert.equal(msg.func, AK_HC_FLUSH);
        for (const r of parseOutputRecords(vm.readMsgData(msg))) out += `${r.fd}:${Buffer.from(r.bytes).toString()}`;
        vm.writeReply({ status: 0 });
        exit = await vm.run({ timeoutMs: 10_000 });
      }
      assert.equal(exit.kind, 'done');
      assert.equal(vm.readMsg().status, 0);
      assert.equal(out, '1:hello from wasm\n');
    } finally {
      await vm.dispose();
    }
  }
});

test('a compiled export is invoked through the dispatch entry', { skip }, async () => {
  assert.ok(addIndex >= 0, 'the pipeline made `add` invokable');
  const vm = snapshot!.createVm();
  try {
    vm.writeRequest({ op: AK_OP_INVOKE, func: addIndex, args: [20, 22] });
    vm.enter(dispatch);
    assert.equal((await vm.run({ timeoutMs: 10_000 })).kind, 'done');
    assert.deepEqual(vm.readMsg().results, [42n]);
  } finally {
    await vm.dispose();
  }
});
