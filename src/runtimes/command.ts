/**
 * The command router of the `wasm` backend: turns an argv such as `python3 -c CODE a b`, `node x.js` or
 * `sh -c SCRIPT` into the runtime that can run it. The backend has no operating system to exec programs in, so
 * everything that is not one of its interpreters (or a .wasm module) is refused with a message that says where
 * to go instead.
 */
import { readFile, realpath } from 'node:fs/promises';
import { posix, relative, isAbsolute, join } from 'node:path';
import type { Language, Mount } from '../core/types.js';
import { NotFoundError, UnsupportedError, ValidationError } from '../core/errors.js';
import type { CodeRequest, RuntimeRequest } from './types.js';

export type RoutedCommand =
  /** `python3 -c CODE a b`, `node -e CODE`, `sh -c SCRIPT [NAME [ARGS]]` (argv0: the NAME, which becomes $0). */
  | { kind: 'code'; language: Language; code: string; args: string[]; argv0?: string }
  /** `python3 file.py`, `node x.js`, `sh x.sh`: path as given (a guest path); '-' means the program is read from stdin. */
  | { kind: 'script'; language: Language; path: string; args: string[] }
  /** `./prog.wasm args` */
  | { kind: 'wasm'; path: string; args: string[] };

/** The path that stands for "the program comes from stdin" (`python3 -`, or an interpreter given no program). */
export const STDIN_PATH = '-';

/** Thrown for a program the backend cannot run; the message is shown to users as is. */
function unsupportedProgram(program: string): UnsupportedError {
  return new UnsupportedError(
    `the wasm backend cannot run '${program}': it runs python3, node, sh/bash and .wasm programs; ` +
      'use a container backend (-B docker or -B podman) for other commands',
    { program },
  );
}

export function routeCommand(argv: string[]): RoutedCommand {
  if (!Array.isArray(argv) || argv.length === 0 || typeof argv[0] !== 'string' || argv[0] === '') {
    throw new ValidationError('empty command: expected a program name such as python3, node, sh or a .wasm file');
  }
  const program = argv[0];
  const name = posix.basename(program);
  const rest = argv.slice(1);
  if (name.endsWith('.wasm')) return { kind: 'wasm', path: program, args: rest };
  if (/^python(3(\.\d+)?)?$/.test(name)) return routePython(name, rest);
  if (name === 'node' || name === 'nodejs') return routeNode(name, rest);
  if (name === 'sh' || name === 'bash' || name === 'dash') return routeShell(name, rest);
  throw unsupportedProgram(program);
}

/** The program part that follows the options: a script path (or '-'), then its arguments. */
function scriptOrStdin(language: Language, rest: string[]): RoutedCommand {
  if (rest.length === 0) return { kind: 'script', language, path: STDIN_PATH, args: [] };
  return { kind: 'script', language, path: rest[0], args: rest.slice(1) };
}

function badOption(program: string, option: string, why = 'is not supported'): ValidationError {
  return new ValidationError(`${program}: option '${option}' ${why}`, { program, option });
}

// Python's flags that take no value and change nothing that matters in this runtime (unbuffered output,
// no bytecode files, isolated mode, warnings about bytes, optimisation levels, quiet startup).
const PYTHON_NOOP_FLAGS = new Set(['u', 'B', 'E', 's', 'S', 'I', 'O', 'q', 'b', 'd', 'P', 'R']);

