/**
 * How failures become HTTP responses: one envelope `{success: false, error: {name, code, message, details}}` and
 * a status code that means something. A guest that exits non-zero is not a failure (200 with its result).
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { ValidationError, isAgentKernelError } from '../../core/errors.js';
import { toWireError } from './wire.js';
import type { WireError } from './schemas.js';

const STATUS: Record<string, ContentfulStatusCode> = {
  VALIDATION: 400,
  CONFIG: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  LIMIT: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TRAP: 422,
  // the client went away or cancelled: nobody reads this status, but logs should not call it a server error
  ABORTED: 499 as ContentfulStatusCode,
  UNSUPPORTED: 501,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
};

export function statusFor(code: string): ContentfulStatusCode {
  return STATUS[code] ?? 500;
}

const REFUSAL_NAMES = {
  UNAUTHORIZED: 'AuthenticationError',
  FORBIDDEN: 'ForbiddenError',
  UNSUPPORTED_MEDIA_TYPE: 'UnsupportedMediaTypeError',
} as const;

/** A refusal decided by the HTTP layer itself (token, origin, media type), before the kernel is involved. */
export class HttpRefusal extends Error {
  constructor(
    readonly code: keyof typeof REFUSAL_NAMES,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = REFUSAL_NAMES[code];
  }
}

/** A failure as the HTTP API answers it: status, extra headers and the `{success: false, error}` body. */
export interface ErrorAnswer {
  status: ContentfulStatusCode;
  headers: Record<string, string>;
  body: { success: false; error: WireError | { name: string; code: string; message: string } };
}

export function errorAnswer(e: unknown): ErrorAnswer {
  if (e instanceof HttpRefusal) {
    return { status: statusFor(e.code), headers: e.headers, body: { success: false, error: { name: e.name, code: e.code, message: e.message } } };
  }
  if (e instanceof z.ZodError) e = fromZod(e);
  const error = toWireError(e);
  if (!isAgentKernelError(e)) process.stderr.write(`agentkernel serve: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return { status: statusFor(error.code), headers: {}, body: { success: false, error } };
}

export function errorResponse(c: Context, e: unknown): Response {
  const a = errorAnswer(e);
  for (const [k, v] of Object.entries(a.headers)) c.header(k, v);
  return c.json(a.body, a.status);
}

/** One readable line per problem, with the field path, as a ValidationError. */
export function fromZod(err: z.ZodError): ValidationError {
  const msg = err.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`;
    return `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`;
  }).join('; ');
  return new ValidationError(`invalid request: ${msg}`, { issues: err.issues.map((i) => ({ path: i.path.map(String), message: i.message })) });
}
