/**
 * Just enough of QMP (QEMU's JSON control protocol) to end a VM: greeting, capabilities negotiation, one command.
 */
import { connect } from 'node:net';

export function qmpCommand(socket: string, execute: string, timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    let stage = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`QMP ${execute}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (v: unknown, e?: Error) => {
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e);
      else resolve(v);
    };
    s.on('error', (e) => done(undefined, e));
    // `quit` closes the socket as its answer
    s.on('close', () => done(stage === 2 ? null : undefined, stage === 2 ? undefined : new Error(`QMP ${execute}: connection closed`)));
    s.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        buf = buf.slice(nl + 1);
        if (msg.event) continue;
        if (msg.error) return done(undefined, new Error(`QMP ${execute}: ${msg.error.desc}`));
        if (stage === 0 && msg.QMP) {
          stage = 1;
          s.write('{"execute":"qmp_capabilities"}\n');
        } else if (stage === 1 && 'return' in msg) {
          stage = 2;
          s.write(`${JSON.stringify({ execute })}\n`);
        } else if (stage === 2 && 'return' in msg) {
          return done(msg.return);
        }
      }
    });
  });
}
