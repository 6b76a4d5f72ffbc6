/**
 * `agentkernel mcp-server`: the MCP server over stdio, for agents that launch their tools as child processes.
 * stdout carries only protocol messages; notes go to stderr.
 */
import type { Command } from 'commander';
import { AgentKernel } from '../../service/kernel.js';
import { overridesFrom, type RunFlags } from '../options.js';
import { reportError } from '../output.js';
import { addServerKernelOptions, releaseKernel } from './serve.js';

export function register(program: Command): void {
  const cmd = program
    .command('mcp-server')
    .summary('serve MCP over stdio (tools: sandbox_run, sandbox_exec, run_code, run_wasm, sandbox files...)')
    .description('Serve the Model Context Protocol on stdin/stdout until stdin closes.');
  addServerKernelOptions(cmd)
    .action(async (f: RunFlags) => {
      let kernel: AgentKernel | undefined;
      let code = 0;
      try {
        kernel = new AgentKernel({ configPath: f.config, overrides: overridesFrom(f), origin: 'mcp' });
        const { serveStdio } = await import('../../api/mcp/stdio.js');
        await serveStdio({ kernel, limits: kernel.settings.limits });
      } catch (e) {
        code = reportError(e);
      }
      if (kernel) await releaseKernel(kernel);
      process.exit(code);
    });
}
