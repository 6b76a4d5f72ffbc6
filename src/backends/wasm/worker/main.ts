/**
 * Entry point of a jailed worker process (`node dist/src/backends/wasm/worker/main.js --role=runner ...`), started
 * by the host's pool inside the jail. It runs one job at a time, streams the job's output, and reports how it
 * ended. It never exits on a guest's failure; the host kills it for timeouts and memory, and replaces it.
 */
import { isAgentKernelError } from '../../../core/errors.js';
import { getRuntime, setRuntime } from '../../../runtimes/index.js';
import { JobRunner, NeedModule } from './jobs.js';
import { decodeWorkerArgs, type HostMessage, type WireError, type WorkerMessage } from './protocol.js';
import { SnapshotPython } from './python.js';
import { BatchingSink } from './sink.js';

const args = decodeWorkerArgs(process.argv.slice(2));

if (!process.send) {
  process.stderr.write('this is the worker of the wasm backend; the backend starts it with an IPC channel\n');
  process.exit(2);
}

const send = (m: WorkerMessage): void => {
  process.send!(m);
};

// past RLIMIT_FSIZE a write should fail with EFBIG, not kill the worker
process.on('SIGXFSZ', () => {});
// the host is gone: nothing left to serve
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (e) => {
  process.stderr.write(`worker: uncaught exception: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(70);
});
process.on('unhandledRejection', (e) => {
  process.stderr.write(`worker: unhandled rejection: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(70);
});

if (args.pythonSnapshot) setRuntime(new SnapshotPython(args.pythonSnapshot));

const runner = new JobRunner(args.role, args);
/** Jobs run one after another even if the host sent the next early. */
let queue: Promise<void> = Promise.resolve();

function wireError(e: unknown): WireError {
  if (isAgentKernelError(e)) return e.toJSON();
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, code: 'INTERNAL', message: err.message };
}

/** Give memory back after a large run, so that the reported size is what the worker keeps. */
function settleMemory(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc && process.memoryUsage.rss() > 256 * 1024 * 1024) gc();
  return process.memoryUsage.rss();
}

async function handle(msg: HostMessage): Promise<void> {
  const { id, job, outputBytes } = msg;
  const sink = new BatchingSink(outputBytes, (chunks) => send({ type: 'output', id, chunks }));
  try {
    const outcome = await runner.run(job, sink);
    sink.close();
    send({ type: 'done', id, outcome, dropped: sink.dropped, rss: settleMemory() });
  } catch (e) {
    sink.close();
    if (e instanceof NeedModule) send({ type: 'need-module', id, hash: e.hash });
    else send({ type: 'failed', id, error: wireError(e), rss: settleMemory() });
  }
}

process.on('message', (msg: HostMessage) => {
  if (msg?.type !== 'job') return;
  queue = queue.then(() => handle(msg));
});

send({ type: 'ready', node: process.version, platform: process.platform });

// load runtimes while idle; a job that arrives meanwhile waits for the same load
for (const lang of args.prewarm) {
  getRuntime(lang).prepare().catch((e: unknown) => {
    process.stderr.write(`worker: could not prepare ${lang}: ${e instanceof Error ? e.message : String(e)}\n`);
  });
}
