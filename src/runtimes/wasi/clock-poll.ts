/**
 * Clocks and poll_oneoff. Sleeping blocks the calling thread with Atomics.wait: WASI preview1 is synchronous, so
 * the guest's thread is the one that waits (inside a worker or the VM's thread, never the host's event loop).
 */
import { fstatSync } from 'node:fs';
import { CLOCK, ERRNO, EVENTTYPE, SUBCLOCKFLAGS_ABSTIME } from './constants.js';
import type { WasiContext, WasiFn } from './context.js';
import { fail } from './memory.js';
import { WasiExit } from './exit.js';
import { EXIT } from '../../core/types.js';

const HANGUP = 1;

/** Realtime with nanosecond resolution: the wall clock at start plus the monotonic clock since. */
const realtimeBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function clockNow(id: number): bigint {
  switch (id) {
    case CLOCK.REALTIME:
      return realtimeBase + process.hrtime.bigint();
    case CLOCK.MONOTONIC:
      return process.hrtime.bigint();
    case CLOCK.PROCESS_CPUTIME_ID:
    case CLOCK.THREAD_CPUTIME_ID: {
      // Node reports CPU time per process; a guest runs alone on its thread, so that is the best available answer
      const u = process.cpuUsage();
      return BigInt(u.user + u.system) * 1000n;
    }
    default:
      fail(ERRNO.INVAL);
  }
}

function clockResolution(id: number): bigint {
  if (id === CLOCK.REALTIME || id === CLOCK.MONOTONIC) return 1n;
  if (id === CLOCK.PROCESS_CPUTIME_ID || id === CLOCK.THREAD_CPUTIME_ID) return 1000n;
  fail(ERRNO.INVAL);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks until the monotonic clock reaches `until` (ns), or stops the guest at the run's deadline. */
function sleepUntil(until: bigint, deadline: number | undefined): void {
  for (;;) {
    const left = until - process.hrtime.bigint();
    if (left <= 0n) return;
    let ms = Number(left / 1_000_000n) + 1;
    if (deadline !== undefined) {
      const toDeadline = deadline - Date.now();
      if (toDeadline <= 0) throw new WasiExit(EXIT.TIMEOUT);
      ms = Math.min(ms, toDeadline);
    }
    Atomics.wait(sleeper, 0, 0, Math.min(ms, 2 ** 31 - 1));
  }
}

interface Sub {
  userdata: bigint;
  type: number;
  /** clock: monotonic ns at which it fires; fd: undefined */
  at?: bigint;
  error: number;
  fd?: number;
}

export function clockPollFunctions(ctx: WasiContext): Record<string, WasiFn> {
  /** What an fd_read subscription reports: how many bytes a read would return now. */
  const readable = (fd: number): { error: number; nbytes: bigint; flags: number } => {
    const e = ctx.table.find(fd);
    if (e?.kind === 'stdin') {
      const left = ctx.stdin.byteLength - ctx.stdinPos;
      return { error: 0, nbytes: BigInt(left), flags: left === 0 ? HANGUP : 0 };
    }
    if (e?.kind === 'file') {
      const size = fstatSync(e.hostFd, { bigint: true }).size;
      return { error: 0, nbytes: size > e.position ? size - e.position : 0n, flags: 0 };
    }
    return { error: ERRNO.BADF, nbytes: 0n, flags: 0 };
  };

  /** fd_write subscriptions: the output streams and files are always writable. */
  const writableError = (fd: number): number => {
    const e = ctx.table.find(fd);
    return e && e.kind !== 'stdin' && e.kind !== 'dir' ? 0 : ERRNO.BADF;
  };

  return {
    clock_res_get(id: number, ptr: number) {
      const v = ctx.mem();
      v.check(ptr, 8);
      v.setU64(ptr, clockResolution(id >>> 0));
      return ERRNO.SUCCESS;
    },

    clock_time_get(id: number, _precision: bigint, ptr: number) {
      const v = ctx.mem();
      v.check(ptr, 8);
      v.setU64(ptr, clockNow(id >>> 0));
      return ERRNO.SUCCESS;
    },

    poll_oneoff(inPtr: number, outPtr: number, nsubs: number, neventsPtr: number) {
      const v = ctx.mem();
      const n = nsubs >>> 0;
      if (n === 0) fail(ERRNO.INVAL);
      v.check(inPtr, n * 48);
      v.check(outPtr, n * 32);
      v.check(neventsPtr, 4);
      const subs: Sub[] = [];
      for (let i = 0; i < n; i++) {
        const p = (inPtr >>> 0) + i * 48;
        const userdata = v.u64At(p);
        const type = v.u8At(p + 8);
        if (type === EVENTTYPE.CLOCK) {
          const id = v.u32At(p + 16);
          const timeout = v.u64At(p + 24);
          const flags = v.u32At(p + 40) & 0xffff;
          let at: bigint | undefined;
          let error = 0;
          try {
            const mono = process.hrtime.bigint();
            at = flags & SUBCLOCKFLAGS_ABSTIME ? mono + (timeout - clockNow(id)) : mono + timeout;
          } catch {
            error = ERRNO.INVAL;
          }
          subs.push({ userdata, type, at, error });
        } else if (type === EVENTTYPE.FD_READ || type === EVENTTYPE.FD_WRITE) {
          subs.push({ userdata, type, error: 0, fd: v.u32At(p + 16) });
        } else fail(ERRNO.INVAL);
      }
      const clocks = subs.filter((s) => s.type === EVENTTYPE.CLOCK && s.error === 0);
      const immediate = subs.some((s) => s.type !== EVENTTYPE.CLOCK || s.error !== 0);
      // streams here never block (stdin is all given up front), so an fd subscription ends the wait at once
      if (!immediate && clocks.length > 0) {
        const earliest = clocks.reduce((m, s) => (s.at! < m ? s.at! : m), clocks[0]!.at!);
        sleepUntil(earliest, ctx.deadline);
      }
      const now = process.hrtime.bigint();
      let count = 0;
      for (const s of subs) {
        if (s.type === EVENTTYPE.CLOCK && s.error === 0 && s.at! > now) continue;
        const p = (outPtr >>> 0) + count * 32;
        v.u8.fill(0, p, p + 32);
        v.setU64(p, s.userdata);
        v.setU8(p + 10, s.type);
        if (s.type === EVENTTYPE.CLOCK) v.setU16(p + 8, s.error);
        else if (s.type === EVENTTYPE.FD_READ) {
          const r = readable(s.fd!);
          v.setU16(p + 8, r.error);
          v.setU64(p + 16, r.nbytes);
          v.setU16(p + 24, r.flags);
        } else v.setU16(p + 8, writableError(s.fd!));
        count++;
      }
      v.setU32(neventsPtr, count);
      return ERRNO.SUCCESS;
    },
  };
}
