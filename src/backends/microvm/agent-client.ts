/**
 * The host end of the guest agent protocol over one connected byte stream. Requests are multiplexed by id, so
 * several commands may run in one VM at once; a command's output is streamed into BoundedOutput as it arrives.
 * Agent failures (an errno and a message) become the typed errors the rest of agentkernel speaks.
 */
import type { Duplex } from 'node:stream';
import {
  AbortError, AgentKernelError, ConflictError, LimitError, NotFoundError, TimeoutError, UnavailableError, ValidationError,
} from '../../core/errors.js';
import { BoundedOutput } from '../../core/output.js';
import { EXIT } from '../../core/types.js';
import {
  FrameDecoder, MAX_FRAME, MSG, decodeError, decodeExit, decodeList, encodeExec, encodeFrame, encodePath, encodeSignal, encodeWrite,
  type ExecRequest, type Frame,
} from './protocol.js';
import type { FileEntry } from '../../core/types.js';

export interface ExecStreams {
  stdin?: string | Uint8Array;
  timeoutMs: number;
  outputBytes: number;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
}

export interface ExecOutcome {
  exitCode: number;
  stdout: BoundedOutput;
  stderr: BoundedOutput;
  timedOut: boolean;
  durationMs: number;
}

type Waiter = (f: Frame) => void;

const SIGKILL = 9;
/** After a kill, how long the agent gets to report the exit before the run is ended without it. */
const KILL_GRACE_MS = 3_000;
const STDIN_CHUNK = 1024 * 1024;

// errno values of Linux x86-64 (the only guest architecture).
const ENOENT = 2, EACCES = 13, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EFBIG = 27, ENOSPC = 28, EROFS = 30, ENOTEMPTY = 39;

export function agentError(op: string, path: string, errno: number, message: string): AgentKernelError {
  switch (errno) {
    case ENOENT: return new NotFoundError(`no such file in the sandbox: ${path}`, { path });
    case EISDIR: return new ValidationError(`${path} is a directory${op === 'read' ? '; use listFiles' : ''}`, { path });
    case ENOTDIR: return new ValidationError(`${path} is not a directory`, { path });
    case EACCES: return new ConflictError(`cannot ${op} ${path}: permission denied for the sandbox's user`, { path });
    case EROFS: return new ConflictError(`cannot ${op} ${path}: the sandbox's root filesystem is read-only`, { path });
    case EFBIG: return new LimitError(`${path} is larger than the guest agent's ${MAX_FRAME}-byte message limit`, { path, limit: MAX_FRAME });
    case ENOSPC: return new LimitError(`cannot ${op} ${path}: the sandbox's disk is full`, { path });
    default: return new AgentKernelError('INTERNAL', `cannot ${op} ${path}: ${message}`, { path, errno, exists: errno === EEXIST, notEmpty: errno === ENOTEMPTY });
  }
}

export class AgentClient {
  private readonly decoder = new FrameDecoder();
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 1;
  private closedWith?: Error;

