import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { addDirOption, addRunOptions, readStdin, type RunFlags } from '../options.js';
import { finishRun, streamHooks } from '../output.js';
import { runDaemonAction } from '../action.js';
import { parseLanguage } from '../../runtimes/index.js';

export function register(program: Command): void {
  const cmd = program
    .command('run-code')
    .summary('run a snippet of JavaScript, Python or shell from clean interpreter state')
    .description(
      'Run CODE in LANGUAGE (javascript|js, python|py, shell|sh|bash) from clean interpreter state.\n' +
        'Use `-` to read the code from stdin. An uncaught exception prints its traceback and exits 1.',
    )
    .argument('<language>', 'javascript, python or shell')
    .argument('[code]', 'the code, or - to read it from stdin');
  addDirOption(addRunOptions(cmd));
  cmd.action(async (language: string, code: string | undefined, f: RunFlags) => {
    await runDaemonAction(f, async (k, signal) => {
      const lang = parseLanguage(language);
      let source = code;
      let stdin: Uint8Array | undefined;
      if (source === undefined || source === '-') {
        source = (await readStdin()).toString('utf8');
      } else if (f.interactive) {
        stdin = await readStdin();
      }
      if (!source.trim()) throw new ValidationError('no code given');
      const r = await k.runCode(lang, source, { backend: f.backend, env: f.env, stdin, mounts: f.dir, ...streamHooks(f.json, signal) });
      return finishRun(r, f.json);
    });
  });
}
