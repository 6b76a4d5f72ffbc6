/**
 * The request body rules every route shares, hono's or the fast lane's: a size limit (a declared Content-Length
 * above it is refused before anything is read, a chunked body as soon as it passes it) and JSON checked against
 * the route's schema.
 */
import type { z } from 'zod';
import { LimitError, ValidationError } from '../../core/errors.js';
import { fromZod } from './errors.js';

export const tooLarge = (max: number): LimitError =>
  new LimitError(`request body is larger than this server's limit of ${max} bytes`, { maxBodyBytes: max });

/** 413 when the declared Content-Length is above `max`. */
export function checkDeclaredLength(contentLength: string | undefined, max: number): void {
  if (Number(contentLength ?? 0) > max) throw tooLarge(max);
}

const utf8 = new TextDecoder();

/** 400 for broken JSON or a schema violation; an empty body is an empty object. */
export function parseJson<T>(bytes: Uint8Array, schema: z.ZodType<T>): T {
  const text = utf8.decode(bytes);
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`invalid JSON body: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}
