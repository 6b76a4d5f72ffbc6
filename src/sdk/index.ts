/**
 * agentkernel's TypeScript SDK (`agentkernel/sdk`), shaped like E2B's: `Sandbox` for persistent sandboxes with
 * `commands` and `files`, `Client` for stateless runs. Both talk to a running `agentkernel serve` over HTTP, or
 * run in this process (`Sandbox.local()`, `Client.local()`). Every call takes an AbortSignal (`signal`) and fails
 * with the typed errors below (`err.code`: VALIDATION, NOT_FOUND, CONFLICT, UNAVAILABLE, UNAUTHORIZED, ...).
 */
export { Sandbox, type LocalOptions } from './sandbox/index.js';
export { Commands } from './sandbox/commands/index.js';
export { Filesystem } from './sandbox/filesystem/index.js';
export { Client } from './client.js';
export { CodeSession, type CodeSessionOptions, type SessionRunOptions, type SessionInfo, type SnapshotInfo, type ToolFn, type ToolInfo, type ToolSchema } from './session.js';
export { HttpTransport, DEFAULT_BASE_URL } from './transport/http.js';
export { LocalTransport } from './transport/local.js';
export type { Transport, CreateSpec } from './transport/types.js';
export { readSse, type SseEvent } from './transport/sse.js';
export type * from './options.js';
export {
  AgentKernelError, ValidationError, NotFoundError, UnsupportedError, UnavailableError, TimeoutError, LimitError,
  ConflictError, AbortError, ConfigError, errorFromJSON, isAgentKernelError, type ErrorCode,
} from '../core/errors.js';
export type { ExecResult, SandboxInfo, FileEntry, Language, BackendName, GuestError, TrapKind, IsolationReport } from '../core/types.js';
export type { BackendStatus } from '../backends/detect.js';
