import { basename } from 'node:path';
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { addDirOption, addRunOptions, readStdin, type RunFlags } from '../options.js';
import { finishRun, note, streamHooks } from '../output.js';
import { runDaemonAction } from '../action.js';

interface RunCmdFlags extends RunFlags {
  wasm?: string;
  wasmComponent?: string;
  invoke?: string;
  args?: string;
  keep?: boolean;
  name?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .summary('run a command, a WebAssembly module or an export in a throw-away sandbox')
    .description(
      'Run a command in a throw-away sandbox (`run -- python3 -c "print(1)"`), a WASI program (`run --wasm FILE -- ARGS`),\n' +
        'or call an export of a module (`run --wasm FILE --invoke NAME -- ARGS`). The guest\'s exit code is ours.',
    )
    .argument('[command...]', 'command and arguments (after --), or the program arguments with --wasm')
    .option('--wasm <file>', 'WASI preview1 module to run (.wasm binary or .wat text)')
    .option('--wasm-component <file>', 'WASI 0.2 component to run (.wasm binary or component .wat text)')
    .option('--invoke <export>', 'with --wasm: call this exported function; arguments follow --, results print one per line; with --wasm-component: call this export (NAME or IFACE#NAME), the result prints as JSON')
    .option('--args <json>', 'with --wasm-component --invoke: the arguments as a JSON array (docs/components.md)')
    .option('--image <image>', 'container image (container backends); default: detected from the command')
    .option('--keep', 'keep the sandbox after the command ends (prints its name)')
    .option('--name <name>', 'with --keep: name of the sandbox to keep');
  addDirOption(addRunOptions(cmd));
  cmd.action(async (args: string[], f: RunCmdFlags) => {
    await runDaemonAction(f, async (k, signal) => {
      const stdin = f.interactive ? await readStdin() : undefined;
      const common = {
        backend: f.backend, env: f.env, stdin, mounts: f.dir, ...streamHooks(f.json, signal),
      };
      if (f.wasmComponent) {
        if (f.wasm) throw new ValidationError('give either --wasm or --wasm-component, not both');
        if (f.invoke) {
          if (args.length > 0) throw new ValidationError('with --wasm-component --invoke, give the arguments as --args JSON, not after --');
          return finishRun(await k.runComponent({ ...common, component: f.wasmComponent, invoke: f.invoke, invokeArgs: parseJsonArgs(f.args) }), f.json);
        }
        if (f.args !== undefined) throw new ValidationError('--args needs --invoke');
        return finishRun(await k.runComponent({ ...common, component: f.wasmComponent, args: [...args] }), f.json);
      }
      if (f.args !== undefined) throw new ValidationError('--args needs --wasm-component and --invoke');
      if (f.wasm) {
        if (f.invoke) {
          return finishRun(await k.invoke({ ...common, module: f.wasm, export: f.invoke, args }), f.json);
        }
        return finishRun(await k.runWasm({ ...common, module: f.wasm, args: [...args] }), f.json);
      }
      if (f.invoke) throw new ValidationError('--invoke needs --wasm FILE');
      if (args.length === 0) throw new ValidationError('nothing to run: give a command after --, or --wasm FILE');
      if (f.keep) {
        const name = f.name ?? `run-${basename(args[0]!).replace(/[^A-Za-z0-9_-]/g, '')}-${Date.now().toString(36)}`;
        await k.create({ name, backend: f.backend, image: f.image, env: f.env, mounts: f.dir });
        note(`kept sandbox '${name}' (remove it with: agentkernel remove ${name})`);
        return finishRun(await k.exec(name, args, { env: f.env, stdin, ...streamHooks(f.json, signal) }), f.json);
      }
      return finishRun(await k.run(args, { ...common, image: f.image }), f.json);
    });
  });
}

/** --args: a JSON array of the export's arguments (absent: none). */
function parseJsonArgs(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`--args is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(v)) throw new ValidationError('--args must be a JSON array of the arguments, e.g. --args \'[1, "two"]\'');
  return v;
}
