/**
 * What every backend's code session keeps the same way: the live interpreter it holds (a worker, a VM), calls taken
 * one at a time in order, and the loss of the interpreter — once lost, every call says what happened and when
 * (never a silent reset) until an image brings a new one.
 */
import { ConflictError } from '../core/errors.js';

export class SessionHolder<T> {
  #current: T | undefined;
  #lost: string | undefined;
  #closed = false;
  #chain: Promise<unknown> = Promise.resolve();

  /** `drop` ends an interpreter that was lost. */
  constructor(private readonly drop: (t: T) => void) {}

  /** Runs `fn` after every earlier call of this session; refused once the session is closed. */
  serial<R>(fn: () => Promise<R>): Promise<R> {
    const r = this.#chain.then(() => {
      if (this.#closed) throw new ConflictError('the session is closed');
      return fn();
    });
    this.#chain = r.catch(() => undefined);
    return r;
  }

  /** A new interpreter (at start, or brought by a restore). */
  hold(t: T): void {
    this.#current = t;
    this.#lost = undefined;
  }

  /** The interpreter, if it is there and not lost. */
  get current(): T | undefined {
    return this.#lost ? undefined : this.#current;
  }

  /** The interpreter; a ConflictError naming what happened when it was lost. */
  live(): T {
    if (this.#lost || this.#current === undefined) {
      throw new ConflictError(
        `the session's interpreter was lost: ${this.#lost ?? 'it is not running'}. Its state since the last snapshot is gone; ` +
          'restore a snapshot into it or close it',
        { lost: this.#lost ?? 'not running' },
      );
    }
    return this.#current;
  }

  get isLost(): boolean {
    return this.#lost !== undefined;
  }

  /** The interpreter's state is gone: it is dropped, and later calls are refused with `why`. */
  markLost(why: string): void {
    this.#lost ??= `${why} at ${new Date().toISOString()}`;
    if (this.#current !== undefined) this.drop(this.#current);
    this.#current = undefined;
  }

  /**
   * Closes the session; returns the interpreter (if any) for the caller to end. `wait`: after the calls in flight
   * (an interpreter that goes back to a pool must be idle); otherwise at once (ending it ends the call in flight).
   */
  async close(o: { wait: boolean }): Promise<T | undefined> {
    if (this.#closed) return undefined;
    this.#closed = true;
    if (o.wait) await this.#chain.catch(() => undefined);
    const t = this.#current;
    this.#current = undefined;
    return t;
  }
}
