/** A buffer taken from a {@link ByteBudget}; `release` gives it back for reuse. */
export interface BudgetBuffer {
  /** Exactly the bytes asked for (a view of a pooled buffer). */
  buffer: Buffer;
  release(): void;
}

const MIN_CLASS = 64 * 1024;

/**
 * The memory of the copies in flight, shared by every copy of the daemon: read buffers come from
 * here, and all buffers it holds — in use or idle for reuse — never exceed `capacity` bytes,
 * whatever the number and size of the disks. Buffers are reused because a fresh multi-MiB buffer
 * per read costs page faults that cap throughput; idle ones are dropped when a different size is
 * needed and the budget is full. Waiters are served in order, so a large read is not starved.
 */
export class ByteBudget {
  private allocated = 0;
  private idleBytes = 0;
  /** Room promised to waiters that were woken but have not taken their buffer yet. */
  private reserved = 0;
  private readonly idle = new Map<number, Buffer[]>();
  private readonly waiters: { size: number; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity >= MIN_CLASS))
      throw new RangeError(`a byte budget must be at least ${MIN_CLASS} bytes, got ${capacity}`);
  }

  /** Bytes of buffers in use now. */
  get inUse(): number {
    return this.allocated - this.idleBytes;
  }

  /** Bytes of buffers allocated (in use and idle): what the budget costs in memory. */
  get held(): number {
    return this.allocated;
  }

  /** A buffer of `bytes`, once the budget has room for it. */
  async take(bytes: number, abortSignal?: AbortSignal): Promise<BudgetBuffer> {
    const size = this.sizeClass(bytes);
    if (this.waiters.length > 0 || !this.room(size)) {
      abortSignal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i < 0) return;
          this.waiters.splice(i, 1);
          reject(abortSignal!.reason);
          this.drain();
        };
        // Served, the waiter stops listening: a long copy waits many times on one signal.
        const waiter = {
          size,
          resolve: () => {
            abortSignal?.removeEventListener("abort", onAbort);
            resolve();
          },
          reject,
        };
        this.waiters.push(waiter);
        abortSignal?.addEventListener("abort", onAbort, { once: true });
      });
      this.reserved -= size;
    }
    const full = this.obtain(size);
    let released = false;
    return {
      buffer: full.subarray(0, bytes),
      release: () => {
        if (released) return;
        released = true;
        this.give(full);
      },
    };
  }

  /** The buffer size used for a request: a power of two, at least 64 KiB, at most the capacity. */
  private sizeClass(bytes: number): number {
    if (bytes > this.capacity) throw new RangeError(`${bytes} bytes exceed the whole budget of ${this.capacity}`);
    let size = MIN_CLASS;
    while (size < bytes) size *= 2;
    return Math.min(size, this.capacity);
  }

  /** Called with room for `size` in use: reuses an idle buffer, or allocates after dropping idle ones. */
  private obtain(size: number): Buffer {
    const pooled = this.idle.get(size)?.pop();
    if (pooled) {
      this.idleBytes -= size;
      return pooled;
    }
    for (const [s, list] of this.idle) {
      while (list.length > 0 && this.allocated + size > this.capacity) {
        list.pop();
        this.allocated -= s;
        this.idleBytes -= s;
      }
    }
    this.allocated += size;
    return Buffer.allocUnsafe(size);
  }

  private give(buffer: Buffer): void {
    const list = this.idle.get(buffer.length) ?? [];
    list.push(buffer);
    this.idle.set(buffer.length, list);
    this.idleBytes += buffer.length;
    this.drain();
  }

  private room(size: number): boolean {
    return this.inUse + this.reserved + size <= this.capacity;
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.room(this.waiters[0]!.size)) {
      const w = this.waiters.shift()!;
      this.reserved += w.size;
      w.resolve();
    }
  }
}