function routePython(program: string, args: string[]): RoutedCommand {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return scriptOrStdin('python', args.slice(i + 1));
    if (a === '-' || !a.startsWith('-')) return scriptOrStdin('python', args.slice(i));
    if (a === '--version' || a === '-V') {
      return { kind: 'code', language: 'python', code: 'import sys; print("Python " + sys.version.split()[0])', args: [] };
    }
    if (a.startsWith('--')) throw badOption(program, a);
    // a cluster of short flags such as -uB, possibly ending in one that takes a value (-c CODE, -cCODE, -W x)
    for (let j = 1; j < a.length; j++) {
      const flag = a[j];
      if (PYTHON_NOOP_FLAGS.has(flag)) continue;
      const attached = a.slice(j + 1);
      if (flag === 'c' || flag === 'm' || flag === 'W' || flag === 'X') {
        let value = attached;
        if (value === '') {
          if (i + 1 >= args.length) throw badOption(program, `-${flag}`, 'needs an argument');
          value = args[++i];
        }
        if (flag === 'c') return { kind: 'code', language: 'python', code: value, args: args.slice(i + 1) };
        if (flag === 'm') return pythonModule(value, args.slice(i + 1));
        break; // -W / -X: warning and implementation options, accepted and ignored
      }
      throw badOption(program, `-${flag}`);
    }
  }
  return scriptOrStdin('python', []);
}

/** `python3 -m MODULE args`: runpy does what CPython does (sys.argv[0] becomes the module's file). */
function pythonModule(module: string, args: string[]): RoutedCommand {
  if (!/^[A-Za-z_][\w.]*$/.test(module)) throw new ValidationError(`python3: invalid module name '${module}'`);
  const code = `import runpy\nrunpy.run_module(${JSON.stringify(module)}, run_name="__main__", alter_sys=True)\n`;
  return { kind: 'code', language: 'python', code, args, argv0: '-m' };
}

function routeNode(program: string, args: string[]): RoutedCommand {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return scriptOrStdin('javascript', args.slice(i + 1));
    if (a === '-' || !a.startsWith('-')) return scriptOrStdin('javascript', args.slice(i));
    const eq = a.indexOf('=');
    const opt = eq > 0 ? a.slice(0, eq) : a;
    if (opt === '-e' || opt === '--eval' || opt === '-p' || opt === '--print') {
      let code: string;
      if (eq > 0) code = a.slice(eq + 1);
      else {
        if (i + 1 >= args.length) throw badOption(program, opt, 'needs an argument');
        code = args[++i];
      }
      // --print: the completion value of the script, printed the way console.log would
      if (opt === '-p' || opt === '--print') code = `console.log((0, eval)(${JSON.stringify(code)}))`;
      return { kind: 'code', language: 'javascript', code, args: args.slice(i + 1) };
    }
    // V8/Node tuning and warning flags have no meaning for QuickJS; options that load host code do
    if (a.startsWith('--') && !/^--(require|import|loader|experimental-loader|env-file)\b/.test(a)) continue;
    throw badOption(program, a);
  }
  return scriptOrStdin('javascript', []);
}

function quoteShellWord(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function routeShell(program: string, args: string[]): RoutedCommand {
  const setOptions: string[] = [];
  let command: string | undefined;
  let fromStdin = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--' || a === '-') { i++; break; }
    if (a === '--norc' || a === '--noprofile' || a === '--posix') continue;
    if (a.startsWith('--') || !/^[-+]/.test(a)) break;
    for (const flag of a.slice(1)) {
      if (flag === 'o') {
        // -o NAME (also at the end of a cluster: -euo pipefail)
        if (i + 1 >= args.length) throw badOption(program, `${a[0]}o`, 'needs an argument');
        setOptions.push(`${a[0]}o ${quoteShellWord(args[++i])}`);
      } else if (flag === 'c' && a[0] === '-') {
        if (command !== undefined) throw badOption(program, '-c', 'is given twice');
        command = '';
      } else if (flag === 's' && a[0] === '-') fromStdin = true;
      else if ('euxfvCa'.includes(flag)) setOptions.push(`${a[0]}${flag}`);
      else if (flag === 'l' || flag === 'i') continue; // login / interactive: no profile files exist here
      else throw badOption(program, `${a[0]}${flag}`);
    }
  }
  const rest = args.slice(i);
  const prefix = setOptions.length ? `set ${setOptions.join(' ')}; ` : '';
  if (command !== undefined) {
    if (rest.length === 0) throw badOption(program, '-c', 'needs an argument');
    return { kind: 'code', language: 'shell', code: prefix + rest[0], args: rest.slice(2), argv0: rest[1] ?? program };
  }
  if (fromStdin || rest.length === 0) {
    if (!prefix) return { kind: 'script', language: 'shell', path: STDIN_PATH, args: rest };
    // the program is all of stdin: read it whole, then run it with the options set
    return { kind: 'code', language: 'shell', code: `${prefix}eval "$(cat)"`, args: rest, argv0: program };
  }
  if (!prefix) return { kind: 'script', language: 'shell', path: rest[0], args: rest.slice(1) };
  // options such as -e apply to the script: source it from a shell that has them set, with its own arguments
  return { kind: 'code', language: 'shell', code: `${prefix}. "$0" "$@"`, args: rest.slice(1), argv0: rest[0] };
}

