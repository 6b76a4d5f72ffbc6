/**
 * Fault injectors. Each touches only processes this process started: the wasm pool's own workers (by the pids the
 * pool reports) and the daemon it launched (by the pid the daemon wrote and /health confirmed).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UnavailableError } from '../core/errors.js';
import type { WorkerPool } from '../backends/wasm/pool.js';
import { processTree } from '../backends/wasm/jail/memory.js';
import { alive, sample, type HostSample } from './host.js';

const pexec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/agentkernel.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGKILLs a worker of the pool while it runs a job: the host must report that run's end and carry on. */
export class WorkerKiller {
  kills = 0;
  constructor(private readonly pool: WorkerPool) {}

  /** Kill one busy worker's node process; false when none was busy. */
  killOne(): boolean {
    const busy = this.pool.info().filter((w) => w.state === 'busy' && w.pid > 0);
    const victim = busy[Math.floor(Math.random() * busy.length)];
    if (!victim) return false;
    try {
      process.kill(victim.pid, 'SIGKILL');
      this.kills++;
      return true;
    } catch {
      return false; // it ended on its own meanwhile
    }
  }
}

/** A free loopback port, so that a restarted daemon comes back at the same URL. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Incarnation {
  pid: number;
  /** After its warm-up, and just before it was killed or stopped. */
  first?: HostSample;
  last?: HostSample;
  /** Processes it had started that were still alive a while after it was killed (must be none). */
  orphans: number[];
}

/**
 * `agentkernel daemon` under a private AGENTKERNEL_HOME: started with the real CLI, killed with SIGKILL (no
 * clean shutdown), started again on the same port.
 */
export class DaemonProcess {
  readonly incarnations: Incarnation[] = [];
  pid = 0;
  url = '';
  key = '';
  restarts = 0;
  private restarting = false;
  /** Total time the daemon was unreachable because of restarts (ms). */
  downMs = 0;

  constructor(private readonly home: string, private readonly port: number) {}

  private async cli(args: string[]): Promise<string> {
    try {
      const r = await pexec(process.execPath, [BIN, ...args], {
        env: { ...process.env, AGENTKERNEL_HOME: this.home, AGENTKERNEL_API_KEY: '' }, timeout: 60_000,
      });
      return r.stderr;
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new UnavailableError(`agentkernel ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
    }
  }

  async start(): Promise<void> {
    await this.cli(['daemon', 'start', '--port', String(this.port)]);
    const rec = JSON.parse(readFileSync(join(this.home, 'state', 'daemon.json'), 'utf8')) as { pid: number; url: string };
    this.pid = rec.pid;
    this.url = rec.url;
    this.key = readFileSync(join(this.home, 'config', 'api-key'), 'utf8').trim();
    this.incarnations.push({ pid: rec.pid, orphans: [] });
  }

  /** Note the current incarnation's memory and descriptors (first call after its warm-up, later ones overwrite `last`). */
  sample(): void {
    const inc = this.incarnations.at(-1);
    if (!inc || this.restarting || !alive(inc.pid)) return;
    const s = sample(inc.pid);
    // gone between the check and the read (its /proc entry empties first)
    if (s.rssBytes === 0) return;
    if (!inc.first) inc.first = s;
    inc.last = s;
  }

  /** SIGKILL the server mid-stream, then start it again; resolves once it answers. */
  async restart(): Promise<void> {
    const inc = this.incarnations.at(-1)!;
    this.sample();
    const tree = processTree(inc.pid).filter((p) => p !== inc.pid);
    const down = Date.now();
    this.restarting = true;
    try {
      process.kill(inc.pid, 'SIGKILL');
      while (alive(inc.pid)) await sleep(20);
      await this.start();
    } finally {
      this.restarting = false;
    }
    this.downMs += Date.now() - down;
    this.restarts++;
    // its workers follow it (they die with their parent); anything still alive a moment later is a leak
    const until = Date.now() + 5000;
    while (tree.some(alive) && Date.now() < until) await sleep(100);
    inc.orphans = tree.filter(alive);
    // reported as a failure; ended here so that one leak does not pile up over a long run
    for (const p of inc.orphans) {
      try { process.kill(p, 'SIGKILL'); } catch { /* gone meanwhile */ }
    }
  }

  async stop(): Promise<void> {
    this.sample();
    if (this.pid && alive(this.pid)) await this.cli(['daemon', 'stop']);
  }
}
