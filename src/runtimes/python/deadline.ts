/**
 * Stops a Python run at its deadline without killing the process. Python runs synchronously on this thread, so
 * the only thing that can reach it mid-loop is another thread: a small worker thread sleeps until the deadline
 * and then writes SIGINT into Pyodide's interrupt buffer, which the interpreter polls between bytecodes and turns
 * into KeyboardInterrupt. It repeats every REPEAT_MS until the run ends, so a guest that swallows the first
 * KeyboardInterrupt still gets stopped. (The host's own timeout stays the final guard.)
 */
import { Worker } from 'node:worker_threads';

const SIGINT = 2;
const REPEAT_MS = 50;

// ctl[0]: generation (bumped on every arm/disarm, wakes the watcher); ctl[1]: 1 once the deadline fired.
// when[0]: the deadline in ms since the epoch, 0 when disarmed.
const WATCHER_SOURCE = `
const { workerData } = require('node:worker_threads');
const ctl = new Int32Array(workerData.ctl);
const when = new BigInt64Array(workerData.when);
const irq = new Int32Array(workerData.irq);
for (;;) {
  const gen = Atomics.load(ctl, 0);
  const deadline = Number(Atomics.load(when, 0));
  if (deadline === 0) { Atomics.wait(ctl, 0, gen); continue; }
  const left = deadline - Date.now();
  if (left > 0) { Atomics.wait(ctl, 0, gen, left); continue; }
  if (Atomics.load(ctl, 0) !== gen) continue; // re-armed or disarmed meanwhile
  Atomics.store(ctl, 1, 1);
  Atomics.store(irq, 0, ${SIGINT});
  Atomics.wait(ctl, 0, gen, ${REPEAT_MS});
}
`;

export class DeadlineWatch {
  /** Give this to pyodide.setInterruptBuffer(). */
  readonly interruptBuffer = new Int32Array(new SharedArrayBuffer(4));
  private readonly ctl = new Int32Array(new SharedArrayBuffer(8));
  private readonly when = new BigInt64Array(new SharedArrayBuffer(8));
  private worker?: Worker;

  /** Start watching `deadline` (Date.now() based). The thread starts on first use (~20 ms, once). */
  arm(deadline: number): void {
    if (!this.worker) {
      this.worker = new Worker(WATCHER_SOURCE, {
        eval: true,
        workerData: { ctl: this.ctl.buffer, when: this.when.buffer, irq: this.interruptBuffer.buffer },
        // a watcher is tiny: keep its heap small
        resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
      });
      // never keeps the process alive, and a failure of the watcher only loses the soft deadline
      this.worker.unref();
      this.worker.on('error', () => { this.worker = undefined; });
    }
    Atomics.store(this.ctl, 1, 0);
    Atomics.store(this.interruptBuffer, 0, 0);
    Atomics.store(this.when, 0, BigInt(Math.max(1, Math.floor(deadline))));
    this.bump();
  }

  /** Stop watching; returns whether the deadline fired during the run. Clears any pending interrupt. */
  disarm(): boolean {
    Atomics.store(this.when, 0, 0n);
    this.bump();
    const fired = Atomics.load(this.ctl, 1) === 1;
    Atomics.store(this.ctl, 1, 0);
    Atomics.store(this.interruptBuffer, 0, 0);
    return fired;
  }

  private bump(): void {
    Atomics.add(this.ctl, 0, 1);
    Atomics.notify(this.ctl, 0);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
