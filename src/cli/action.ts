/**
 * The frame every command runs in: build the kernel from flags, wire Ctrl-C to an AbortSignal, map errors to exit
 * codes, release pools, and exit with the right code.
 */
import type { AgentKernel } from '../service/kernel.js';
import { kernelFrom, type RunFlags } from './options.js';
import { reportError } from './output.js';
import { daemonKernel } from './daemon-kernel.js';

export interface ActionOptions {
  /** The command's work may go to a running daemon (see daemon-kernel.ts). */
  viaDaemon?: boolean;
}

export async function runAction(
  flags: RunFlags, fn: (k: AgentKernel, signal: AbortSignal) => Promise<number>, opts: ActionOptions = {},
): Promise<never> {
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  let code: number;
  let kernel: AgentKernel | undefined;
  try {
    kernel = (opts.viaDaemon ? daemonKernel(flags, () => kernelFrom(flags)) : undefined) ?? kernelFrom(flags);
    code = await fn(kernel, ac.signal);
  } catch (e) {
    code = reportError(e, flags.json);
  }
  process.off('SIGINT', onSigint);
  try {
    await kernel?.close();
  } catch {
    // closing pools must not change the result the user already saw
  }
  process.exit(code);
}

/** runAction for commands whose work may go to a running daemon. */
export function runDaemonAction(flags: RunFlags, fn: (k: AgentKernel, signal: AbortSignal) => Promise<number>): Promise<never> {
  return runAction(flags, fn, { viaDaemon: true });
}

/** Run work that needs no kernel (daemon control, agent configuration) and exit with its code. */
export async function runPlain(fn: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await fn();
  } catch (e) {
    code = reportError(e);
  }
  process.exit(code);
}
