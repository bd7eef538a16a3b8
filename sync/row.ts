import { FerryError, isFerryError } from "../core/errors";
import type { Source } from "../core/schemas/source";
import { claim } from "../adapters/state/lease";
import type { SourceStore, StoredSource } from "../adapters/state/store";

/**
 * One source's row as a cycle holds it: every change is written under the row's ETag and renews
 * the cycle's lease, one write at a time (the lease renewal timer and the cycle share it).
 */
export class Row {
  private chain: Promise<unknown> = Promise.resolve();
  /** Once the lease is given up, no later write of this cycle takes it again. */
  private released = false;

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

  /**
   * Writes `patch` (and a renewed lease). When a runbook changed the row meanwhile (pause, a sync
   * request), the patch is applied again on top of its change; when another daemon took the lease,
   * or the source was disabled, it throws (LeaseHeld, ConcurrentUpdate or SourceDisabled).
   */
  save(patch: Partial<Source>): Promise<Source> {
    const write = this.chain.then(async () => {
      try {
        this.stored = await this.store.update(this.stored, this.next(patch));
      } catch (e) {
        if (!isFerryError(e) || e.code !== "ConcurrentUpdate") throw e;
        const fresh = await this.store.get(this.stored.source.sourceDiskId);
        if (!fresh) throw e;
        if (fresh.source.lease && fresh.source.lease.owner !== this.owner) throw e;
        if (fresh.source.state === "disabled") {
          throw new FerryError("The source was disabled while it was being synced; the sync stops here.", {
            code: "SourceDisabled",
            cause: e,
          });
        }
        this.stored = fresh;
        this.stored = await this.store.update(this.stored, this.next(patch));
      }
      return this.stored.source;
    });
    this.chain = write.catch(() => undefined);
    return write;
  }

  private next(patch: Partial<Source>): Source {
    const now = this.now();
    const merged = { ...this.stored.source, ...patch, updatedAt: now.toISOString() };
    // Releasing the lease is the one write that does not renew it, and after it none does.
    const next =
      this.released || ("lease" in patch && patch.lease === undefined)
        ? merged
        : claim(merged, this.owner, now, this.leaseMs);
    // Optional fields set to undefined in a patch are removed, not kept.
    for (const key of Object.keys(patch) as (keyof Source)[]) if (patch[key] === undefined) delete next[key];
    return next;
  }

  /** Gives the lease up for the rest of the cycle (a runbook waits for it). */
  async release(): Promise<void> {
    await this.save({ lease: undefined });
    this.released = true;
  }

  /** Renews the lease every third of its length until `stop()` or `release()`; a failed renewal aborts `controller`. */
  keepLease(controller: AbortController): { stop(): void } {
    const timer = setInterval(
      () => {
        if (this.released) return;
        this.save({}).catch((e: unknown) => controller.abort(e));
      },
      Math.max(1000, this.leaseMs / 3),
    );
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}
