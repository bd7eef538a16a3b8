/**
 * A budget of bytes in flight, shared by every copy of the daemon: memory stays bounded by it,
 * whatever the number and size of the disks. A request larger than the whole budget waits for
 * all of it.
 */
export class ByteBudget {
  private available: number;
  private readonly waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`a byte budget must be positive, got ${capacity}`);
    this.available = capacity;
  }

  /** Bytes currently taken. */
  get inUse(): number {
    return this.capacity - this.available;
  }

  async acquire(bytes: number, abortSignal?: AbortSignal): Promise<() => void> {
    const want = Math.min(bytes, this.capacity);
    if (this.waiters.length === 0 && this.available >= want) {
      this.available -= want;
      return this.releaser(want);
    }
    abortSignal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const waiter = { bytes: want, resolve };
      this.waiters.push(waiter);
      abortSignal?.addEventListener(
        "abort",
        () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            reject(abortSignal.reason);
            this.drain();
          }
        },
        { once: true },
      );
    });
    return this.releaser(want);
  }

  private releaser(bytes: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.available += bytes;
      this.drain();
    };
  }

  /** Wakes waiters in order (first come, first served: a large read is not starved by small ones). */
  private drain(): void {
    while (this.waiters.length > 0 && this.available >= this.waiters[0]!.bytes) {
      const w = this.waiters.shift()!;
      this.available -= w.bytes;
      w.resolve();
    }
  }
}
