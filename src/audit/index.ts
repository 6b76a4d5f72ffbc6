export { AuditLog, rotatedPath } from './log.js';
export { readAudit, parseSince, matches, auditFiles, parseLines, type AuditQuery, type AuditReadResult } from './read.js';
export { redactArgv, REDACTED } from './redact.js';
export type * from './types.js';
export { audited, resultFields, digest, envKeys } from './operation.js';
