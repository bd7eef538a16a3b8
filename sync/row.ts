import type { Source } from "../core/schemas/source";
import { claim } from "./lease";
import type { SourceStore, StoredSource } from "./store";

/**
 * One source's row as a cycle holds it: every change is written under the row's ETag and renews
 * the cycle's lease, one write at a time (the lease renewal timer and the cycle share it).
 */
export class Row {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private stored: StoredSource,
    private readonly store: SourceStore,
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly now: () => Date,
  ) {}

  get source(): Source {
    return this.stored.source;
  }

  /** Writes `patch` (and a renewed lease). Throws LeaseHeld or ConcurrentUpdate when another writer got there first. */
  save(patch: Partial<Source>): Promise<Source> {
    const write = this.chain.then(async () => {
      const now = this.now();
      const next = claim({ ...this.stored.source, ...patch, updatedAt: now.toISOString() }, this.owner, now, this.leaseMs);
      // Optional fields set to undefined in a patch are removed, not kept.
      for (const key of Object.keys(patch) as (keyof Source)[]) if (patch[key] === undefined) delete next[key];
      this.stored = await this.store.update(this.stored, next);
      return this.stored.source;
    });
    this.chain = write.catch(() => undefined);
    return write;
  }

  /** Renews the lease every third of its length until `stop()`; a failed renewal aborts `controller`. */
  keepLease(controller: AbortController): { stop(): void } {
    const timer = setInterval(() => {
      this.save({}).catch((e: unknown) => controller.abort(e));
    }, Math.max(1000, this.leaseMs / 3));
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}
