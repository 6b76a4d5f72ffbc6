/**
 * From a security profile and a request to the exact flags of `ENGINE run`: the one place where profiles become
 * container settings. Network off, read-only root (+ a tmpfs /tmp), every capability dropped, no-new-privileges,
 * the engine's default seccomp profile (never disabled), pids/memory/cpu caps, an unprivileged user, and host
 * mounts only where the profile allows them.
 */
import { ValidationError } from '../../core/errors.js';
import { getProfile, type SecurityProfile } from '../../core/profiles.js';
import type { Mount } from '../../core/types.js';
import { validateEnv, validateImageRef, validateMounts } from './validate.js';

/** The unprivileged user of profiles with nonRootUser (nobody:nogroup on Debian-like images). */
export const NON_ROOT_USER = '65534:65534';

/** Size of the writable /tmp given to read-only sandboxes. */
export const TMPFS_MB = 64;

/**
 * PID 1 of every container: idles until told to stop. The trap makes `stop` immediate (PID 1 ignores signals it
 * has no handler for), and `wait` reaps orphans re-parented to it.
 */
export const IDLE_INIT = ['-c', 'trap "exit 0" TERM INT; while :; do sleep 86400 & wait $!; done'];

export interface ContainerPlan {
  image: string;
  profile: SecurityProfile;
  network: boolean;
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  env: Record<string, string>;
  mounts: Mount[];
  /** OCI runtime other than the engine's default ('runsc' for gVisor). */
  runtime?: string;
}

export interface PlanInput {
  image: string;
  profile?: string;
  network?: boolean;
  memoryMb?: number;
  cpus?: number;
  env?: Record<string, string>;
  mounts?: Mount[];
  runtime?: string;
}

export const SUPPORTED_RUNTIMES = ['runsc'] as const;

/** Validate a request against its profile; the result is what the container will be. */
export function planContainer(input: PlanInput): ContainerPlan {
  const profile = getProfile(input.profile);
  const mounts = validateMounts(input.mounts);
  if (mounts.length > 0 && !profile.mountCwd) {
    throw new ValidationError(
      `security profile '${profile.name}' does not allow host mounts; use the 'permissive' profile to mount host directories`,
      { profile: profile.name },
    );
  }
  const memoryMb = input.memoryMb ?? profile.memoryMb;
  if (!Number.isInteger(memoryMb) || memoryMb < 6) throw new ValidationError(`memoryMb must be an integer of at least 6 (MiB), got ${memoryMb}`);
  const cpus = input.cpus ?? profile.cpus;
  if (typeof cpus !== 'number' || !Number.isFinite(cpus) || cpus <= 0 || cpus > 1024) throw new ValidationError(`cpus must be a positive number, got ${cpus}`);
  if (input.runtime !== undefined && !(SUPPORTED_RUNTIMES as readonly string[]).includes(input.runtime)) {
    throw new ValidationError(`unknown container runtime '${input.runtime}' (supported: ${SUPPORTED_RUNTIMES.join(', ')})`);
  }
  return {
    image: validateImageRef(input.image),
    profile,
    network: input.network ?? profile.network,
    memoryMb,
    cpus,
    pidsLimit: profile.pidsLimit,
    env: validateEnv(input.env),
    mounts,
    runtime: input.runtime,
  };
}

/** The security and resource flags of `run`, in the order the plan lists them. */
export function securityArgs(plan: ContainerPlan): string[] {
  const p = plan.profile;
  const args: string[] = [];
  if (!plan.network) args.push('--network', 'none');
  if (p.readOnlyRoot) args.push('--read-only', '--tmpfs', `/tmp:rw,nosuid,nodev,size=${TMPFS_MB}m,mode=1777`);
  if (p.dropCapabilities) args.push('--cap-drop', 'ALL', '--security-opt', 'no-new-privileges');
  // seccomp: no flag on purpose, so the engine's default profile stays in force
  args.push('--pids-limit', String(plan.pidsLimit));
  args.push('--memory', `${plan.memoryMb}m`, '--memory-swap', `${plan.memoryMb}m`);
  args.push('--cpus', String(plan.cpus));
  if (p.nonRootUser) args.push('--user', NON_ROOT_USER);
  for (const m of plan.mounts) {
    args.push('--mount', `type=bind,source=${m.hostPath},target=${m.guestPath}${m.readOnly ? ',readonly' : ''}`);
  }
  for (const [k, v] of Object.entries(plan.env)) args.push('--env', `${k}=${v}`);
  return args;
}

export interface RunArgsOptions {
  name: string;
  labels: Record<string, string>;
  removeOnStop: boolean;
  /** The profile's createArgs: flags this engine needs on every container here. */
  engineArgs: string[];
}

/** Runs "$@", then reads what is left of stdin, then exits with the command's status. */
export const DRAIN_STDIN = ['/bin/sh', '-c', '"$@"; rc=$?; cat >/dev/null; exit $rc', 'sh'];

export interface OneShotOptions extends RunArgsOptions {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** stdin is given: keep it open (and drain what the command leaves unread, where the engine needs that). */
  interactive: boolean;
  drainStdin: boolean;
}

/**
 * The argv of `ENGINE run --rm …` that runs the command itself in a new container with the same flags a pooled
 * container gets: a cold ephemeral run is one engine call instead of `run -d` + `exec`. Like `exec`, the command
 * is run as given (the image's entrypoint is replaced by argv[0]), never through a shell.
 */
export function oneShotArgs(plan: ContainerPlan, opts: OneShotOptions): string[] {
  const args = ['run', '--rm', '--pull', 'never', '--name', opts.name];
  if (opts.interactive) args.push('--interactive');
  for (const [k, v] of Object.entries(opts.labels)) args.push('--label', `${k}=${v}`);
  args.push(...securityArgs(plan), ...opts.engineArgs);
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--env', `${k}=${v}`);
  if (opts.cwd) args.push('--workdir', opts.cwd);
  const command = opts.interactive && opts.drainStdin ? [...DRAIN_STDIN, ...opts.argv] : opts.argv;
  args.push('--entrypoint', command[0]!, '--', plan.image, ...command.slice(1));
  return args;
}

/** The argv of `ENGINE run -d …` that creates and starts a container idling under IDLE_INIT. */
export function runArgs(plan: ContainerPlan, opts: RunArgsOptions): string[] {
  const args = ['run', '--detach', '--pull', 'never', '--name', opts.name];
  if (opts.removeOnStop) args.push('--rm');
  for (const [k, v] of Object.entries(opts.labels)) args.push('--label', `${k}=${v}`);
  args.push(...securityArgs(plan), ...opts.engineArgs);
  args.push('--entrypoint', '/bin/sh', '--', plan.image, ...IDLE_INIT);
  return args;
}
