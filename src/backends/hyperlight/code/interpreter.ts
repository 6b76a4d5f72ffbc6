/**
 * What every interpreter in the micro-VM (QuickJS, CPython) keeps: its guest, loaded once (compiled on first use,
 * cached on disk), and one booted, initialised snapshot with its pool of VMs per memory cap. The interpreters add
 * how to load their guest, how to boot an image, and how a run goes.
 */
export interface BootedImage {
  close(): Promise<void>;
}

export abstract class GuestInterpreter<G, I extends BootedImage> {
  readonly #images = new Map<number, Promise<I>>();
  #guest: Promise<G> | undefined;

  /** Loads (compiling or building it first when needed) the interpreter's guest. */
  protected abstract loadGuest(onProgress?: (message: string) => void): Promise<G>;
  /** Boots the guest with this memory cap, initialises the interpreter and snapshots it. */
  protected abstract boot(guest: G, memoryMb: number): Promise<I>;

  /** Loads the guest; `onProgress` hears about a first, long compile or build. */
  prepare(onProgress?: (message: string) => void): Promise<void> {
    return this.guest(onProgress).then(() => undefined);
  }

  /** The guest, loaded once (a failed load is tried again on the next call). */
  guest(onProgress?: (message: string) => void): Promise<G> {
    this.#guest ??= this.loadGuest(onProgress).catch((e) => {
      this.#guest = undefined;
      throw e;
    });
    return this.#guest;
  }

  /** The snapshot for a memory cap (booted and initialised on first use). */
  image(memoryMb: number): Promise<I> {
    let p = this.#images.get(memoryMb);
    if (!p) {
      p = this.guest().then((g) => this.boot(g, memoryMb));
      p.catch(() => this.#images.delete(memoryMb));
      this.#images.set(memoryMb, p);
    }
    return p;
  }

  async close(): Promise<void> {
    const images = [...this.#images.values()];
    this.#images.clear();
    await Promise.allSettled(images.map(async (p) => (await p).close()));
  }
}
