/**
 * The generic host import of the micro-VM ABI (AK_HC_IMPORT_BASE): a module importing functions and its memory
 * from a module other than WASI, compiled with that module named as a host module. Its imports reach the host
 * with their arguments as raw bits, the host's answer comes back as the result, and the imported memory is the
 * guest's linear memory the host can read. Without the option such a module is still refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

process.env.AGENTKERNEL_HOME = mkdtempSync(join(tmpdir(), 'ak-hl-imports-'));
after(() => rmSync(process.env.AGENTKERNEL_HOME!, { recursive: true, force: true }));

const { AK_HC_IMPORT_BASE, AK_OP_INVOKE } = await import('../../src/backends/hyperlight/abi.js');
const { compileGuest } = await import('../../src/backends/hyperlight/compile.js');
const { Snapshot, vmmAvailability } = await import('../../src/backends/hyperlight/vmm.js');
const { HyperlightBackend } = await import('../../src/backends/hyperlight/backend.js');
const { loadModuleBytes } = await import('../../src/runtimes/wasm/module.js');
const { readFile } = await import('node:fs/promises');

const a = await new HyperlightBackend().availability();
const skip = a.available ? undefined : `hyperlight unavailable: ${a.reason ?? vmmAvailability().reason}`;

const MODULE = `(module
  (import "env" "scale" (func $scale (param i32 f64) (result f64)))
  (import "env" "note" (func $note (param i64)))
  (import "env" "mem" (memory 2 8))
  (func (export "calc") (param i32) (result f64)
    (i32.store (i32.const 100) (i32.const 0xC0FFEE))
    (call $note (i64.const -2))
    (call $scale (local.get 0) (f64.const 1.5))))`;

const f64Bits = (v: number) => new BigUint64Array(new Float64Array([v]).buffer)[0]!;
const fromBits = (b: bigint) => new Float64Array(new BigUint64Array([b]).buffer)[0]!;

test('imports of a named host module become host calls; the imported memory is linear memory', { skip, timeout: 120_000 }, async () => {
  const bytes = await loadModuleBytes(MODULE);
  const guest = await compileGuest(bytes, { extras: { hostModules: ['env'], sources: [] }, onProgress: () => {} });
  assert.deepEqual(guest.hostImports.map((h) => [h.name, h.index]), [['scale', 0], ['note', 1]]);
  assert.deepEqual(guest.importedMemory, { module: 'env', name: 'mem', initial: 2, maximum: 8 });
  const image = Snapshot.fromImage(await readFile(guest.imagePath), { memSize: 8 * 1024 * 1024 });
  const vm = await image.createVmAsync();
  try {
    const ready = await vm.run({ timeoutMs: 10_000 });
    assert.equal(ready.kind, 'ready');
    const readyMsg = vm.readMsg();
    const calc = guest.exports.find((e) => e.name === 'calc')!.index!;
    vm.writeRequest({ op: AK_OP_INVOKE, func: calc, args: [7] });
    vm.enter(readyMsg.args[0]!);

    let exit = await vm.run({ timeoutMs: 10_000 });
    assert.equal(exit.kind, 'hostcall');
    let msg = vm.readMsg();
    assert.equal(msg.func, AK_HC_IMPORT_BASE + 1);
    assert.deepEqual(msg.args, [BigInt.asUintN(64, -2n)]);
    // the store before the call is visible in the imported memory
    assert.equal(vm.linearMemory(msg).readU32(100), 0xc0ffee);
    assert.equal(Number(msg.memSize), 2 * 65536);
    vm.writeReply({ status: 0 });

    exit = await vm.run({ timeoutMs: 10_000 });
    assert.equal(exit.kind, 'hostcall');
    msg = vm.readMsg();
    assert.equal(msg.func, AK_HC_IMPORT_BASE + 0);
    assert.equal(msg.args[0], 7n);
    assert.equal(fromBits(msg.args[1]!), 1.5);
    vm.writeReply({ status: 0, results: [f64Bits(7 * 1.5 * 2)] });

    exit = await vm.run({ timeoutMs: 10_000 });
    assert.equal(exit.kind, 'done');
    assert.equal(fromBits(vm.readMsg().results[0]!), 21);
  } finally {
    await vm.dispose();
    image.dispose();
  }
});

test('without naming the module, its imports are refused as before', { skip }, async () => {
  const bytes = await loadModuleBytes(MODULE);
  await assert.rejects(compileGuest(bytes, { onProgress: () => {} }), /cannot provide: env\.scale/);
});
