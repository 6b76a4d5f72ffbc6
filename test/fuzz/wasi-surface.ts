/**
 * Fuzzed surface: the WASI layer called directly, as a guest would, over a 64 KiB memory and a real temp
 * directory with two preopens. Every call returns a WASI errno (or ends the guest with WasiExit); nothing
 * outside the writable preopen changes; no file outside the preopens is opened or stat'ed, and their marker
 * never reaches guest memory or output; no host fd leaks once the instance is closed.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { WasiExit, WasiPreview1 } from '../../src/runtimes/wasi/wasi.js';
import type { OutputSink } from '../../src/runtimes/types.js';
import { makeTree, type FuzzTree } from './fs-tree.js';
import type { FuzzSurface, OpenSurface } from './runner.js';
import { describeCall, memoryImage, resolveArgs, wasiCaseArb, MEM_SIZE, SCRATCH, type WasiCase } from './wasi-gen.js';

const MAX_ERRNO = 76;

/** Output of one case, kept to check it for the marker (bounded: a guest may write a lot). */
export class BoundedSink implements OutputSink {
  readonly chunks: Buffer[] = [];
  private size = 0;
  stdout(d: Uint8Array | string): void {
    this.push(d);
  }
  stderr(d: Uint8Array | string): void {
    this.push(d);
  }
  private push(d: Uint8Array | string): void {
    if (this.size > 1 << 20) return;
    const b = Buffer.from(d as Uint8Array);
    this.size += b.byteLength;
    this.chunks.push(b);
  }
  text(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const fdCount = (): number => readdirSync('/proc/self/fd').length;

/** Runs one case; throws (an assertion) on any broken invariant. */
export function runWasiCase(tree: FuzzTree, c: WasiCase, successes?: Map<string, number>): void {
  const mem = memoryImage(c);
  const dv = new DataView(mem.buffer);
  const out = new BoundedSink();
  const fdsBefore = fdCount();
  const wasi = new WasiPreview1({
    args: ['fuzz', 'arg'], env: { A: 'b' }, stdin: Buffer.from('stdin bytes\n'), out, mounts: tree.mounts, deadline: Date.now() + 5,
  });
  wasi.bindMemory(() => mem);
  const stat = SCRATCH + 1000 - 64;
  try {
    for (const call of c.calls) {
      const args = resolveArgs(c, call);
      let r: number;
      try {
        r = wasi.imports[call.name]!(...args);
      } catch (e) {
        if (e instanceof WasiExit) break;
        throw new Error(`${describeCall(c, call)} threw ${String((e as Error)?.stack ?? e)}`);
      }
      assert.ok(Number.isInteger(r) && r >= 0 && r <= MAX_ERRNO, `${describeCall(c, call)} returned ${r}, not an errno`);
      assert.equal(Buffer.from(mem.buffer).indexOf(tree.marker), -1, `${describeCall(c, call)}: a file outside the preopens reached guest memory`);
      if (r !== 0) continue;
      successes?.set(call.name, (successes.get(call.name) ?? 0) + 1);
      // what was opened or stat'ed must not be a file outside the preopens
      if (call.name === 'path_open') {
        const at = args[args.length - 1] as number;
        const fd = at >>> 0 <= MEM_SIZE - 4 ? dv.getUint32(at >>> 0, true) : -1;
        if (fd >= 0 && wasi.imports.fd_filestat_get!(fd, stat) === 0) {
          assert.ok(!tree.outsideInodes.has(dv.getBigUint64(stat + 8, true)), `${describeCall(c, call)} opened a file outside the preopens`);
        }
      } else if (call.name === 'path_filestat_get') {
        const at = (args[args.length - 1] as number) >>> 0;
        assert.ok(!tree.outsideInodes.has(dv.getBigUint64(at + 8, true)), `${describeCall(c, call)} stat'ed a file outside the preopens`);
      }
    }
  } finally {
    wasi.close();
  }
  assert.equal(out.text().indexOf(tree.marker), -1, 'a file outside the preopens reached guest output');
  assert.equal(fdCount(), fdsBefore, 'host file descriptors leaked after close()');
}

export const wasiSurface: FuzzSurface = {
  name: 'wasi',
  ciRuns: 400,
  async open(): Promise<OpenSurface> {
    const tree = makeTree();
    const before = tree.snapshot();
    const successes = new Map<string, number>();
    let cases = 0;
    return {
      property: fc.asyncProperty(wasiCaseArb(), async (c) => {
        cases++;
        tree.reset();
        runWasiCase(tree, c, successes);
        assert.equal(tree.snapshot(), before, 'something outside the writable preopen changed');
      }),
      // the grammar must reach past argument checking: files opened, read, written, created
      healthy: async () => {
        if (cases < 200) return;
        for (const name of ['path_open', 'fd_read', 'fd_write', 'path_create_directory', 'fd_readdir', 'path_filestat_get']) {
          assert.ok((successes.get(name) ?? 0) > 0, `no successful ${name} in ${cases} cases: the generator no longer reaches it`);
        }
      },
      stats: () => Object.fromEntries([...successes].sort((a, b) => b[1] - a[1]).map(([k, v]) => [`${k} ok`, v])),
      close: async () => tree.remove(),
    };
  },
};
