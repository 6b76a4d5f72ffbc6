/**
 * One line of the audit log. Records say who did what to which sandbox and how it ended; they never carry
 * secrets: environment values, stdin, file contents and code are not written (code and modules appear as a
 * SHA-256 and a size), and argv is redacted (see redact.ts).
 */
export type AuditOutcome = 'started' | 'ok' | 'error';

/** Where the call came in. */
export type AuditOrigin = 'cli' | 'http' | 'mcp' | 'sdk' | 'library';

export interface AuditRecord {
  /** ISO 8601 time the record was written */
  ts: string;
  /** Links the `started` record of a run to its end record. */
  id: string;
  event: string;
  outcome: AuditOutcome;
  origin: AuditOrigin;
  pid: number;
  backend?: string;
  sandbox?: string;
  profile?: string;
  image?: string;
  argv?: string[];
  language?: string;
  /** SHA-256 (hex) and size of code or a Wasm module; never their content. */
  sha256?: string;
  bytes?: number;
  export?: string;
  path?: string;
  /** Names only, never values. */
  envKeys?: string[];
  exitCode?: number;
  timedOut?: boolean;
  durationMs?: number;
  error?: { name: string; message: string };
}

/** The caller-supplied part of a record; the log fills in ts, id, origin and pid. */
export type AuditFields = Omit<AuditRecord, 'ts' | 'id' | 'origin' | 'pid' | 'event' | 'outcome'>;

export interface AuditSettings {
  enabled: boolean;
  /** The live file; rotated files are PATH.1 (newest) to PATH.N. */
  path: string;
  /** Rotate when the live file would grow past this many bytes. */
  maxFileBytes: number;
  /** Rotated files kept besides the live one; older ones are deleted (the retention limit). */
  maxFiles: number;
}
