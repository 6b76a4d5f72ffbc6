/**
 * The language runtimes of a process: one instance per language, created on first use. Each runtime's module
 * is imported only then, so a worker that never runs Python never loads Pyodide.
 */
import type { Language } from '../core/types.js';
import { ValidationError } from '../core/errors.js';
import type { CodeRequest, CodeRuntime, OutputSink, RuntimeOutcome } from './types.js';

export const LANGUAGES: Language[] = ['javascript', 'python', 'shell'];

const ALIASES: Record<string, Language> = {
  javascript: 'javascript',
  js: 'javascript',
  node: 'javascript',
  nodejs: 'javascript',
  python: 'python',
  py: 'python',
  python3: 'python',
  shell: 'shell',
  sh: 'shell',
  bash: 'shell',
};

export function parseLanguage(s: string): Language {
  const lang = ALIASES[String(s).trim().toLowerCase()];
  if (!lang) {
    throw new ValidationError(
      `unknown language '${s}': valid names are javascript (js, node), python (py, python3) and shell (sh, bash)`,
      { language: s, valid: LANGUAGES },
    );
  }
  return lang;
}

async function create(language: Language): Promise<CodeRuntime> {
  switch (language) {
    case 'javascript':
      return new (await import('./javascript/quickjs.js')).QuickJsRuntime();
    case 'python':
      return new (await import('./python/pyodide.js')).PyodideRuntime();
    case 'shell':
      return new (await import('./shell/bash.js')).BashRuntime();
  }
}

/** Stands in for a runtime until its module is needed. */
class LazyRuntime implements CodeRuntime {
  private inner?: Promise<CodeRuntime>;

  constructor(readonly language: Language) {}

  private get(): Promise<CodeRuntime> {
    this.inner ??= create(this.language).catch((e) => {
      this.inner = undefined;
      throw e;
    });
    return this.inner;
  }

  async prepare(): Promise<void> {
    await (await this.get()).prepare();
  }

  async run(req: CodeRequest, out: OutputSink): Promise<RuntimeOutcome> {
    return (await this.get()).run(req, out);
  }
}

const runtimes = new Map<Language, CodeRuntime>();

export function getRuntime(language: Language): CodeRuntime {
  if (!LANGUAGES.includes(language)) parseLanguage(language);
  let r = runtimes.get(language);
  if (!r) {
    r = new LazyRuntime(language);
    runtimes.set(language, r);
  }
  return r;
}

/**
 * Replaces the process's runtime for a language, e.g. with `new PyodideRuntime({ snapshot })` so the first
 * Python run loads from a snapshot. Later getRuntime() calls return it.
 */
export function setRuntime(runtime: CodeRuntime): void {
  runtimes.set(runtime.language, runtime);
}