  constructor(private readonly stream: Duplex, private readonly what: string) {
    stream.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (e) {
        this.fail(new UnavailableError(`${this.what}: ${(e as Error).message}`));
        return;
      }
      for (const f of frames) this.waiters.get(f.id)?.(f);
    });
    stream.on('error', (e) => this.fail(new UnavailableError(`${this.what}: connection to the guest agent failed: ${e.message}`)));
    stream.on('close', () => this.fail(new UnavailableError(`${this.what}: the guest agent's connection closed (the VM stopped?)`)));
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  private fail(e: Error): void {
    if (this.closedWith) return;
    this.closedWith = e;
    const frame: Frame = { type: -1, id: 0, payload: Buffer.alloc(0) };
    for (const w of [...this.waiters.values()]) w(frame);
    this.waiters.clear();
  }

  private send(type: number, id: number, ...parts: Buffer[]): void {
    if (this.closedWith) throw this.closedWith;
    this.stream.write(encodeFrame(type, id, ...parts));
  }

  /** One request, one reply (OK or ERR). */
  private request(type: number, ...parts: Buffer[]): Promise<Frame> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, (f) => {
        this.waiters.delete(id);
        if (f.type === -1) reject(this.closedWith);
        else resolve(f);
      });
      try {
        this.send(type, id, ...parts);
      } catch (e) {
        this.waiters.delete(id);
        reject(e);
      }
    });
  }

  /** Resolves with the agent's version once it answers; the VM is booted and serving from then on. */
  async ping(timeoutMs: number): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${this.what}: the guest agent did not answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    });
    try {
      const f = await Promise.race([this.request(MSG.PING), timeout]);
      return f.payload.toString('utf8');
    } finally {
      clearTimeout(timer);
    }
  }

  async exec(req: ExecRequest, io: ExecStreams): Promise<ExecOutcome> {
    const started = performance.now();
    const stdout = new BoundedOutput(io.outputBytes, io.onStdout);
    const stderr = new BoundedOutput(io.outputBytes, io.onStderr);
    const id = this.nextId++;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const exitCode = await new Promise<number>((resolve, reject) => {
      const finish = (code: number) => {
        this.waiters.delete(id);
        resolve(code);
      };
      const kill = () => {
        try {
          this.send(MSG.SIGNAL, id, encodeSignal(SIGKILL));
        } catch {
          // connection gone: the close handler ends the run
        }
        grace ??= setTimeout(() => finish(timedOut ? EXIT.TIMEOUT : 137), KILL_GRACE_MS);
      };
      this.waiters.set(id, (f) => {
        switch (f.type) {
          case MSG.STDOUT: stdout.write(f.payload); break;
          case MSG.STDERR: stderr.write(f.payload); break;
          case MSG.EXIT: finish(timedOut ? EXIT.TIMEOUT : decodeExit(f.payload)); break;
          case MSG.ERR: {
            this.waiters.delete(id);
            const e = decodeError(f.payload);
            reject(new AgentKernelError('INTERNAL', `${this.what}: the guest agent could not start the command: ${e.message}`));
            break;
          }
          case -1: this.waiters.delete(id); reject(this.closedWith); break;
        }
      });
      try {
        this.send(MSG.EXEC, id, encodeExec(req));
        const input = io.stdin === undefined ? Buffer.alloc(0) : Buffer.from(io.stdin);
        for (let off = 0; off < input.length; off += STDIN_CHUNK) this.send(MSG.STDIN, id, input.subarray(off, off + STDIN_CHUNK));
        this.send(MSG.STDIN, id); // EOF
      } catch (e) {
        this.waiters.delete(id);
        reject(e);
        return;
      }
      timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, io.timeoutMs);
      if (io.signal) {
        onAbort = () => {
          kill();
          reject(new AbortError('the command was cancelled'));
        };
        io.signal.addEventListener('abort', onAbort, { once: true });
      }
    }).finally(() => {
      clearTimeout(timer);
      clearTimeout(grace);
      if (onAbort) io.signal?.removeEventListener('abort', onAbort);
    });
    stdout.end();
    stderr.end();
    return { exitCode, stdout, stderr, timedOut, durationMs: performance.now() - started };
  }

  private async fileOp(op: string, path: string, type: number, ...parts: Buffer[]): Promise<Buffer> {
    const f = await this.request(type, ...parts);
    if (f.type === MSG.ERR) {
      const e = decodeError(f.payload);
      throw agentError(op, path, e.errno, e.message);
    }
    return f.payload;
  }

  async readFile(path: string): Promise<Uint8Array> {
    return new Uint8Array(await this.fileOp('read', path, MSG.READ, encodePath(path)));
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await this.fileOp('write', path, MSG.WRITE, encodeWrite(path, bytes));
  }

  async listFiles(path: string): Promise<FileEntry[]> {
    return decodeList(await this.fileOp('list', path, MSG.LIST, encodePath(path)));
  }

  async removeFile(path: string): Promise<void> {
    await this.fileOp('remove', path, MSG.REMOVE, encodePath(path));
  }

  /** Ask the guest to sync its disk and power off; resolves once the agent acknowledged (or the VM went away). */
  async shutdown(): Promise<void> {
    try {
      await this.request(MSG.SHUTDOWN);
    } catch {
      // the VM may power off before the acknowledgement makes it out
    }
  }

  close(): void {
    this.stream.destroy();
  }
}
