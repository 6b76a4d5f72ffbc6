/**
 * Resource limits of a worker, set with util-linux prlimit(1) wrapped around the jail (`prlimit --nofile=...
 * -- bwrap ...`), so they apply from the first instruction and are inherited by everything inside.
 *
 * RLIMIT_AS is deliberately absent: V8 reserves ~10 GB of address space per WebAssembly.Memory (guard regions
 * that make bounds checks free), so any address-space cap low enough to matter would break every Wasm run.
 * Memory is capped by cgroup or by the host's RSS watch instead (memory.ts).
 */
export interface WorkerRlimits {
  /** Open files. */
  nofile: number;
  /**
   * Processes and threads of the user (counted host-wide by the kernel; root is exempt). Only a backstop: the
   * seccomp filter already refuses process creation, and a worker needs ~12 threads.
   */
  nproc: number;
  /** Largest file a worker may write (bytes); past it writes fail with EFBIG (the worker ignores SIGXFSZ). */
  fsize: number;
  /** Core dumps: never (a dump of a worker holds guest data). */
  core: 0;
}

export const DEFAULT_RLIMITS: WorkerRlimits = {
  nofile: 512,
  nproc: 4096,
  fsize: 1024 * 1024 * 1024,
  core: 0,
};

export function prlimitArgs(l: WorkerRlimits): string[] {
  const both = (n: number): string => `${n}:${n}`;
  return [`--nofile=${both(l.nofile)}`, `--nproc=${both(l.nproc)}`, `--fsize=${both(l.fsize)}`, `--core=${both(l.core)}`, '--'];
}
