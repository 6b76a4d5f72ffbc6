// Fuzzing the WASI layer directly: arbitrary call sequences, paths, fds, flags and iovecs against real preopens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RIGHTS } from '../../src/runtimes/wasi/constants.js';
import { WASI_SIGNATURES } from '../../src/runtimes/wasi/signatures.js';
import { AK_WASI_FUNCS } from '../../src/backends/hyperlight/abi.js';
import { fuzzTest } from './runner.js';
import { makeTree } from './fs-tree.js';
import { expandedArity, BUF, type Arg, type WasiCase } from './wasi-gen.js';
import { runWasiCase, wasiSurface } from './wasi-surface.js';

const i32 = (v: number): Arg => ({ t: 'i32', v });
const i64 = (v: bigint): Arg => ({ t: 'i64', v });

test('the call grammar covers every WASI function with its exact arity', () => {
  for (const name of AK_WASI_FUNCS) assert.equal(expandedArity(name), WASI_SIGNATURES[name]!.params.length, name);
});

test('arbitrary WASI call sequences return errnos and never reach outside the preopens', async (t) => {
  await fuzzTest(t, wasiSurface);
});

test('the invariant checks catch a real escape (a preopen of the parent directory)', () => {
  const tree = makeTree();
  try {
    const leaky = { ...tree, mounts: [{ hostPath: tree.parent, guestPath: '/p', readOnly: true }] };
    const enc = (s: string) => new TextEncoder().encode(s);
    const c: WasiCase = {
      paths: ['secret', '', '', '', '', '', '', ''].map(enc),
      iovecs: Array.from({ length: 16 }, (): [number, number] => [BUF, 256]),
      subs: [],
      fill: 1,
      calls: [
        { name: 'path_open', args: [i32(3), i32(0), { t: 'path', slot: 0 }, i32(0), i64(RIGHTS.FD_READ | RIGHTS.FD_FILESTAT_GET), i64(0n), i32(0), i32(0)] },
        { name: 'fd_read', args: [i32(4), { t: 'iovs', start: 0, count: 1 }, i32(8)] },
      ],
    };
    assert.throws(() => runWasiCase(leaky, c), /opened a file outside the preopens/);
    assert.throws(() => runWasiCase({ ...leaky, outsideInodes: new Set() }, c), /reached guest memory/);
  } finally {
    tree.remove();
  }
});
