/**
 * The agents `agentkernel plugin install` configures, and where each keeps its MCP server list. The server entry
 * always names this installation's own node and CLI file by absolute path: no PATH lookup and no package runner,
 * so an agent can never start a different program that happens to share the name.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type TargetName = 'claude' | 'codex' | 'gemini' | 'opencode' | 'mcp';

/** How a file is changed: only our entry is added, replaced (with --force) or removed; the rest is kept. */
export type FileFormat =
  /** `{"mcpServers": {"agentkernel": {command, args}}}` (Claude Code, Gemini CLI, generic .mcp.json) */
  | 'json-mcpServers'
  /** `{"mcp": {"agentkernel": {type: "local", command: [...], enabled}}}` (OpenCode) */
  | 'json-opencode'
  /** `[mcp_servers.agentkernel]` with command and args (Codex) */
  | 'toml-codex'
  /** a whole file that is ours (a slash command) */
  | 'text';

export interface PluginFile {
  /** Relative to the project directory. */
  project: string;
  /** Absolute, for --global; undefined when the agent has no user-wide place for it. */
  global?: (env: NodeJS.ProcessEnv) => string;
  format: FileFormat;
  /** For `text` files. */
  content?: string;
}

export interface Target {
  name: TargetName;
  description: string;
  files: PluginFile[];
  nextSteps: string;
}

export const SERVER_NAME = 'agentkernel';

/** The CLI file of this installation. */
export function cliPath(): string {
  return fileURLToPath(new URL('../../../bin/agentkernel.js', import.meta.url));
}

/** The command that starts our MCP server over stdio. */
export function serverCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: [cliPath(), 'mcp-server'] };
}

const home = (env: NodeJS.ProcessEnv) => env.HOME || homedir();

const SANDBOX_COMMAND = `---
description: Run code or commands in an agentkernel sandbox
---
Use the agentkernel MCP tools for anything that runs code you did not write or that could harm this machine:

- \`run_code\` for JavaScript or Python snippets (a fresh interpreter each time, no host files, no network);
- \`sandbox_run\` for a shell command in a throw-away sandbox;
- \`sandbox_create\`, then \`sandbox_exec\`, \`sandbox_file_read\` and \`sandbox_file_write\` for work that needs state,
  and \`sandbox_remove\` when done;
- \`run_wasm\` for a WebAssembly module.

Report the exit code and stderr of failed runs. $ARGUMENTS
`;

export const TARGETS: readonly Target[] = [
  {
    name: 'claude',
    description: 'Claude Code: MCP server (.mcp.json) and a /sandbox command',
    files: [
      { project: '.mcp.json', global: (e) => join(home(e), '.claude.json'), format: 'json-mcpServers' },
      { project: join('.claude', 'commands', 'sandbox.md'), global: (e) => join(home(e), '.claude', 'commands', 'sandbox.md'), format: 'text', content: SANDBOX_COMMAND },
    ],
    nextSteps: 'Restart Claude Code; approve the agentkernel server when asked; /sandbox is available.',
  },
  {
    name: 'codex',
    description: 'Codex CLI: [mcp_servers.agentkernel] in config.toml',
    files: [{ project: join('.codex', 'config.toml'), global: (e) => join(e.CODEX_HOME || join(home(e), '.codex'), 'config.toml'), format: 'toml-codex' }],
    nextSteps: 'Codex reads a project\'s .codex/config.toml only in a trusted project (or use --global); /mcp lists the server.',
  },
  {
    name: 'gemini',
    description: 'Gemini CLI: mcpServers in .gemini/settings.json',
    files: [{ project: join('.gemini', 'settings.json'), global: (e) => join(home(e), '.gemini', 'settings.json'), format: 'json-mcpServers' }],
    nextSteps: 'Restart Gemini CLI; /mcp lists the server.',
  },
  {
    name: 'opencode',
    description: 'OpenCode: a local MCP server in opencode.json',
    files: [{
      project: 'opencode.json',
      global: (e) => join(e.XDG_CONFIG_HOME || join(home(e), '.config'), 'opencode', 'opencode.json'),
      format: 'json-opencode',
    }],
    nextSteps: 'Restart OpenCode; the agentkernel tools appear with the built-in ones.',
  },
  {
    name: 'mcp',
    description: 'any MCP client: mcpServers in .mcp.json',
    files: [{ project: '.mcp.json', global: (e) => join(home(e), '.mcp.json'), format: 'json-mcpServers' }],
    nextSteps: 'Point your MCP client at this .mcp.json, or copy its agentkernel entry into the client\'s own config.',
  },
];

export function target(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name.toLowerCase());
}
