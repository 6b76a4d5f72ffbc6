/**
 * `agentkernel session ...`: code sessions from the command line. A session is a live interpreter, so it lives in
 * a server process: these commands talk to the daemon (`agentkernel daemon start`) or to the server given with
 * --url, and each CLI call is one request. Without a server they fail saying so (docs/sessions.md explains why
 * sessions are not reloaded from disk in every CLI process).
 */
import type { Command } from 'commander';
import { UnavailableError, ValidationError } from '../../core/errors.js';
import type { ExecResult } from '../../core/types.js';
import type { WireSessionInfo, WireSnapshotInfo } from '../../api/http/sessions.js';
import { fromWireSession, fromWireSnapshot } from '../../api/http/wire.js';
import type { SessionInfo } from '../../service/sessions.js';
import { HttpTransport } from '../../sdk/transport/http.js';
import { daemonSocket } from '../daemon-kernel.js';
import { parseEnvPair, positiveInt, readStdin } from '../options.js';
import { finishRun, reportError, streamHooks } from '../output.js';

interface Flags {
  url?: string;
  json?: boolean;
}

function server(f: Flags): HttpTransport {
  const url = f.url ?? process.env.AGENTKERNEL_URL;
  if (url) return new HttpTransport({ baseUrl: url });
  const socket = daemonSocket();
  if (!socket) {
    throw new UnavailableError(
      'code sessions live in a server process and no daemon is running: start one with `agentkernel daemon start` '
        + '(or give --url of an `agentkernel serve`)',
    );
  }
  return new HttpTransport({ socketPath: socket });
}

/** Run one request against the server and exit with its code. */
async function act(f: Flags, fn: (t: HttpTransport, signal: AbortSignal) => Promise<number>): Promise<never> {
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  let code: number;
  try {
    code = await fn(server(f), ac.signal);
  } catch (e) {
    code = reportError(e, f.json);
  }
  process.off('SIGINT', onSigint);
  process.exit(code);
}

const at = (name: string, rest = ''): string => `/sessions/${encodeURIComponent(name)}${rest}`;

function show(f: Flags, data: unknown, line: string): number {
  process.stdout.write(f.json ? `${JSON.stringify(data, null, 2)}\n` : `${line}\n`);
  return 0;
}

const sessionLine = (s: SessionInfo): string =>
  `${s.name}\t${s.language}\t${s.backend}\t${s.calls} calls\t${s.snapshots.map((x) => x.name).join(',') || '-'}`;

export function register(program: Command): void {
  const session = program
    .command('session')
    .summary('code sessions: interpreters whose state survives between calls (snapshot, restore, fork)')
    .description(
      'Code sessions keep a JavaScript or Python interpreter alive between calls: what one `session run` defines, ' +
        'the next one sees. They live in the daemon (`agentkernel daemon start`) or the server named by --url.',
    );
  const common = (c: Command): Command => c
    .option('--url <url>', 'server to use (default: the daemon; or AGENTKERNEL_URL)')
    .option('--json', 'print JSON');

  common(session.command('create').summary('start a session').argument('<language>', 'javascript or python'))
    .option('-n, --name <name>', 'session name (default: generated)')
    .option('-B, --backend <name>', 'backend (default: wasm)')
    .option('--memory <mb>', 'memory for the interpreter at start, MiB', positiveInt('--memory'))
    .action((language: string, f: Flags & { name?: string; backend?: string; memory?: number }) => act(f, async (t, signal) => {
      const s = fromWireSession(await t.json<WireSessionInfo>('POST', '/sessions', { signal }, {
        name: f.name, language, backend: f.backend, memory_mb: f.memory,
      }));
      return show(f, s, s.name);
    }));

  common(session.command('run').summary('run code in a session (- or no code: read it from stdin)').argument('<name>').argument('[code]'))
    .option('--timeout <ms>', 'wall-clock limit of this call (exit code 124 when hit)', positiveInt('--timeout'))
    .option('--memory <mb>', 'memory cap of this call in MiB', positiveInt('--memory'))
    .option('--output-limit <bytes>', 'bytes kept of stdout and of stderr each', positiveInt('--output-limit'))
    .option('-e, --env <KEY=VALUE>', 'environment variable for this call (repeatable)', parseEnvPair)
    .action((name: string, code: string | undefined, f: Flags & { timeout?: number; memory?: number; outputLimit?: number; env?: Record<string, string> }) =>
      act(f, async (t, signal) => {
        const source = code === undefined || code === '-' ? (await readStdin()).toString('utf8') : code;
        if (!source.trim()) throw new ValidationError('no code given');
        const hooks = streamHooks(f.json, signal);
        const r: ExecResult = await t.runAt(at(name, '/run'), {
          code: source, env: f.env, timeout_ms: f.timeout, memory_mb: f.memory, output_bytes: f.outputLimit,
        }, { ...hooks, signal });
        return finishRun(r, f.json);
      }));

  for (const [verb, summary] of [['snapshot', 'keep a copy of the session\'s state (default name: snap-N)'], ['restore', 'put a snapshot back (default: the latest)']] as const) {
    common(session.command(verb).summary(summary).argument('<name>').argument('[snapshot]'))
      .action((name: string, snapshot: string | undefined, f: Flags) => act(f, async (t, signal) => {
        const s = fromWireSnapshot(await t.json<WireSnapshotInfo>('POST', at(name, `/${verb}`), { signal }, { snapshot }));
        return show(f, s, verb === 'snapshot' ? `${s.name}\t${s.bytes} bytes` : `restored ${s.name}`);
      }));
  }

  common(session.command('fork').summary('start a new session from a snapshot of this one (default: its state now)').argument('<name>'))
    .option('-n, --name <name>', 'name of the new session (default: generated)')
    .option('-s, --snapshot <snapshot>', 'start from this snapshot')
    .action((name: string, f: Flags & { name?: string; snapshot?: string }) => act(f, async (t, signal) => {
      const s = fromWireSession(await t.json<WireSessionInfo>('POST', at(name, '/fork'), { signal }, { name: f.name, snapshot: f.snapshot }));
      return show(f, s, s.name);
    }));

  common(session.command('list').alias('ls').summary('list sessions'))
    .action((f: Flags) => act(f, async (t, signal) => {
      const all = (await t.json<WireSessionInfo[]>('GET', '/sessions', { signal })).map(fromWireSession);
      return show(f, all, all.map(sessionLine).join('\n') || 'no sessions');
    }));

  common(session.command('rm').alias('close').summary('close a session (its snapshots go with it)').argument('<name>'))
    .action((name: string, f: Flags) => act(f, async (t, signal) => {
      await t.json('DELETE', at(name), { signal });
      return show(f, { name }, `closed ${name}`);
    }));
}
