/**
 * Fuzzed surface: `agentkernel mcp-server` over stdio, a real child process. Each case writes a few fuzzed lines
 * (JSON-RPC messages and batches with fuzzed methods, ids and tool arguments, arbitrary JSON, broken JSON,
 * arbitrary text), then a `ping` with a fresh id.
 *
 * Invariants: the ping is answered (the server neither died nor stalled); everything the server writes to stdout
 * is a JSON-RPC 2.0 message; the process is still alive at the end.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { BIN, REPO } from '../helpers/cli.js';
import { rpcArb } from './http-surface.js';
import { Tally, type FuzzSurface, type OpenSurface } from './runner.js';

const lineArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: rpcArb.map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.array(rpcArb, { maxLength: 3 }).map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: rpcArb.chain((m) => fc.nat().map((n) => { const s = JSON.stringify(m); return s.slice(0, n % s.length); })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 64 }).map((s) => s.replace(/[\r\n]/g, ' ')) },
);

export const mcpStdioSurface: FuzzSurface = {
  name: 'mcp-stdio',
  ciRuns: 60,
  async open(): Promise<OpenSurface | { skip: string }> {
    const { wasmUnavailable } = await import('../api/helpers.js');
    const why = await wasmUnavailable();
    if (why) return { skip: why };
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN, 'mcp-server'], {
      cwd: REPO, env: { ...process.env, AGENTKERNEL_BACKEND: 'wasm', AGENTKERNEL_TIMEOUT_MS: '3000' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stderr.resume();
    const waiting = new Map<string, () => void>();
    const bad: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      let m: any;
      try {
        m = JSON.parse(line);
      } catch {
        bad.push(line.slice(0, 300));
        return;
      }
      if (m?.jsonrpc !== '2.0') bad.push(line.slice(0, 300));
      const done = typeof m?.id === 'string' ? waiting.get(m.id) : undefined;
      done?.();
    });
    let probe = 0;
    const tally = new Tally();
    const ping = (ms: number): Promise<void> => {
      const id = `probe-${++probe}`;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`hang: no answer to ping ${id} within ${ms} ms (server ${child.exitCode === null ? 'alive' : `exited ${child.exitCode}`})`));
        }, ms);
        waiting.set(id, () => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve();
        });
        child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' })}\n`);
      });
    };
    await ping(60_000);
    return {
      property: fc.asyncProperty(fc.array(lineArb, { minLength: 1, maxLength: 4 }), async (lines) => {
        for (const l of lines) child.stdin.write(`${l}\n`);
        await ping(60_000);
        assert.deepEqual(bad, [], 'the server wrote something other than JSON-RPC to stdout');
        tally.add(`${lines.length} lines answered`);
      }),
      async healthy() {
        await ping(60_000);
        assert.equal(child.exitCode, null, 'the MCP server process exited');
      },
      stats: () => tally.counts,
      async close() {
        child.stdin.end();
        const exited = new Promise((resolve) => child.once('exit', resolve));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        if (child.exitCode === null) await exited;
        clearTimeout(timer);
      },
    };
  },
};
