/**
 * Shell: just-bash, a bash interpreter written in TypeScript with the common utilities (cat, grep, sed, awk, jq,
 * find...) running in-process on a virtual filesystem. Each run gets a fresh interpreter and a fresh in-memory
 * filesystem with the mounts mapped in (filesystem.ts); `python3` and `node` inside scripts are served by the
 * other runtimes (interpreters.ts). The script runs as `bash -c SCRIPT $0 ARGS...`, so $0 and $1... are what a
 * real shell would give it.
 *
 * Known differences from a real shell, all from just-bash: output arrives when the script ends (not streamed);
 * just-bash sets its own defaults (HOME=/, PATH=/usr/bin:/bin, HOSTNAME...) for variables the environment does
 * not set; cancellation at the deadline happens between commands.
 */
import { EXIT, type Language } from '../../core/types.js';
import { ValidationError } from '../../core/errors.js';
import { guestCwd, resolveGuestPath } from '../command.js';
import { getRuntime } from '../index.js';
import type { CodeRequest, CodeRuntime, OutputSink, RuntimeOutcome } from '../types.js';
import { buildFilesystem } from './filesystem.js';
import { interpreterCommands } from './interpreters.js';

type JustBash = typeof import('just-bash');

const MiB = 1024 * 1024;
/** Loop and command-count limits when a deadline bounds the run (just-bash's defaults, 100 000, stop ordinary scripts). */
const DEADLINE_BOUND_ITERATIONS = 10_000_000;

export interface BashRuntimeOptions {
  /**
   * Serves `python3` / `node` inside scripts.
   * @default getRuntime (the process's shared runtimes)
   */
  runtimeFor?: (language: Language) => CodeRuntime;
}

export class BashRuntime implements CodeRuntime {
  readonly language = 'shell' as const;
  private jb?: Promise<JustBash>;

  constructor(private readonly opts: BashRuntimeOptions = {}) {}

  async prepare(): Promise<void> {
    const jb = await this.load();
    // just-bash loads each utility on first use: load the common ones now rather than in a guest's run
    const bash = new jb.Bash({ fs: new jb.InMemoryFs(), cwd: '/' });
    await bash.exec('echo x | cat | grep x | sed s/x/y/ | awk "{print}" | sort | uniq | head -1 | tail -1 | wc -l | tr a b | cut -c1 >/dev/null; ls / >/dev/null; test -e / && true');
  }

  private load(): Promise<JustBash> {
    this.jb ??= import('just-bash').catch((e) => {
      this.jb = undefined;
      throw e;
    });
    return this.jb;
  }

  async run(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    const jb = await this.load();
    const fs = buildFilesystem(jb, req.mounts);
    const cwd = guestCwd(req);
    if (cwd !== '/' && !resolveGuestPath(req.mounts, '/', cwd)) {
      // outside the mounts the tree is empty: create the directory rather than fail, as a fresh container would
      await fs.mkdir(cwd, { recursive: true });
    } else if (!(await fs.exists(cwd))) {
      throw new ValidationError(`the working directory '${cwd}' does not exist in the guest`, { cwd });
    }
    const memoryBytes = req.memoryMb * MiB;
    const left = req.deadline === undefined ? undefined : req.deadline - Date.now();
    if (left !== undefined && left <= 0) return timedOut(out);
    const bash = new jb.Bash({
      fs,
      cwd,
      env: { ...req.env },
      customCommands: interpreterCommands(jb, req, this.opts.runtimeFor ?? getRuntime),
      executionLimits: {
        maxFileSystemBytes: memoryBytes,
        maxStringLength: memoryBytes,
        maxLiveBytes: memoryBytes,
        maxOutputSize: memoryBytes,
        ...(left !== undefined
          ? { maxExecutionTimeMs: left, maxLoopIterations: DEADLINE_BOUND_ITERATIONS, maxCommandCount: DEADLINE_BOUND_ITERATIONS }
          : {}),
      },
    });
    const abort = new AbortController();
    const timer = left === undefined ? undefined : setTimeout(() => abort.abort(), left);
    const argv0 = req.scriptPath && req.scriptPath !== '-' ? req.scriptPath : 'bash';
    let result;
    try {
      result = await bash.exec('bash -c', {
        args: [req.code, argv0, ...(req.args ?? [])],
        stdin: Buffer.from(req.stdin).toString('latin1'),
        stdinKind: 'bytes',
        signal: abort.signal,
      });
    } catch (e) {
      // just-bash rejects instead of failing the one command for some filesystem errors (a redirect into a
      // read-only mount): the script stops there, as with `set -e`
      out.stderr(`bash: ${(e as Error).message}\n`);
      return { exitCode: 1 };
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (result.stdout) out.stdout(result.stdoutKind === 'bytes' || result.stdoutEncoding === 'binary' ? Buffer.from(result.stdout, 'latin1') : result.stdout);
    if (result.stderr) out.stderr(result.stderr);
    if (abort.signal.aborted || (req.deadline !== undefined && result.exitCode === EXIT.TIMEOUT && Date.now() >= req.deadline)) {
      return timedOut(out);
    }
    return { exitCode: result.exitCode };
  }
}

function timedOut(out: OutputSink): RuntimeOutcome {
  out.stderr('timeout: the run was stopped at its deadline\n');
  return { exitCode: EXIT.TIMEOUT };
}
