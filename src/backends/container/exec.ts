/**
 * `ENGINE exec` into a running container: the one path by which guest commands run (sandbox exec, ephemeral runs,
 * file operations). It tells the command's own exit code apart from the engine's failures (container gone or
 * stopped, bad working directory), normalises "command not found" to 127 across engines, and stops timed-out
 * commands inside the container rather than only killing the CLI client.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../core/errors.js';
import { EXIT } from '../../core/types.js';
import type { ContainerEngine } from './engine.js';
import { BoundedOutput } from '../../core/output.js';
import { streamCommand, type StreamOutcome, type StreamRequest } from './stream.js';
import { DRAIN_STDIN } from './plan.js';

/** Stream options (runtime, stdin, limits, callbacks, signal) as streamCommand takes them, plus what exec adds. */
export interface GuestExecRequest extends Omit<StreamRequest, 'args' | 'stopGuest'> {
  container: string;
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Stops the command inside the container on timeout or abort. Default: kill every process carrying this exec's
   * AGENTKERNEL_EXEC_ID (children inherit it), which leaves the rest of a persistent sandbox alone.
   */
  stopGuest?: () => Promise<void>;
}

/** Name of the variable that marks the processes of one exec, so a timeout can find and kill exactly them. */
export const EXEC_ID_VAR = 'AGENTKERNEL_EXEC_ID';

/** Kills the processes whose environment holds EXEC_ID_VAR=$1 (tr/grep exist in busybox and coreutils images). */
const KILL_TAGGED =
  `for p in /proc/[0-9]*; do ` +
  `if tr '\\0' '\\n' < "$p/environ" 2>/dev/null | grep -qx "${EXEC_ID_VAR}=$1"; then kill -9 "\${p#/proc/}" 2>/dev/null; fi; ` +
  `done; exit 0`;

export type ContainerState = 'running' | 'created' | 'paused' | 'exited' | 'missing' | string;

export async function containerState(engine: ContainerEngine, container: string, runtime?: string): Promise<ContainerState> {
  const r = await engine.call(['container', 'inspect', '--format', '{{.State.Status}}', '--', container], { runtime, timeoutMs: 30_000 });
  if (r.exitCode !== 0) {
    if (/no such|not known|no container/i.test(r.stderr)) return 'missing';
    throw engine.failure('container inspect', r);
  }
  return r.stdout.trim();
}


function execArgs(engine: ContainerEngine, req: GuestExecRequest, tag?: string): string[] {
  const args = ['exec'];
  if (req.stdin !== undefined) args.push('--interactive');
  if (req.cwd) args.push('--workdir', req.cwd);
  for (const [k, v] of Object.entries(req.env ?? {})) args.push('--env', `${k}=${v}`);
  if (tag) args.push('--env', `${EXEC_ID_VAR}=${tag}`);
  const drain = req.stdin !== undefined && engine.profile.drainStdin;
  args.push('--', req.container, ...(drain ? DRAIN_STDIN : []), ...req.argv);
  return args;
}

/** Words of the OCI runtime when the program could not be started; the guest never ran, the exit code is ours. */
const CANNOT_START_RE = /^(Error: )?(OCI runtime|\S*(runc|crun|runsc):)/;

export async function execInContainer(engine: ContainerEngine, req: GuestExecRequest): Promise<StreamOutcome> {
  const tag = req.stopGuest ? undefined : randomBytes(8).toString('hex');
  const stopGuest = req.stopGuest ?? (async () => {
    await engine.call(['exec', '--', req.container, '/bin/sh', '-c', KILL_TAGGED, 'sh', tag!], { runtime: req.runtime, timeoutMs: 10_000 });
  });
  const out = await streamCommand(engine, { ...req, args: execArgs(engine, req, tag), runtime: req.runtime, stopGuest });
  if (out.exitCode === 0 || out.timedOut) return out;
  const err = out.stderr.text();
  // docker writes the runtime's complaint to stdout, podman to stderr; either way it is the only output
  const complaint = (out.stdout.total < 4096 ? out.stdout.text() : '') + err;
  if ((out.exitCode === 126 || out.exitCode === 127) && CANNOT_START_RE.test(complaint.trimStart())) {
    if (/chdir|cwd|workdir|working directory/i.test(complaint)) {
      throw new NotFoundError(`working directory ${req.cwd ?? ''} does not exist in the sandbox`, { cwd: req.cwd });
    }
    out.exitCode = /not found|no such file/i.test(complaint) ? EXIT.NOT_FOUND : 126;
    return { ...out, stdout: new BoundedOutput(0), stderr: textOutput(complaint, req.outputBytes) };
  }
  // The engine's own failures look like "Error…" on stderr with nothing on stdout; a guest can print the same,
  // so the container's state decides.
  if (out.stdout.total === 0 && /^(Error response from daemon:|Error:)/.test(err.trimStart())) {
    const state = await engine.dialect.containerState(engine, req.container, req.runtime);
    if (state === 'missing') throw new NotFoundError(`container ${req.container} no longer exists`, { container: req.container });
    if (state !== 'running') throw new ConflictError(`container ${req.container} is ${state}, not running`, { container: req.container, state });
  }
  return out;
}

function textOutput(text: string, limit: number): BoundedOutput {
  const o = new BoundedOutput(limit);
  o.write(text);
  return o;
}
