/**
 * agentkernel as a library. The functions below mirror the CLI (`runWasm`, `invoke`, `runCode`, `run`) on a
 * process-wide AgentKernel created on first use; create your own `AgentKernel` for other settings. Every call
 * accepts an AbortSignal (`signal`).
 *
 *   import { runCode } from 'agentkernel';
 *   const r = await runCode('python', 'print(1+1)');   // r.stdout === '2\n', r.exitCode === 0
 */
import { AgentKernel, type BackendChoice, type RunOptions } from './service/kernel.js';
import type { ExecResult, InvokeOptions, Language, RunCodeOptions, RunWasmOptions } from './core/types.js';

export * from './core/types.js';
export * from './core/errors.js';
export { AgentKernel, type BackendChoice, type RunOptions } from './service/kernel.js';
export { PROFILES, getProfile, type SecurityProfile, type ProfileName } from './core/profiles.js';
export { loadConfig, parseConfig, resolveSettings, type Settings, type SettingsOverrides } from './core/config.js';
export { SELECTION_ORDER, type BackendStatus } from './backends/detect.js';

let shared: AgentKernel | undefined;

/** The process-wide kernel used by the functions below (settings from ./agentkernel.toml and the environment). */
export function defaultKernel(): AgentKernel {
  shared ??= new AgentKernel();
  return shared;
}

/** Release the pools of the process-wide kernel (workers, VMs) so the process can exit promptly. */
export async function shutdown(): Promise<void> {
  const k = shared;
  shared = undefined;
  await k?.close();
}

export function runWasm(opts: RunWasmOptions & BackendChoice): Promise<ExecResult> {
  return defaultKernel().runWasm(opts);
}

export function invoke(opts: InvokeOptions & BackendChoice): Promise<ExecResult> {
  return defaultKernel().invoke(opts);
}

export function runCode(language: Language, code: string, opts?: RunCodeOptions & BackendChoice): Promise<ExecResult> {
  return defaultKernel().runCode(language, code, opts);
}

export function run(argv: string[], opts?: RunOptions): Promise<ExecResult> {
  return defaultKernel().run(argv, opts);
}
