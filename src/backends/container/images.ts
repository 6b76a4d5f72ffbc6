/**
 * Which image a command needs, and whether the engine has it. Detection follows the original agentkernel: the
 * command's program decides (python → python image, cargo → rust image...), then the project's files, then a
 * Debian default; an explicit image always wins. Images are never pulled: a missing one is a NotFoundError that
 * names it and says how to provide it, found by inspecting before anything runs.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { NotFoundError } from '../../core/errors.js';
import type { ContainerEngine } from './engine.js';
import { validateImageRef } from './validate.js';

export const DEFAULT_IMAGE = 'debian:bookworm-slim';

/** Program name → image. Versioned interpreter names (python3.12) are matched by their stem below. */
const BY_PROGRAM: ReadonlyArray<[RegExp, string]> = [
  [/^(python[0-9.]*|pip[0-9.]*|pytest|poetry|uv|pipenv)$/, 'python:3.12-slim'],
  [/^(node|npm|npx|yarn|pnpm|corepack)$/, 'node:22-slim'],
  [/^(cargo|rustc|rustup)$/, 'rust:1-slim'],
  [/^(go|gofmt)$/, 'golang:1-bookworm'],
  [/^(ruby|bundle|bundler|gem|rake|irb)$/, 'ruby:3-slim'],
  [/^(mvn)$/, 'maven:3-eclipse-temurin-21'],
  [/^(java|javac|jar|gradle)$/, 'eclipse-temurin:21'],
  [/^(php|composer)$/, 'php:8-cli'],
];

/** Project file → image, in priority order (a repository with several picks the first listed). */
const BY_PROJECT_FILE: ReadonlyArray<[string, string]> = [
  ['package.json', 'node:22-slim'],
  ['requirements.txt', 'python:3.12-slim'],
  ['pyproject.toml', 'python:3.12-slim'],
  ['setup.py', 'python:3.12-slim'],
  ['Pipfile', 'python:3.12-slim'],
  ['Cargo.toml', 'rust:1-slim'],
  ['go.mod', 'golang:1-bookworm'],
  ['Gemfile', 'ruby:3-slim'],
  ['pom.xml', 'maven:3-eclipse-temurin-21'],
  ['build.gradle', 'eclipse-temurin:21'],
  ['composer.json', 'php:8-cli'],
];

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh']);

export interface ImageChoice {
  image: string;
  /** Why this image: shown by verbose output and kept in records. */
  reason: string;
}

function imageForProgram(program: string): string | undefined {
  const name = basename(program);
  return BY_PROGRAM.find(([re]) => re.test(name))?.[1];
}

/** The program a command really runs: `sh -c 'python x.py'` runs python. */
function programsOf(argv: readonly string[]): string[] {
  const out = [argv[0]];
  if (argv.length >= 3 && SHELLS.has(basename(argv[0])) && argv[1] === '-c') {
    const first = argv[2].trim().split(/\s+/)[0];
    if (first) out.push(first);
  }
  return out;
}

export function detectImage(argv: readonly string[], opts: { image?: string; cwd?: string } = {}): ImageChoice {
  if (opts.image) return { image: validateImageRef(opts.image), reason: 'given' };
  for (const program of argv.length ? programsOf(argv) : []) {
    const image = imageForProgram(program);
    if (image) return { image, reason: `command '${basename(program)}'` };
  }
  const cwd = opts.cwd ?? process.cwd();
  for (const [file, image] of BY_PROJECT_FILE) {
    if (existsSync(join(cwd, file))) return { image, reason: `project file ${file}` };
  }
  return { image: DEFAULT_IMAGE, reason: 'default' };
}

/** Words the engines use for an image they do not have. */
const MISSING_IMAGE_RE = /no such image|image not known|not found|does not exist/i;

/**
 * Throws NotFoundError unless the engine has `image` locally. Positive answers are cached by the caller's
 * `known` set: an image does not vanish between two runs of one process often enough to pay an inspect each time.
 */
export async function ensureImage(engine: ContainerEngine, image: string, known?: Set<string>): Promise<void> {
  if (known?.has(image)) return;
  const r = await engine.call(engine.dialect.imageInspectArgs(image), { timeoutMs: 30_000 });
  if (r.exitCode === 0) {
    known?.add(image);
    return;
  }
  if (MISSING_IMAGE_RE.test(r.stderr)) {
    const e = engine.name;
    throw new NotFoundError(
      `image '${image}' is not in ${e}'s local image store, and agentkernel never pulls images. Provide it with ` +
        `${engine.dialect.provideImageHint(engine, image)}; or choose another image with --image`,
      { image, engine: e },
    );
  }
  throw engine.failure('image inspect', r);
}
