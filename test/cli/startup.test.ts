/**
 * How the CLI starts: the command table that lets a call load only its own command's module, the bin's choice
 * between the bundle (dist/cli, scripts/bundle-cli.mjs) and the compiled tree (dist/src), and the bundle itself
 * run as a real process. The rest of test/cli runs through the bin, so through the bundle wherever it is fresh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { COMMAND_MODULES, loadRegisters, modulesFor } from '../../src/cli/commands/index.js';
import { REPO, tempHome, type CliResult } from '../helpers/cli.js';

/** node with these arguments; AGENTKERNEL_CLI_BUNDLE only when given here, whatever the tests run with. */
function node(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { AGENTKERNEL_CLI_BUNDLE: _, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the command table names exactly the commands and aliases each module registers', async () => {
  const seen = new Set<string>();
  const registers = await loadRegisters();
  COMMAND_MODULES.forEach((m, i) => {
    const program = new Command('agentkernel');
    registers[i]!(program);
    const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    assert.deepEqual([...names].sort(), [...m.names].sort(), `module of '${m.names[0]}'`);
    for (const n of names) {
      assert.ok(!seen.has(n), `'${n}' is registered twice`);
      seen.add(n);
    }
  });
});

test('a call loads the module of the command it names, none for --version, all otherwise', () => {
  const argv = (...a: string[]) => ['node', 'agentkernel', ...a];
  const run = COMMAND_MODULES.find((m) => m.names.includes('run'));
  assert.deepEqual(modulesFor(argv('run', '--wasm', 'x.wasm')), [run]);
  assert.deepEqual(modulesFor(argv('rm', 'box')).map((m) => m.names[0]), ['start']);
  assert.deepEqual(modulesFor(argv('--version')), []);
  assert.equal(modulesFor(argv('--version', 'run')).length, COMMAND_MODULES.length);
  for (const a of [[], ['--help'], ['help', 'run'], ['no-such-command']]) assert.equal(modulesFor(argv(...a)).length, COMMAND_MODULES.length);
});

test('the bin runs the bundle while it is at least as new as the compiled tree, else the compiled tree', async () => {
  // a copy of the bin over stand-in entry modules that say which one ran
  const root = mkdtempSync(join(tmpdir(), 'ak-bin-'));
  try {
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'dist', 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist', 'cli'));
    copyFileSync(join(REPO, 'bin', 'agentkernel.js'), join(root, 'bin', 'agentkernel.js'));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
    const bundled = join(root, 'dist', 'cli', 'main.js');
    writeFileSync(compiled, 'export async function main() { process.stdout.write("compiled"); }\n');
    const bin = join(root, 'bin', 'agentkernel.js');
    assert.equal((await node([bin])).stdout, 'compiled', 'no bundle');
    writeFileSync(bundled, 'export async function main() { process.stdout.write("bundled"); }\n');
    const t = statSync(compiled).mtime.getTime() / 1000;
    utimesSync(bundled, t + 10, t + 10);
    assert.equal((await node([bin])).stdout, 'bundled', 'bundle newer than the compile');
    assert.equal((await node([bin], { AGENTKERNEL_CLI_BUNDLE: '0' })).stdout, 'compiled', 'AGENTKERNEL_CLI_BUNDLE=0');
    utimesSync(bundled, t - 10, t - 10);
    assert.equal((await node([bin])).stdout, 'compiled', 'compiled again since the bundle was made');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the bundle runs the CLI: package version, and a Wasm run in a worker forked by file path', async (t) => {
  const bundled = join(REPO, 'dist', 'cli', 'main.js');
  const compiled = join(REPO, 'dist', 'src', 'cli', 'main.js');
  let fresh: boolean;
  try {
    fresh = statSync(bundled).mtimeMs >= statSync(compiled).mtimeMs;
  } catch {
    return t.skip('no bundle: run `node scripts/bundle-cli.mjs` after tsc');
  }
  if (!fresh) return t.skip('dist/cli is older than dist/src: run `node scripts/bundle-cli.mjs` after tsc');
  const runBundle = (args: string[], env: Record<string, string>) => node(['--input-type=module', '-e',
    `const { main } = await import(${JSON.stringify(pathToFileURL(bundled).href)}); await main(['node', 'agentkernel', ...process.argv.slice(1)]);`,
    '--', ...args], env);
  const home = tempHome();
  const work = mkdtempSync(join(tmpdir(), 'ak-bundle-'));
  try {
    const version = await runBundle(['--version'], { AGENTKERNEL_HOME: home });
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
    const wat = join(work, 'hello.wat');
    writeFileSync(wat, `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from the bundle\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 22))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`);
    const r = await runBundle(['run', '-B', 'wasm', '--wasm', wat], { AGENTKERNEL_HOME: home, AGENTKERNEL_NO_DAEMON: '1' });
    if (r.code === 3) return t.skip(`the wasm backend is unavailable here: ${r.stderr.trim()}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from the bundle\n');
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});
