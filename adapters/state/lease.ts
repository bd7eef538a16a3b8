import { FerryError } from "../../core/errors";
import type { Source } from "../../core/schemas/source";

// Which daemon instance may write a source's staging disk. Pure: the caller reads the row, decides
// here, and writes the result back with SourceStore.update, whose ETag condition settles two
// instances claiming at once (one gets ConcurrentUpdate). A lease is only as good as the clocks
// of the instances comparing it: keep leases long against clock skew (minutes, not seconds).

/**
 * The instance holding a live lease on `source` at `now`, or undefined when nobody does. A lease
 * is live strictly before its `until`.
 */
export function leaseHolder(source: Source, now: Date): string | undefined {
  const lease = source.lease;
  if (lease === undefined) return undefined;
  return Date.parse(lease.until) > now.getTime() ? lease.owner : undefined;
}

/**
 * True when `owner` holds a live lease on `source` at `now`: the only state in which it may write
 * the staging disk. A free lease is not enough (another instance may be claiming it): claim first.
 */
export function canWrite(source: Source, owner: string, now: Date): boolean {
  return leaseHolder(source, now) === owner;
}

/** True when `owner` may {@link claim} `source` at `now`: nobody else holds a live lease. */
export function canClaim(source: Source, owner: string, now: Date): boolean {
  const holder = leaseHolder(source, now);
  return holder === undefined || holder === owner;
}

/** Options of {@link claim}. */
export interface ClaimOptions {
  /**
   * The claiming process of `owner`, recorded in the lease. A live lease of the same owner held by
   * another session is refused like another owner's. Default: none (any process of the owner
   * renews the owner's lease, and none is recorded).
   */
  session?: string;
  /** Whether another session of the owner is known to have ended (its process exited). Default: never. */
  sessionEnded?: (session: string) => boolean;
}

/**
 * `source` with a lease for `owner` from `now` for `leaseMs` milliseconds (a renewal when `owner`
 * holds it already; the new `until` replaces the old one). Throws {@link FerryError} "LeaseHeld"
 * when another instance's lease is still live (or another live session's of the same instance),
 * and "InvalidLease" for an empty owner or a duration that is not a positive finite number.
 */
export function claim(source: Source, owner: string, now: Date, leaseMs: number, options: ClaimOptions = {}): Source {
  if (owner === "")
    throw new FerryError("A lease owner must not be empty: use the daemon instance's id", { code: "InvalidLease" });
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new FerryError(`A lease must last a positive number of milliseconds, not ${leaseMs}`, {
      code: "InvalidLease",
    });
  }
  const holder = leaseHolder(source, now);
  if (holder !== undefined && holder !== owner) {
    const until = source.lease!.until;
    throw new FerryError(
      `Source ${source.sourceDiskId} is leased by "${holder}" until ${until}: only that instance may write its staging disk. ` +
        "Wait for the lease to end (or for that instance to release it)",
      { code: "LeaseHeld", details: { sourceDiskId: source.sourceDiskId, holder, until } },
    );
  }
  const other = source.lease?.session;
  if (
    holder === owner &&
    options.session !== undefined &&
    other !== undefined &&
    other !== options.session &&
    !options.sessionEnded?.(other)
  ) {
    const until = source.lease!.until;
    throw new FerryError(
      `Source ${source.sourceDiskId} is leased by another process of instance "${owner}" (${other}) until ${until}: ` +
        "two processes of one instance must not write the same staging disks. Stop one of them",
      { code: "LeaseHeld", details: { sourceDiskId: source.sourceDiskId, holder, session: other, until } },
    );
  }
  const until = new Date(now.getTime() + leaseMs).toISOString();
  return { ...source, lease: { owner, until, ...(options.session !== undefined ? { session: options.session } : {}) } };
}

/** `source` without `owner`'s lease (live or expired). Another instance's lease is left as it is. */
export function release(source: Source, owner: string): Source {
  if (source.lease?.owner !== owner) return source;
  const { lease: _released, ...rest } = source;
  return rest;
}
