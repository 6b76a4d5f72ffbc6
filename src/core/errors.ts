/**
 * Typed errors. Every error the library throws on purpose is an AgentKernelError with a stable `code`,
 * so the CLI, HTTP API and MCP server can map it to an exit code / status without parsing messages.
 *
 * A guest program that exits non-zero is NOT an error: it is a result. Errors are for things the caller
 * asked for that could not be done (bad input, missing backend, timeout of the whole operation, ...).
 */

export type ErrorCode =
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'UNSUPPORTED'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'TRAP'
  | 'LIMIT'
  | 'CONFLICT'
  | 'ABORTED'
  | 'CONFIG'
  | 'INTERNAL';

export class AgentKernelError extends Error {
  readonly code: ErrorCode;
  /** Extra structured facts for API consumers (e.g. the backend, the limit that was hit). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    if (details) this.details = details;
  }

  toJSON(): { name: string; code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Input the caller gave is malformed or out of range (bad Wasm, unknown language, wrong arity...). */
export class ValidationError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('VALIDATION', message, details, options);
  }
}

/** A named thing (sandbox, file, export, backend) does not exist. */
export class NotFoundError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('NOT_FOUND', message, details);
  }
}

/** The backend exists but cannot do this operation (see Backend.capabilities()). */
export class UnsupportedError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('UNSUPPORTED', message, details);
  }
}

/** The backend cannot run on this machine (missing binary, no /dev/kvm, wrong OS). */
export class UnavailableError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('UNAVAILABLE', message, details);
  }
}

/** The operation ran past its deadline and was stopped. */
export class TimeoutError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('TIMEOUT', message, details);
  }
}

/** A resource limit (memory, output, request size, sandbox count) stopped the operation. */
export class LimitError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('LIMIT', message, details);
  }
}

/** The state of a sandbox forbids the operation (name taken, sandbox stopped...). */
export class ConflictError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFLICT', message, details);
  }
}

/** The caller's AbortSignal fired. */
export class AbortError extends AgentKernelError {
  constructor(message = 'The operation was aborted', details?: Record<string, unknown>) {
    super('ABORTED', message, details);
  }
}

/** agentkernel.toml, flags or environment are invalid. */
export class ConfigError extends AgentKernelError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFIG', message, details);
  }
}

export function isAgentKernelError(e: unknown): e is AgentKernelError {
  return e instanceof AgentKernelError;
}

/** Throws AbortError if the signal has fired; used at the start of every cancellable operation. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(signal.reason instanceof Error ? signal.reason.message : undefined);
}

/**
 * Rebuild a typed error from its JSON form (worker IPC, HTTP client). Unknown codes become AgentKernelError
 * so no information is lost.
 */
export function errorFromJSON(j: { name?: string; code?: string; message?: string; details?: Record<string, unknown> }): AgentKernelError {
  const msg = j.message ?? 'unknown error';
  switch (j.code) {
    case 'VALIDATION': return new ValidationError(msg, j.details);
    case 'NOT_FOUND': return new NotFoundError(msg, j.details);
    case 'UNSUPPORTED': return new UnsupportedError(msg, j.details);
    case 'UNAVAILABLE': return new UnavailableError(msg, j.details);
    case 'TIMEOUT': return new TimeoutError(msg, j.details);
    case 'LIMIT': return new LimitError(msg, j.details);
    case 'CONFLICT': return new ConflictError(msg, j.details);
    case 'ABORTED': return new AbortError(msg, j.details);
    case 'CONFIG': return new ConfigError(msg, j.details);
    default: return new AgentKernelError((j.code as ErrorCode) ?? 'INTERNAL', msg, j.details);
  }
}