/**
 * Where a guest path lives on the host: the mount with the longest guest prefix. Relative paths are taken from
 * `cwd`. Returns undefined when no mount covers the path (the guest has no other files).
 */
export function resolveGuestPath(mounts: Mount[], cwd: string, guestPath: string): { hostPath: string; mount: Mount } | undefined {
  const abs = posix.resolve(cwd || '/', guestPath);
  let best: { hostPath: string; mount: Mount } | undefined;
  let bestLen = -1;
  for (const m of mounts) {
    const root = posix.resolve('/', m.guestPath);
    const rel = posix.relative(root, abs);
    if (rel.startsWith('..') || posix.isAbsolute(rel)) continue;
    if (root.length > bestLen) {
      best = { hostPath: rel ? join(m.hostPath, ...rel.split('/')) : m.hostPath, mount: m };
      bestLen = root.length;
    }
  }
  return best;
}

/** The guest's working directory: the one asked for, else the first mount, else '/'. */
export function guestCwd(req: Pick<RuntimeRequest, 'cwd' | 'mounts'>): string {
  return posix.resolve('/', req.cwd ?? req.mounts[0]?.guestPath ?? '/');
}

/**
 * Turns a routed `code` or `script` command into the request a CodeRuntime runs: reads a script from the mounts
 * (a symlink may not lead out of its mount), or takes the program from stdin for '-'.
 */
export async function loadRoutedCode(
  cmd: Exclude<RoutedCommand, { kind: 'wasm' }>,
  req: RuntimeRequest,
): Promise<CodeRequest> {
  if (cmd.kind === 'code') {
    return { ...req, code: cmd.code, args: cmd.args, ...(cmd.argv0 !== undefined ? { scriptPath: cmd.argv0 } : {}) };
  }
  if (cmd.path === STDIN_PATH) {
    // the program is the whole of stdin, so nothing is left for it to read
    return { ...req, code: Buffer.from(req.stdin).toString('utf8'), stdin: new Uint8Array(0), args: cmd.args, scriptPath: STDIN_PATH };
  }
  const cwd = guestCwd(req);
  const found = resolveGuestPath(req.mounts, cwd, cmd.path);
  if (!found) {
    throw new NotFoundError(`can't open file '${cmd.path}': it is not inside any mounted directory`, { path: cmd.path });
  }
  let code: string;
  try {
    const [real, root] = await Promise.all([realpath(found.hostPath), realpath(found.mount.hostPath)]);
    const rel = relative(root, real);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new NotFoundError(`can't open file '${cmd.path}': it leads outside its mounted directory`, { path: cmd.path });
    }
    code = await readFile(real, 'utf8');
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    const code_ = (e as NodeJS.ErrnoException).code;
    const why = code_ === 'ENOENT' ? 'No such file or directory' : code_ === 'EISDIR' ? 'Is a directory' : String((e as Error).message);
    throw new NotFoundError(`can't open file '${cmd.path}': ${why}`, { path: cmd.path });
  }
  return { ...req, code, args: cmd.args, scriptPath: cmd.path };
}
