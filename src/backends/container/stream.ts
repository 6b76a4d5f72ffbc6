/**
 * Runs one engine CLI command that carries guest I/O (`exec`), streaming stdout and stderr separately and live,
 * feeding stdin, and enforcing the deadline. Killing the CLI client does not stop what it started inside the
 * container, so a timeout or an abort first calls `stopGuest` (which stops the guest side for real) and only then
 * kills the client.
 */
import { AbortError } from '../../core/errors.js';
import { BoundedOutput } from '../../core/output.js';
import { EXIT } from '../../core/types.js';
import { signalNumber, type ContainerEngine } from './engine.js';

export interface StreamRequest {
  args: string[];
  runtime?: string;
  stdin?: string | Uint8Array;
  timeoutMs: number;
  outputBytes: number;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
  /** Stops the processes the command started inside the container. */
  stopGuest: () => Promise<void>;
}

export interface StreamOutcome {
  exitCode: number;
  stdout: BoundedOutput;
  stderr: BoundedOutput;
  timedOut: boolean;
  durationMs: number;
}

/** How long the guest side gets to go away before the CLI client is killed regardless. */
const STOP_GRACE_MS = 5_000;

export function streamCommand(engine: ContainerEngine, req: StreamRequest): Promise<StreamOutcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const stdout = new BoundedOutput(req.outputBytes, req.onStdout);
    const stderr = new BoundedOutput(req.outputBytes, req.onStderr);
    let child;
    try {
      child = engine.spawn(req.args, { runtime: req.runtime, stdio: [req.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(engine.spawnError(e as NodeJS.ErrnoException));
      return;
    }
    let timedOut = false;
    let aborted = false;
    let stopping: Promise<void> | undefined;

    const stop = (): void => {
      if (stopping) return;
      const killClient = (): void => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      };
      const grace = setTimeout(killClient, STOP_GRACE_MS);
      stopping = req.stopGuest().catch(() => {}).then(() => {
        clearTimeout(grace);
        // the client normally exits by itself once its guest process is gone; give it a moment, then insist
        setTimeout(killClient, 1_000).unref();
      });
    };

    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, req.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      stop();
    };
    if (req.signal?.aborted) onAbort(); // fired while the container was being started
    else req.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout!.on('data', (d: Buffer) => stdout.write(d));
    child.stderr!.on('data', (d: Buffer) => stderr.write(d));
    if (req.stdin !== undefined) {
      child.stdin!.on('error', () => {}); // the guest may exit without reading its input: not an error of ours
      child.stdin!.end(req.stdin);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      reject(engine.spawnError(e));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      stdout.end();
      stderr.end();
      if (aborted) {
        reject(new AbortError());
        return;
      }
      resolve({
        exitCode: timedOut ? EXIT.TIMEOUT : code ?? 128 + signalNumber(signal),
        stdout, stderr, timedOut,
        durationMs: performance.now() - started,
      });
    });
  });
}
