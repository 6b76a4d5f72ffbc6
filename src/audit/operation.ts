/**
 * Wraps one kernel operation in audit records: `started` before guest code runs (so a crash of the host mid-run
 * still leaves a trace), then `ok` or `error` with how it ended. Lifecycle operations, which run no guest code,
 * write only the end record.
 */
import { createHash } from 'node:crypto';
import type { ExecResult } from '../core/types.js';
import { AuditLog } from './log.js';
import type { AuditFields } from './types.js';

export interface AuditedOptions<T> {
  /** Write a `started` record first (operations that run guest code). */
  start?: boolean;
  /** Fields known only from the result (backend, exit code...). */
  end?: (result: T) => AuditFields;
}

export async function audited<T>(
  log: AuditLog, event: string, fields: AuditFields, fn: () => Promise<T>, opts: AuditedOptions<T> = {},
): Promise<T> {
  if (!log.settings.enabled) return fn();
  const id = AuditLog.newId();
  const t0 = performance.now();
  if (opts.start) log.write(event, 'started', { id, ...fields });
  try {
    const result = await fn();
    log.write(event, 'ok', { id, ...fields, ...opts.end?.(result), durationMs: Math.round((performance.now() - t0) * 1000) / 1000 });
    return result;
  } catch (err) {
    const e = err as Error;
    log.write(event, 'error', {
      id, ...fields, durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
      error: { name: e?.name ?? 'Error', message: String(e?.message ?? err).slice(0, 500) },
    });
    throw err;
  }
}

/** End fields of anything that returns an ExecResult. */
export function resultFields(r: ExecResult): AuditFields {
  return { backend: r.backend, exitCode: r.exitCode, ...(r.timedOut ? { timedOut: true } : {}) };
}

/** A digest instead of the content: code and modules may hold secrets, but their identity is worth keeping. */
export function digest(data: string | Uint8Array): { sha256: string; bytes: number } {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return { sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.byteLength };
}

export function envKeys(env?: Record<string, string>): { envKeys?: string[] } {
  const keys = env ? Object.keys(env) : [];
  return keys.length ? { envKeys: keys.sort() } : {};
}
