import { FerryError, isFerryError } from "../core/errors";
import type { Source } from "../core/schemas/source";
import { claim } from "../adapters/state/lease";
import type { SourceStore, StoredSource } from "../adapters/state/store";
import { currentSession, sessionEnded } from "./process-identity";

/** Options of {@link Row.save}. */
export interface RowSaveOptions {
  /**
   * Refuse the write (FerryError `PausedBeforeApply`) when the row it would replace is paused. The check is made
   * on the row the write is conditional on (its ETag), so a pause written before this write always wins, and one
   * written after it finds this write's result. Default false.
   */
  refuseIfPaused?: boolean;
}

function refuseIfPaused(s: Source): void {
  if (s.paused)
    throw new FerryError("Paused by a runbook before the apply began; the new snapshot was deleted.", {
      code: "PausedBeforeApply",
    });
}

/**
 * One source's row as a cycle holds it: every change is written under the row's ETag and renews
 * the cycle's lease, one write at a time (the lease renewal timer and the cycle share it). A cycle
 * takes the row with {@link Row.begin}, which raises the row's fencing token; from then on a write
 * that finds the row changed by someone else goes on only while the token is still this cycle's.
 */
export class Row {
  private chain: Promise<unknown> = Promise.resolve();
  /** Once the lease is given up, no later write of this cycle takes it again. */
  private released = false;
  private token: number | undefined;
  /** When the last write that renewed the lease was sent (ms since the epoch). */
  private renewedAt = 0;
  private renewing: Promise<void> | undefined;

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

  /** This cycle's fencing token (from {@link Row.begin}). */
  get fence(): number {
    if (this.token === undefined) throw new Error("Row.begin() was not called");
    return this.token;
  }

  /**
   * Takes the source for one cycle: the lease, and the row's fencing token raised by one, in one
   * write under the ETag. Throws LeaseHeld while another instance's lease lives, ConcurrentUpdate
   * when the row keeps changing, SourceDisabled for a disabled source.
   */
  async begin(): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const token = (this.stored.source.fence ?? 0) + 1;
      try {
        await this.write({ fence: token });
        this.token = token;
        return token;
      } catch (e) {
        if (!isFerryError(e) || e.code !== "ConcurrentUpdate" || attempt >= 2) throw e;
        const fresh = await this.store.get(this.stored.source.sourceDiskId);
        if (!fresh) throw e;
        this.stored = fresh;
      }
    }
  }

  /**
   * Writes `patch` (and a renewed lease). When a runbook changed the row meanwhile (pause, a sync
   * request, a hold), the patch is applied again on top of its change; when the fencing token is no
   * longer this cycle's (another process took the source, retry-backfill), it throws Fenced; when
   * the source was disabled, SourceDisabled; LeaseHeld or ConcurrentUpdate otherwise.
   */
  save(patch: Partial<Source>, options: RowSaveOptions = {}): Promise<Source> {
    return this.write(patch, options);
  }

  private write(patch: Partial<Source>, options: RowSaveOptions = {}): Promise<Source> {
    const write = this.chain.then(async () => {
      const sentAt = Date.now();
      try {
        if (options.refuseIfPaused) refuseIfPaused(this.stored.source);
        this.stored = await this.store.update(this.stored, this.next(patch));
      } catch (e) {
        if (!isFerryError(e) || e.code !== "ConcurrentUpdate" || this.token === undefined) throw e;
        const fresh = await this.store.get(this.stored.source.sourceDiskId);
        if (!fresh) throw e;
        if (fresh.source.state === "disabled") {
          throw new FerryError("The source was disabled while it was being synced; the sync stops here.", {
            code: "SourceDisabled",
            cause: e,
          });
        }
        if ((fresh.source.fence ?? 0) !== this.token || (fresh.source.lease && fresh.source.lease.owner !== this.owner))
          throw this.fencedBy(fresh.source, e);
        this.stored = fresh;
        // The row changed since it was read: a pause that got there first wins over this write.
        if (options.refuseIfPaused) refuseIfPaused(fresh.source);
        this.stored = await this.store.update(this.stored, this.next(patch));
      }
      if (!this.released) this.renewedAt = sentAt;
      return this.stored.source;
    });
    this.chain = write.catch(() => undefined);
    return write;
  }

  private fencedBy(fresh: Source, cause: unknown): FerryError {
    const by = fresh.lease ? `"${fresh.lease.owner}"` : "a runbook or another process";
    return new FerryError(
      `Fenced: source ${fresh.sourceDiskId} was taken over by ${by} (fencing token ${fresh.fence ?? 0}, ` +
        `this cycle's is ${this.token}). This process stops writing its staging disk at once.`,
      {
        code: "Fenced",
        cause,
        details: { sourceDiskId: fresh.sourceDiskId, fence: this.token, newest: fresh.fence ?? 0 },
      },
    );
  }

  private next(patch: Partial<Source>): Source {
    const now = this.now();
    const merged = { ...this.stored.source, ...patch, updatedAt: now.toISOString() };
    // Releasing the lease is the one write that does not renew it, and after it none does.
    const next =
      this.released || ("lease" in patch && patch.lease === undefined)
        ? merged
        : claim(merged, this.owner, now, this.leaseMs, { session: currentSession(), sessionEnded });
    // Optional fields set to undefined in a patch are removed, not kept.
    for (const key of Object.keys(patch) as (keyof Source)[]) if (patch[key] === undefined) delete next[key];
    return next;
  }

  /** Gives the lease up for the rest of the cycle (a runbook or another daemon may take it at once). */
  async release(): Promise<void> {
    await this.save({ lease: undefined });
    this.released = true;
  }

  /**
   * Renews the lease now when the timer of {@link Row.keepLease} is late (the process was paused,
   * or its event loop starved): called before each write, so a process that slept through its
   * lease learns that it lost the row before it writes, not after. Costs nothing otherwise.
   */
  async renewIfLate(): Promise<void> {
    if (this.released || this.token === undefined) return;
    if (Date.now() - this.renewedAt <= (this.leaseMs * 2) / 3) return;
    // Concurrent writers share one renewal.
    this.renewing ??= this.save({})
      .then(() => undefined)
      .finally(() => (this.renewing = undefined));
    await this.renewing;
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
