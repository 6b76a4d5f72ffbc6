/**
 * The append-only audit log: JSON lines in one live file, rotated by size into PATH.1..PATH.N (the retention
 * limit). Several agentkernel processes (CLI calls, a server, the daemon) may write at once: each record is one
 * write() on a file opened with O_APPEND, so lines never interleave, and rotation happens under a lock file so that
 * two writers never rotate the same file twice. Writing never fails the operation it records: a log that cannot be
 * written says so once on stderr.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { AuditFields, AuditOrigin, AuditOutcome, AuditRecord, AuditSettings } from './types.js';
import { redactArgv } from './redact.js';

/** A lock older than this belongs to a writer that died mid-rotation. */
const STALE_LOCK_MS = 5_000;

export function rotatedPath(path: string, n: number): string {
  return n === 0 ? path : `${path}.${n}`;
}

/** Writers re-check the live file (size, rotated by someone else) at least this often. */
const CHECK_EVERY = 64;

export class AuditLog {
  private warned = false;
  /** The live file, kept open: a server writes two records per request and must not pay open/close for each. */
  private fd?: number;
  private ino = 0;
  /** Bytes in the live file as far as this writer knows (others may have added more). */
  private size = 0;
  private sinceCheck = 0;

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
    const line = Buffer.from(`${JSON.stringify(rec)}\n`);
    try {
      if (this.fd === undefined || ++this.sinceCheck >= CHECK_EVERY || this.size + line.length > this.settings.maxFileBytes) {
        this.sinceCheck = 0;
        this.refresh(line.length);
      }
      // one write() of the whole line on an O_APPEND file: concurrent writers never interleave within a line
      writeSync(this.fd!, line);
      this.size += line.length;
    } catch (err) {
      this.closeFd();
      if (!this.warned) {
        this.warned = true;
        process.stderr.write(`agentkernel: audit log ${this.settings.path} cannot be written: ${(err as Error).message}\n`);
      }
    }
  }

  /** Close the live file (it is reopened on the next write). */
  close(): void {
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch { /* already closed */ }
      this.fd = undefined;
    }
  }

  /** Learn the live file's real size, follow a rotation done by another writer, rotate if this record would overflow it. */
  private refresh(incoming: number): void {
    const live = statOrNull(this.settings.path);
    if (this.fd !== undefined && (!live || live.ino !== this.ino)) this.closeFd(); // rotated away under us
    if (live && live.size > 0 && live.size + incoming > this.settings.maxFileBytes) {
      this.rotate(incoming);
      this.closeFd();
    }
    if (this.fd === undefined) {
      mkdirSync(dirname(this.settings.path), { recursive: true, mode: 0o700 });
      this.fd = openSync(this.settings.path, 'a', 0o600);
    }
    const st = fstatSync(this.fd);
    this.ino = st.ino;
    this.size = st.size;
  }

  private rotate(incoming: number): void {
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
      const live = statOrNull(this.settings.path);
      if (!live || live.size + incoming <= this.settings.maxFileBytes) return;
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

function statOrNull(path: string): { size: number; ino: number } | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
