/**
 * The zero-copy view of guest memory WASI works on: it reads and writes guest RAM itself, and is detached when
 * the callback returns, so a reference kept past it sees nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestImage, prepareModule } from '../../src/backends/hyperlight/sandbox.js';
import { loadModuleBytes } from '../../src/runtimes/wasm/module.js';
import { HELLO, skipReason } from './helpers.js';

const skip = await skipReason();

test('a memory view reaches guest RAM and is detached after use', { skip }, async () => {
  const image = await GuestImage.boot(await prepareModule(await loadModuleBytes(HELLO)), 8, 5000);
  const vm = await image.snapshot!.createVmAsync();
  try {
    const addr = 0x10000 + 0x1000;
    let kept: Uint8Array | undefined;
    const seen = vm.withView(addr, 16, (v) => {
      v[0] = 0xab;
      kept = v;
      return v.byteLength;
    });
    assert.equal(seen, 16);
    assert.equal(vm.readGuest(addr, 1)[0], 0xab);
    assert.equal(kept!.byteLength, 0, 'the view is detached once the callback returns');
    assert.throws(() => vm.withView(0, 16, () => 0), /below the message area/);
    assert.throws(() => vm.withView(vm.memSize - 8, 16, () => 0), /outside guest memory/);
    // a view taken and then outlived by a reset is detached too
    let inner: Uint8Array | undefined;
    assert.throws(() => vm.withView(addr, 16, (v) => {
      inner = v;
      vm.reset();
      throw new Error('after reset');
    }), /after reset/);
    assert.equal(inner!.byteLength, 0);
  } finally {
    await vm.dispose();
    await image.close();
  }
});
