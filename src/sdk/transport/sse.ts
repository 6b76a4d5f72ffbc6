/**
 * A Server-Sent Events reader for fetch response bodies (Node has no EventSource): yields each event once its
 * blank line arrives, joining multi-line data with '\n' and skipping comments, as the SSE specification says.
 */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** The first line of `buf` and the rest, or undefined while the line is incomplete. */
function nextLine(buf: string, final: boolean): [string, string] | undefined {
  const i = buf.search(/[\r\n]/);
  if (i < 0) return undefined;
  if (buf[i] === '\n') return [buf.slice(0, i), buf.slice(i + 1)];
  // '\r' at the end of a chunk may be the first half of '\r\n'
  if (i + 1 === buf.length && !final) return undefined;
  return [buf.slice(0, i), buf.slice(buf[i + 1] === '\n' ? i + 2 : i + 1)];
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buf = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let finished = false;
  try {
    while (!finished) {
      const { done, value } = await reader.read();
      finished = done;
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (let next = nextLine(buf, done); next; next = nextLine(buf, done)) {
        const [line, rest] = next;
        buf = rest;
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
          event = '';
          data = [];
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
          else if (field === 'id') id = val;
        }
      }
    }
  } finally {
    // the consumer stopped early (an error event, a break): drop the connection instead of draining it
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
