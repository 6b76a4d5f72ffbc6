/**
 * The limits of one run: what the call asked for, else what the sandbox was created with, else the security
 * profile's defaults (moderate unless named). Bad values are the caller's error, reported before anything runs.
 */
import { ValidationError } from '../../core/errors.js';
import { getProfile } from '../../core/profiles.js';
import type { Limits } from '../../core/types.js';

export function resolveLimits(call: Partial<Limits> & { profile?: string }, fallback: Partial<Limits> = {}): Limits {
  const p = getProfile(call.profile);
  const limits: Limits = {
    timeoutMs: call.timeoutMs ?? fallback.timeoutMs ?? p.timeoutMs,
    memoryMb: call.memoryMb ?? fallback.memoryMb ?? p.memoryMb,
    outputBytes: call.outputBytes ?? fallback.outputBytes ?? p.outputBytes,
  };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v <= 0) throw new ValidationError(`${k} must be a positive integer, got ${String(v)}`, { [k]: v });
  }
  // a sanity bound: past 64 GiB the number is a typo, not a limit
  if (limits.memoryMb > 65536) throw new ValidationError(`memoryMb must be at most 65536, got ${limits.memoryMb}`);
  return limits;
}
