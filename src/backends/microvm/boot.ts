/**
 * Booting a VM up to a guest agent that answers: launch through the driver, connect to the agent's socket (it
 * appears a moment after the VMM starts), PING until the agent answers. A VM that dies or stays silent is ended
 * and reported with the tail of its console log, which is where a guest kernel says why.
 */
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AbortError, TimeoutError, UnavailableError } from '../../core/errors.js';
import { AgentClient } from './agent-client.js';
import { isVmmAlive, killVmm } from './process.js';
import type { VmHandle, VmmDriver, VmSpec } from './vmm.js';

/** Under software emulation a Debian kernel needs several seconds, and on a loaded 2-core machine over a minute. */
export const BOOT_TIMEOUT_MS = 180_000;

export function consoleTail(dir: string, bytes = 1500): string {
  for (const f of ['console.log', 'vmm.log']) {
    const p = join(dir, f);
    if (!existsSync(p)) continue;
    const text = readFileSync(p, 'utf8').trim();
    if (text) return `${f}: …${text.slice(-bytes)}`;
  }
  return 'no console output';
}

/** Connect to a Unix socket, retrying while it does not exist yet and the VMM is alive. */
export async function connectUnix(path: string, vm: Pick<VmHandle, 'pid' | 'dir'>, timeoutMs: number): Promise<Duplex> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Duplex>((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => {
          s.removeListener('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!isVmmAlive(vm.pid, vm.dir)) throw new UnavailableError(`the VM exited before its agent was reachable (${consoleTail(vm.dir)})`);
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A connected, answering agent of an already launched VM. */
export async function attachAgent(driver: VmmDriver, vm: VmHandle, timeoutMs: number): Promise<AgentClient> {
  const stream = await driver.connectAgent(vm);
  const client = new AgentClient(stream, `${driver.name} VM ${vm.pid}`);
  const dead = setInterval(() => {
    if (!isVmmAlive(vm.pid, vm.dir)) client.close();
  }, 250);
  try {
    await client.ping(timeoutMs);
    return client;
  } catch (e) {
    client.close();
    if (!isVmmAlive(vm.pid, vm.dir)) throw new UnavailableError(`the ${driver.name} VM exited while booting (${consoleTail(vm.dir)})`);
    if (e instanceof TimeoutError) throw new TimeoutError(`${e.message} (${consoleTail(vm.dir)})`);
    throw e;
  } finally {
    clearInterval(dead);
  }
}

/** Launch and wait for the agent; `signal` ends a boot still in progress (a pool closing). */
export async function bootVm(
  driver: VmmDriver, spec: VmSpec, timeoutMs = BOOT_TIMEOUT_MS, signal?: AbortSignal,
): Promise<{ vm: VmHandle; agent: AgentClient }> {
  if (signal?.aborted) throw new AbortError('the VM boot was cancelled');
  const vm = await driver.launch(spec);
  const cancel = () => killVmm(vm.pid, vm.dir);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    return { vm, agent: await attachAgent(driver, vm, timeoutMs) };
  } catch (e) {
    await driver.terminate(vm).catch(() => {});
    throw signal?.aborted ? new AbortError('the VM boot was cancelled') : e;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}
