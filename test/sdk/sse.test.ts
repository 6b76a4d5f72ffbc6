/** The SDK's Server-Sent Events reader, fed the awkward splits a network produces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSse, type SseEvent } from '../../src/sdk/transport/sse.js';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function all(chunks: string[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readSse(streamOf(chunks))) out.push(e);
  return out;
}

test('events split anywhere, CRLF split between chunks, comments and multi-line data', async () => {
  const text = ': keepalive\r\n\r\nevent: stdout\r\ndata: {"text":"a"}\r\nid: 1\r\n\r\nevent: exit\ndata: line1\ndata: line2\n\ndata:bare\r\r';
  const expected = [
    { event: 'stdout', data: '{"text":"a"}', id: '1' },
    { event: 'exit', data: 'line1\nline2', id: '1' },
    { event: 'message', data: 'bare', id: '1' },
  ];
  assert.deepEqual(await all([text]), expected);
  for (let cut = 1; cut < text.length; cut++) {
    assert.deepEqual(await all([text.slice(0, cut), text.slice(cut)]), expected, `cut at ${cut}`);
  }
  assert.deepEqual(await all([...text]), expected);
});

test('multi-byte characters split across chunks survive; an unterminated event is dropped', async () => {
  const bytes = new TextEncoder().encode('data: é€😀\n\ndata: never');
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const b of bytes) c.enqueue(new Uint8Array([b]));
      c.close();
    },
  });
  const got: SseEvent[] = [];
  for await (const e of readSse(stream)) got.push(e);
  assert.deepEqual(got, [{ event: 'message', data: 'é€😀' }]);
});
