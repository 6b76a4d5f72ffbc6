/**
 * The WASI 0.2 host a component runs against inside the jailed worker, built from preview2-shim's in-process
 * ("browser") implementation so that nothing reaches process-wide state: arguments, environment and stdin are
 * exactly the caller's, stdout/stderr go to the worker's bounded sink, wasi:cli/exit ends the run (not the
 * worker), the filesystem is the caller's mounts only, and sockets and outgoing HTTP always fail. Clocks and
 * random are the real ones. Blocking on a pollable waits synchronously: component code runs synchronously.
 */
import { UnsupportedError } from '../../core/errors.js';
import type { Mount } from '../../core/types.js';
import type { OutputSink } from '../types.js';
import { MountAdapter } from './filesystem.js';

type Shim = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Shims {
  cli: Shim; io: Shim; clocks: Shim; random: Shim; filesystem: Shim; sockets: Shim; http: Shim;
}

let shims: Promise<Shims> | undefined;

/** preview2-shim's in-process build, loaded by path (its package exports pick the process-wide build on Node). */
function loadShims(): Promise<Shims> {
  shims ??= (async () => {
    const base = new URL('../browser/', import.meta.resolve('@bytecodealliance/preview2-shim'));
    const load = (name: string): Promise<Shim> => import(new URL(`${name}.js`, base).href) as Promise<Shim>;
    const [cli, io, clocks, random, filesystem, sockets, http] = await Promise.all(
      ['cli', 'io', 'clocks', 'random', 'filesystem', 'sockets', 'http'].map(load),
    );
    const s = { cli: cli!, io: io!, clocks: clocks!, random: random!, filesystem: filesystem!, sockets: sockets!, http: http! };
    // its pollables wait with promises, which never settle while synchronous Wasm runs: wait here instead
    s.io.poll.Pollable.prototype.block = function block(this: { ready(): boolean }): void {
      while (!this.ready()) sleep(1);
    };
    return s;
  })();
  return shims;
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms: number): void {
  Atomics.wait(SLEEPER, 0, 0, ms);
}

/** Thrown by wasi:cli/exit; ends the run with this code. */
export class ComponentExit extends Error {
  constructor(readonly code: number) {
    super(`component exited with code ${code}`);
  }
}

export interface HostOptions {
  args: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  cwd: string;
  mounts: Mount[];
  out: OutputSink;
}

export interface ComponentHost {
  /** jco's import object: interface name without version → implementation. */
  imports: Record<string, unknown>;
  close(): void;
}

/** wasi:http's error-code for a request the host refuses. */
const HTTP_DENIED = { tag: 'HTTP-request-denied' };

export async function createHost(o: HostOptions): Promise<ComponentHost> {
  const s = await loadShims();
  const { inputStreamCreate, outputStreamCreate, pollableCreate } = s.io;
  let stdinAt = 0;
  const stdinRead = (len: bigint): Uint8Array => {
    if (stdinAt >= o.stdin.byteLength) throw { tag: 'closed' };
    const chunk = o.stdin.subarray(stdinAt, stdinAt + Number(len));
    stdinAt += chunk.byteLength;
    return chunk.slice();
  };
  const sink = (write: (b: Uint8Array) => void) => ({ write, blockingFlush() {}, flush() {} });
  const cli = s.cli.createCli({
    stdin: { blockingRead: stdinRead, read: stdinRead, subscribe: () => pollableCreate() },
    stdout: sink((b) => o.out.stdout(b)),
    stderr: sink((b) => o.out.stderr(b)),
    environment: o.env,
    arguments: o.args,
    initialCwd: o.cwd,
  });
  const adapter = new MountAdapter({ input: (h) => inputStreamCreate(h), output: (h) => outputStreamCreate(h) });
  const fs = s.filesystem.createFilesystem({ adapter, preopens: Object.fromEntries(o.mounts.map((m) => [m.guestPath, m])) });

  const monotonic = s.clocks.monotonicClock;
  const until = (deadline: bigint) => pollableCreate({ ready: () => monotonic.now() >= deadline, wait: () => Promise.resolve() });
  const exit = {
    exit: (status: { tag: string }) => { throw new ComponentExit(status.tag === 'err' ? 1 : 0); },
    exitWithCode: (code: number) => { throw new ComponentExit(code & 0xff); },
  };
  const pollSync = (list: { ready(): boolean }[]): Uint32Array => {
    for (;;) {
      const ready = list.flatMap((p, i) => (p.ready() ? [i] : []));
      if (ready.length > 0 || list.length === 0) return new Uint32Array(ready);
      sleep(1);
    }
  };

  const imports: Record<string, unknown> = {
    'wasi:cli/environment': cli.environment,
    'wasi:cli/exit': exit,
    'wasi:cli/stdin': cli.stdin,
    'wasi:cli/stdout': cli.stdout,
    'wasi:cli/stderr': cli.stderr,
    'wasi:cli/terminal-input': cli.terminalInput,
    'wasi:cli/terminal-output': cli.terminalOutput,
    'wasi:cli/terminal-stdin': cli.terminalStdin,
    'wasi:cli/terminal-stdout': cli.terminalStdout,
    'wasi:cli/terminal-stderr': cli.terminalStderr,
    'wasi:io/error': s.io.error,
    'wasi:io/streams': s.io.streams,
    'wasi:io/poll': { Pollable: s.io.poll.Pollable, poll: pollSync },
    'wasi:clocks/monotonic-clock': {
      ...monotonic,
      subscribeInstant: (at: bigint) => until(at),
      subscribeDuration: (d: bigint) => until(monotonic.now() + d),
    },
    'wasi:clocks/wall-clock': s.clocks.wallClock,
    'wasi:random/random': s.random.random,
    'wasi:random/insecure': s.random.insecure,
    'wasi:random/insecure-seed': s.random.insecureSeed,
    'wasi:filesystem/types': fs.types,
    'wasi:filesystem/preopens': fs.preopens,
    // the in-process build's sockets answer not-supported to everything; the jail has no network either way
    'wasi:sockets/network': s.sockets.network,
    'wasi:sockets/instance-network': s.sockets.instanceNetwork,
    'wasi:sockets/ip-name-lookup': s.sockets.ipNameLookup,
    'wasi:sockets/tcp': s.sockets.tcp,
    'wasi:sockets/tcp-create-socket': s.sockets.tcpCreateSocket,
    'wasi:sockets/udp': s.sockets.udp,
    'wasi:sockets/udp-create-socket': s.sockets.udpCreateSocket,
    'wasi:http/types': s.http.types,
    'wasi:http/outgoing-handler': { handle: () => { throw HTTP_DENIED; } },
  };
  return {
    imports,
    close: () => fs.dispose(),
  };
}

/** Refuse, before instantiating, a component that imports something this host does not provide. */
export function checkImports(imported: string[], provided: Record<string, unknown>): void {
  const missing = imported.filter((i) => !(i.replace(/@[^/#]*$/, '') in provided));
  if (missing.length > 0) {
    throw new UnsupportedError(`the component imports ${missing.join(', ')}, which the wasm backend does not provide (WASI 0.2 cli, io, clocks, random, filesystem; sockets and http always fail)`);
  }
}
