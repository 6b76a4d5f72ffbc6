/**
 * The messages between the host and a jailed worker, defined once for both sides. They travel over node's IPC
 * channel in its "advanced" (structured clone) serialization, so byte arrays cross as bytes, not base64.
 *
 * One job at a time per worker. While a job runs the worker streams `output` batches (already cut at the
 * output cap, so a flood never crosses the channel), then ends it with exactly one `done` or `failed`.
 */
import { createHash } from 'node:crypto';
import type { Language, Mount } from '../../../core/types.js';
import type { InterpreterImage } from '../../../runtimes/session.js';
import type { RuntimeOutcome } from '../../../runtimes/types.js';
import type { TranspiledComponent } from '../../../runtimes/component/transpile.js';

/** The part of a RuntimeRequest that crosses the channel (the deadline is absolute, Date.now() based). */
export interface WireRequest {
  env: Record<string, string>;
  stdin: Uint8Array;
  mounts: Mount[];
  cwd?: string;
  memoryMb: number;
  deadline?: number;
}

/**
 * A module by content hash. The bytes travel only when the worker does not have the compiled module yet (it
 * answers `need-module`); the memory cap is part of the cache key since it is compiled into the module.
 */
export interface ModuleRef {
  hash: string;
  bytes?: Uint8Array;
}

/** The cache key both sides agree on: the bytes' SHA-256 and the memory cap. */
export function moduleKey(bytes: Uint8Array, memoryMb: number): string {
  return `${createHash('sha256').update(bytes).digest('hex')}:${memoryMb}`;
}

export type Job =
  | { kind: 'ping' }
  | { kind: 'wasm-start'; module: ModuleRef; programName: string; args: string[]; req: WireRequest }
  | { kind: 'wasm-invoke'; module: ModuleRef; export: string; args: (number | string)[]; req: WireRequest }
  /** a transpiled WASI 0.2 component: its wasi:cli/run, or one export called with JSON arguments */
  | { kind: 'component'; component: TranspiledComponent; programName: string; args: string[]; invoke?: { name: string; args: unknown[] }; req: WireRequest }
  | { kind: 'code'; language: Language; code: string; args?: string[]; scriptPath?: string; req: WireRequest }
  /** argv routed inside the worker (scripts and .wasm files are read through the jail's own view of the mounts) */
  | { kind: 'command'; argv: string[]; req: WireRequest }
  /** only for the snapshot maker: write Pyodide's memory snapshot to `path` */
  | { kind: 'snapshot'; path: string }
  /** code sessions (a worker pinned to one session): see sessions.ts */
  | SessionJob;

/** Jobs of a worker pinned to a code session; `session-snapshot` answers with the image in its outcome. */
export type SessionJob =
  | { kind: 'session-open'; language: Language; image?: InterpreterImage }
  | { kind: 'session-run'; code: string; tools: string[]; req: WireRequest }
  | { kind: 'session-snapshot' }
  | { kind: 'session-restore'; image: InterpreterImage };

/** A session job's outcome; a snapshot's carries the image. */
export type SessionOutcome = RuntimeOutcome & { image?: InterpreterImage };

export type JobKind = Job['kind'];

export type HostMessage = { type: 'job'; id: number; job: Job; outputBytes: number };

export type Stream = 'stdout' | 'stderr';

/** Consecutive writes, in order, possibly of both streams. */
export interface OutputChunk {
  stream: Stream;
  data: Uint8Array;
}

export interface WireError {
  name?: string;
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

export type WorkerMessage =
  | { type: 'ready'; node: string; platform: string }
  | { type: 'output'; id: number; chunks: OutputChunk[] }
  | {
      type: 'done';
      id: number;
      outcome: RuntimeOutcome;
      /** bytes written past the output cap and not sent */
      dropped: Record<Stream, number>;
      /** the worker's resident memory after the job (the host recycles a worker that stays large) */
      rss: number;
    }
  | { type: 'failed'; id: number; error: WireError; rss: number }
  | { type: 'need-module'; id: number; hash: string };

/** Command-line options of the worker entry point (main.js). */
export interface WorkerArgs {
  role: 'runner' | 'snapshot';
  /** Where the Pyodide snapshot is (it may appear after the worker started). */
  pythonSnapshot?: string;
  /** Runtimes to load right after start. */
  prewarm: Language[];
  /** A session worker's descriptor for synchronous tool calls to the host (one JSON line each way). */
  toolFd?: number;
}

export function encodeWorkerArgs(a: WorkerArgs): string[] {
  return [
    `--role=${a.role}`, ...(a.pythonSnapshot ? [`--python-snapshot=${a.pythonSnapshot}`] : []), `--prewarm=${a.prewarm.join(',')}`,
    ...(a.toolFd !== undefined ? [`--tool-fd=${a.toolFd}`] : []),
  ];
}

export function decodeWorkerArgs(argv: string[]): WorkerArgs {
  const get = (k: string): string | undefined => argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
  const role = get('role') === 'snapshot' ? 'snapshot' : 'runner';
  const prewarm = (get('prewarm') ?? '').split(',').filter(Boolean) as Language[];
  const snap = get('python-snapshot');
  const toolFd = Number(get('tool-fd'));
  return { role, prewarm, ...(snap ? { pythonSnapshot: snap } : {}), ...(Number.isInteger(toolFd) && toolFd > 2 ? { toolFd } : {}) };
}
