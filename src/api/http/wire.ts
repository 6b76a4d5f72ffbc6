/**
 * Conversions between the in-process types (camelCase, core/types.ts) and the wire format (snake_case,
 * schemas.ts). Only top-level keys are renamed: nested objects (env, trap, isolation, applied) keep their keys.
 * The server converts results on the way out, the SDK converts them back, so both sides agree by construction.
 */
import type { ExecResult, SandboxInfo } from '../../core/types.js';
import { errorFromJSON, isAgentKernelError, type AgentKernelError } from '../../core/errors.js';
import type { WireError, WireResult, WireSandboxInfo } from './schemas.js';
import type { WireSessionInfo, WireSnapshotInfo } from './sessions.js';
import type { SessionInfo, SnapshotInfo } from '../../service/sessions.js';

/** A renaming remembered per key: results cross this module on every request, always with the same few keys. */
function memo(f: (k: string) => string): (k: string) => string {
  const seen = new Map<string, string>();
  return (k) => {
    let v = seen.get(k);
    if (v === undefined) {
      v = f(k);
      if (seen.size < 256) seen.set(k, v);
    }
    return v;
  };
}

const snake = memo((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
const camel = memo((k) => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));

function renameKeys(o: object, f: (k: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[f(k)] = v;
  return out;
}

export function toWireResult(r: ExecResult): WireResult {
  return renameKeys(r, snake) as WireResult;
}

export function fromWireResult(w: WireResult): ExecResult {
  return renameKeys(w, camel) as unknown as ExecResult;
}

export function toWireSandbox(i: SandboxInfo): WireSandboxInfo {
  return renameKeys(i, snake) as WireSandboxInfo;
}

export function fromWireSandbox(w: WireSandboxInfo): SandboxInfo {
  return renameKeys(w, camel) as unknown as SandboxInfo;
}

/** The error body of every failed response and of the SSE `error` event. */
export function toWireError(e: unknown): WireError {
  if (isAgentKernelError(e)) return e.toJSON();
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name || 'Error', code: 'INTERNAL', message: err.message };
}

/** Rebuild a typed error from a wire error (the SDK throws these). */
export function fromWireError(w: Partial<WireError> | undefined): AgentKernelError {
  return errorFromJSON(w ?? { code: 'INTERNAL', message: 'the server answered without an error body' });
}

export function fromWireSnapshot(w: WireSnapshotInfo): SnapshotInfo {
  return { name: w.name, bytes: w.bytes, createdAt: w.created_at };
}

export function fromWireSession(w: WireSessionInfo): SessionInfo {
  return {
    name: w.name, language: w.language, backend: w.backend as SessionInfo['backend'], createdAt: w.created_at, calls: w.calls,
    ...(w.forked_from ? { forkedFrom: w.forked_from } : {}),
    snapshots: w.snapshots.map(fromWireSnapshot), tools: w.tools,
  };
}
