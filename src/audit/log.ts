/**
 * The append-only audit log: JSON lines in one live file, rotated by size into PATH.1..PATH.N (the retention
 * limit). Several agentkernel processes (CLI calls, a server, the daemon) may write at once: each record is one
 * write() on a file opened with O_APPEND, so lines never interleave, and rotation happens under a lock file so that
 * two writers never rotate the same file twice. Writing never fails the operation it records: a log that cannot be
 * written says so once on stderr.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { AuditFields, AuditOrigin, AuditOutcome, AuditRecord, AuditSettings } from './types.js';
import { redactArgv } from './redact.js';

/** A lock older than this belongs to a writer that died mid-rotation. */
const STALE_LOCK_MS = 5_000;

export function rotatedPath(path: string, n: number): string {
  return n === 0 ? path : `${path}.${n}`;
}

export class AuditLog {
  private warned = false;

  constructor(readonly settings: AuditSettings, readonly origin: AuditOrigin = 'library') {}

  /** A fresh id linking the records of one operation. */
  static newId(): string {
    return randomBytes(8).toString('hex');
  }

  /** Append one record. Never throws. */
  write(event: string, outcome: AuditOutcome, fields: AuditFields & { id?: string }): void {
    if (!this.settings.enabled) return;
    const { id, ...rest } = fields;
    const rec: AuditRecord = {
      ts: new Date().toISOString(),
      id: id ?? AuditLog.newId(),
      event,
      outcome,
      origin: this.origin,
      pid: process.pid,
      ...rest,
      ...(rest.argv ? { argv: redactArgv(rest.argv) } : {}),
    };
    const line = `${JSON.stringify(rec)}\n`;
    try {
      mkdirSync(dirname(this.settings.path), { recursive: true, mode: 0o700 });
      this.rotateIfNeeded(Buffer.byteLength(line));
      appendFileSync(this.settings.path, line, { mode: 0o600 });
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        process.stderr.write(`agentkernel: audit log ${this.settings.path} cannot be written: ${(err as Error).message}\n`);
      }
    }
  }

  private rotateIfNeeded(incoming: number): void {
    let size: number;
    try {
      size = statSync(this.settings.path).size;
    } catch {
      return; // no live file yet
    }
    if (size + incoming <= this.settings.maxFileBytes || size === 0) return;
    const lock = `${this.settings.path}.lock`;
    let fd: number;
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch {
      // another writer is rotating; a stale lock (writer died) is broken so that rotation cannot stop forever
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) unlinkSync(lock);
      } catch { /* gone already */ }
      return;
    }
    try {
      // re-check under the lock: someone may have rotated between our stat and the lock
      if (!existsSync(this.settings.path) || statSync(this.settings.path).size + incoming <= this.settings.maxFileBytes) return;
      rmSync(rotatedPath(this.settings.path, this.settings.maxFiles), { force: true });
      for (let n = this.settings.maxFiles - 1; n >= 0; n--) {
        const from = rotatedPath(this.settings.path, n);
        if (existsSync(from)) renameSync(from, rotatedPath(this.settings.path, n + 1));
      }
    } finally {
      closeSync(fd);
      rmSync(lock, { force: true });
    }
  }
}
