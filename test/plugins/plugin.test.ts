/**
 * `agentkernel plugin`: agents' config files get exactly our entry (others' settings, comments included, are kept),
 * installs are idempotent, conflicts and broken files are never overwritten silently, and the entry written
 * really starts a working MCP server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { TARGETS, installPlugin, uninstallPlugin, isInstalled, target, cliPath } from '../../src/plugins/index.js';
import { cli, tempHome } from '../helpers/cli.js';

const toml = createRequire(import.meta.url)('smol-toml') as { parse(t: string): Record<string, any> };
const project = () => mkdtempSync(join(tmpdir(), 'ak-plugin-'));
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const want = { command: process.execPath, args: [cliPath(), 'mcp-server'] };

test('plugin install: our entry is added next to what is there, comments and other servers kept', () => {
  const dir = project();
  writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { other: { command: 'x' } }, extra: 1 }));
  mkdirSync(join(dir, '.codex'));
  const codex = '# keep this comment\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "y" # and this one\n';
  writeFileSync(join(dir, '.codex', 'config.toml'), codex);
  mkdirSync(join(dir, '.gemini'));
  writeFileSync(join(dir, '.gemini', 'settings.json'), JSON.stringify({ theme: 'dark' }));

  for (const t of TARGETS) {
    const results = installPlugin(t, { dir });
    assert.ok(results.every((r) => ['created', 'updated', 'unchanged'].includes(r.outcome)), `${t.name}: ${JSON.stringify(results)}`);
  }
  const mcp = json(join(dir, '.mcp.json'));
  assert.deepEqual(mcp.mcpServers.other, { command: 'x' });
  assert.equal(mcp.extra, 1);
  assert.deepEqual(mcp.mcpServers.agentkernel, want);
  const text = readFileSync(join(dir, '.codex', 'config.toml'), 'utf8');
  assert.ok(text.startsWith(codex), 'the user\'s TOML is kept byte for byte, ours appended');
  assert.deepEqual({ ...toml.parse(text).mcp_servers.agentkernel }, want);
  assert.equal(toml.parse(text).mcp_servers.other.command, 'y');
  assert.equal(json(join(dir, '.gemini', 'settings.json')).theme, 'dark');
  assert.deepEqual(json(join(dir, '.gemini', 'settings.json')).mcpServers.agentkernel, want);
  assert.deepEqual(json(join(dir, 'opencode.json')).mcp.agentkernel, { type: 'local', command: [want.command, ...want.args], enabled: true });
  assert.match(readFileSync(join(dir, '.claude', 'commands', 'sandbox.md'), 'utf8'), /run_code/);
  assert.ok(existsSync(want.args[0]!), 'the entry names this installation\'s CLI file');

  // a second install changes nothing
  const before = TARGETS.flatMap((t) => t.files.map((f) => readFileSync(join(dir, f.project), 'utf8')));
  for (const t of TARGETS) assert.ok(installPlugin(t, { dir }).every((r) => r.outcome === 'unchanged'));
  assert.deepEqual(TARGETS.flatMap((t) => t.files.map((f) => readFileSync(join(dir, f.project), 'utf8'))), before);
  for (const t of TARGETS) assert.equal(isInstalled(t, { dir }), true, t.name);

  // uninstall takes out only ours; a file that held only our entry goes
  for (const t of TARGETS) uninstallPlugin(t, { dir });
  assert.deepEqual(json(join(dir, '.mcp.json')), { mcpServers: { other: { command: 'x' } }, extra: 1 });
  assert.equal(readFileSync(join(dir, '.codex', 'config.toml'), 'utf8'), codex);
  assert.deepEqual(json(join(dir, '.gemini', 'settings.json')), { theme: 'dark' });
  assert.equal(existsSync(join(dir, 'opencode.json')), false);
  assert.equal(existsSync(join(dir, '.claude', 'commands', 'sandbox.md')), false);
});

test('plugin install: a different entry is kept unless --force, a broken file is never overwritten, --dry-run writes nothing', () => {
  const dir = project();
  writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { agentkernel: { command: 'old' } } }));
  const mcp = target('mcp')!;
  assert.equal(installPlugin(mcp, { dir })[0]!.outcome, 'kept');
  assert.equal(json(join(dir, '.mcp.json')).mcpServers.agentkernel.command, 'old');
  assert.equal(installPlugin(mcp, { dir, dryRun: true, force: true })[0]!.outcome, 'updated');
  assert.equal(json(join(dir, '.mcp.json')).mcpServers.agentkernel.command, 'old', 'dry run');
  assert.equal(installPlugin(mcp, { dir, force: true })[0]!.outcome, 'updated');
  assert.deepEqual(json(join(dir, '.mcp.json')).mcpServers.agentkernel, want);

  writeFileSync(join(dir, 'opencode.json'), '{ "mcp": { // a comment\n } }');
  assert.throws(() => installPlugin(target('opencode')!, { dir }), /not valid JSON.*will not overwrite/);
  assert.equal(readFileSync(join(dir, 'opencode.json'), 'utf8'), '{ "mcp": { // a comment\n } }');
  mkdirSync(join(dir, '.codex'));
  writeFileSync(join(dir, '.codex', 'config.toml'), 'mcp_servers = { agentkernel = { command = "z" } }\n');
  assert.throws(() => installPlugin(target('codex')!, { dir, force: true }), /form agentkernel does not edit/);
});

test('plugin install --global writes the agents\' user-wide files', () => {
  const home = project();
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') } as NodeJS.ProcessEnv;
  for (const name of ['claude', 'codex', 'gemini', 'opencode']) installPlugin(target(name)!, { global: true, env });
  assert.deepEqual(json(join(home, '.claude.json')).mcpServers.agentkernel, want);
  assert.deepEqual({ ...toml.parse(readFileSync(join(home, '.codex', 'config.toml'), 'utf8')).mcp_servers.agentkernel }, want);
  assert.ok(json(join(home, '.gemini', 'settings.json')).mcpServers.agentkernel);
  assert.ok(json(join(home, 'xdg', 'opencode', 'opencode.json')).mcp.agentkernel);
});

test('the installed entry starts a working MCP server, and the CLI reports unknown agents', async (t) => {
  const dir = project();
  const r = await cli(['plugin', 'install', 'mcp', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\+ .*\.mcp\.json \(created\)/);
  const entry = json(join(dir, '.mcp.json')).mcpServers.agentkernel as { command: string; args: string[] };
  const client = new Client({ name: 'plugin-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...process.env, AGENTKERNEL_HOME: tempHome() } as Record<string, string> }));
  t.after(() => client.close());
  const { tools } = await client.listTools();
  assert.ok(tools.some((x) => x.name === 'run_code'), tools.map((x) => x.name).join(', '));

  const bad = await cli(['plugin', 'install', 'vim']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: unknown agent 'vim'/);
  const list = await cli(['plugin', 'list', '--dir', dir, '--json']);
  assert.equal(JSON.parse(list.stdout).agents.find((a: { agent: string }) => a.agent === 'mcp').installed, true);
});
