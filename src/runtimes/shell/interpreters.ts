/**
 * `python3`, `python`, `node` and `nodejs` as commands inside shell scripts: each call is routed like a
 * top-level command and run by the Python or JavaScript runtime with the shell's environment, stdin (pipes
 * work), mounts, memory cap and deadline. A script file is read through the shell's own filesystem, so
 * `python3 /tmp/x.py` works for a file the script just wrote. The interpreters see the mounts, not the shell's
 * in-memory files; their working directory is the shell's when it lies inside a mount, else '/'.
 */
import type { Language } from '../../core/types.js';
import { resolveGuestPath, routeCommand, STDIN_PATH } from '../command.js';
import type { CodeRequest, CodeRuntime, RuntimeRequest } from '../types.js';
import { CollectingSink } from './capture.js';

type JustBash = typeof import('just-bash');
type Command = ReturnType<JustBash['defineCommand']>;
type CommandContext = Parameters<Command['execute']>[1];
type CommandResult = Awaited<ReturnType<Command['execute']>>;

export const INTERPRETER_COMMANDS = ['python3', 'python', 'node', 'nodejs'] as const;

export function interpreterCommands(jb: JustBash, base: RuntimeRequest, runtimeFor: (l: Language) => CodeRuntime): Command[] {
  return INTERPRETER_COMMANDS.map((name) =>
    jb.defineCommand(name, (args, ctx) => runInterpreter(jb, name, args, ctx, base, runtimeFor)),
  );
}

function failure(stderr: string, exitCode: number): CommandResult {
  return { stdout: '', stderr, exitCode };
}

async function runInterpreter(
  jb: JustBash,
  name: string,
  args: string[],
  ctx: CommandContext,
  base: RuntimeRequest,
  runtimeFor: (l: Language) => CodeRuntime,
): Promise<CommandResult> {
  let routed;
  try {
    routed = routeCommand([name, ...args]);
  } catch (e) {
    return failure(`${name}: ${(e as Error).message}\n`, 2);
  }
  if (routed.kind === 'wasm') return failure(`${name}: cannot run a .wasm module\n`, 2);
  const stdin = Buffer.from(jb.latin1FromBytes(ctx.stdin), 'latin1');
  const req: CodeRequest = {
    env: ctx.exportedEnv ? { ...ctx.exportedEnv } : Object.fromEntries(ctx.env),
    stdin,
    mounts: base.mounts,
    cwd: resolveGuestPath(base.mounts, '/', ctx.cwd) ? ctx.cwd : '/',
    memoryMb: base.memoryMb,
    ...(base.deadline !== undefined ? { deadline: base.deadline } : {}),
    code: '',
    args: routed.args,
  };
  if (routed.kind === 'code') {
    req.code = routed.code;
    if (routed.argv0 !== undefined) req.scriptPath = routed.argv0;
  } else if (routed.path === STDIN_PATH) {
    // the program is the whole of stdin, so nothing is left for it to read
    req.code = stdin.toString('utf8');
    req.stdin = new Uint8Array(0);
    req.scriptPath = STDIN_PATH;
  } else {
    try {
      req.code = await ctx.fs.readFile(ctx.fs.resolvePath(ctx.cwd, routed.path), 'utf8');
    } catch {
      return failure(`${name}: can't open file '${routed.path}': No such file or directory\n`, routed.language === 'python' ? 2 : 1);
    }
    req.scriptPath = routed.path;
  }
  const sink = new CollectingSink();
  let outcome;
  try {
    outcome = await runtimeFor(routed.language).run(req, sink);
  } catch (e) {
    return failure(`${sink.stderrText}${name}: ${(e as Error).message}\n`, 1);
  }
  return { ...jb.bytesOutput(jb.unsafeBytesFromLatin1(sink.stdoutBytes.toString('latin1'))), stderr: sink.stderrText, exitCode: outcome.exitCode };
}
