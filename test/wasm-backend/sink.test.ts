/** The worker's output sink: the cap per stream, dropped bytes counted, order kept, writes batched. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchingSink } from '../../src/backends/wasm/worker/sink.js';
import type { OutputChunk } from '../../src/backends/wasm/worker/protocol.js';

const text = (c: OutputChunk): string => `${c.stream}:${Buffer.from(c.data).toString()}`;

test('keeps at most the cap of each stream and counts the rest', () => {
  const sent: OutputChunk[][] = [];
  const s = new BatchingSink(5, (c) => sent.push(c));
  s.stdout('abc');
  s.stdout(new Uint8Array(Buffer.from('defgh')));
  s.stderr('12');
  s.stdout('more');
  s.close();
  const all = sent.flat().map(text).join('|');
  assert.equal(all.replace(/\|/g, ''), 'stdout:abcstdout:destderr:12');
  assert.deepEqual(s.dropped, { stdout: 7, stderr: 0 });
});

test('a first write goes at once; a burst is batched; order across streams is kept', () => {
  const sent: OutputChunk[][] = [];
  const s = new BatchingSink(1 << 20, (c) => sent.push(c));
  s.stdout('first');
  assert.equal(sent.length, 1, 'sent without waiting for more');
  for (let i = 0; i < 100; i++) (i % 2 ? s.stderr : s.stdout).call(s, String(i % 10));
  assert.ok(sent.length < 50, `a burst is batched (${sent.length} messages)`);
  s.close();
  const joined = sent.flat().map(text);
  assert.equal(joined[0], 'stdout:first');
  const rest = joined.slice(1).join('');
  const expected = Array.from({ length: 100 }, (_, i) => `${i % 2 ? 'stderr' : 'stdout'}:${i % 10}`).join('');
  assert.equal(rest, expected);
});

test('the guest buffer may be reused after a write', () => {
  const sent: OutputChunk[][] = [];
  const s = new BatchingSink(100, (c) => sent.push(c));
  const buf = new Uint8Array(Buffer.from('one'));
  s.stdout(buf);
  buf.set(Buffer.from('two'));
  s.stdout(buf);
  s.close();
  assert.equal(sent.flat().map((c) => Buffer.from(c.data).toString()).join(''), 'onetwo');
});
