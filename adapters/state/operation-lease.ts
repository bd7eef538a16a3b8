import { FerryError, UserError } from "../../core/errors";
import type { RunStateStore } from "./run-state";

// One runbook operation per blueprint at a time, across hosts: a lease document in the run-state
// store. Its holder renews it while the operation runs; a holder that dies stops renewing, and
// once `until` has passed the next operation takes the lease over (under the ETag it read, so of
// two hosts taking over at once one wins and the other is refused). As with the daemon's lease,
// the clocks of the hosts compare `until`: keep leases long against clock skew.

/** Who holds a blueprint's operation lease. */
export interface OperationLease {
  operation: string;
  kind: string;
  host: string;
  pid: number;
  /** When the operation took the lease (ISO 8601). */
  since: string;
  /** The lease lapses at this instant unless renewed (ISO 8601). */
  until: string;
}

/** A lease held by this process: renew and release it through its ETag. */
export interface HeldLease {
  blueprint: string;
  lease: OperationLease;
  etag: string;
  /** The lease this one took over (its holder stopped renewing it), if any. */
  tookOver?: OperationLease;
}

const leaseKey = "lease";

/** True while `lease` is live at `now` (strictly before its `until`). */
export function leaseLive(lease: OperationLease, now: Date): boolean {
  return Date.parse(lease.until) > now.getTime();
}

/** The refusal of a new operation of `blueprint` while `lease`'s operation runs. */
export function operationRunning(blueprint: string, lease: OperationLease): UserError {
  return new UserError(
    `A ${lease.kind} of ${blueprint} is running: operation ${lease.operation} on host ${lease.host} ` +
      `(pid ${lease.pid}), since ${lease.since}. Wait for it to end. If that host is gone, its lease lapses at ` +
      `${lease.until} and the next run takes over.`,
    { code: "OperationRunning", details: { blueprint, ...lease } },
  );
}

/** The live lease of `blueprint`, if any. */
export async function currentLease(
  store: RunStateStore,
  blueprint: string,
  now: Date,
): Promise<OperationLease | undefined> {
  const held = await store.get<OperationLease>(blueprint, leaseKey);
  return held && leaseLive(held.doc, now) ? held.doc : undefined;
}

/** Options for {@link acquireLease}. */
export interface AcquireLeaseOptions {
  operation: string;
  kind: string;
  host: string;
  pid: number;
  now: Date;
  /** How long the lease lasts unless renewed, in milliseconds. */
  leaseInMs: number;
}

/**
 * Takes the operation lease of `blueprint`. Throws {@link UserError} "OperationRunning", naming the
 * running operation, while another holds a live one (or took it between this read and write).
 */
export async function acquireLease(
  store: RunStateStore,
  blueprint: string,
  options: AcquireLeaseOptions,
): Promise<HeldLease> {
  const { operation, kind, host, pid, now, leaseInMs } = options;
  const lease: OperationLease = {
    operation,
    kind,
    host,
    pid,
    since: now.toISOString(),
    until: new Date(now.getTime() + leaseInMs).toISOString(),
  };
  const current = await store.get<OperationLease>(blueprint, leaseKey);
  if (current && leaseLive(current.doc, now)) throw operationRunning(blueprint, current.doc);
  try {
    const etag = current
      ? await store.replace(blueprint, leaseKey, lease, current.etag)
      : await store.create(blueprint, leaseKey, lease);
    return { blueprint, lease, etag, ...(current ? { tookOver: current.doc } : {}) };
  } catch (e) {
    if (!(e instanceof FerryError && e.code === "ConcurrentUpdate")) throw e;
    // Another host took it between the read and the write: name it.
    const winner = await store.get<OperationLease>(blueprint, leaseKey);
    if (winner) throw operationRunning(blueprint, winner.doc);
    throw e;
  }
}

/**
 * Extends `held` to `now + leaseInMs`. Throws {@link FerryError} "LeaseLost" when the lease is no
 * longer this holder's (it lapsed and another operation took it over).
 */
export async function renewLease(
  store: RunStateStore,
  held: HeldLease,
  now: Date,
  leaseInMs: number,
): Promise<HeldLease> {
  const lease = { ...held.lease, until: new Date(now.getTime() + leaseInMs).toISOString() };
  try {
    return { ...held, lease, etag: await store.replace(held.blueprint, leaseKey, lease, held.etag) };
  } catch (e) {
    if (!(e instanceof FerryError && e.code === "ConcurrentUpdate")) throw e;
    throw new FerryError(
      `Operation ${held.lease.operation} of ${held.blueprint} lost its lease: it lapsed (renewals failed or ` +
        "came too late) and another run took it over. This run stops writing its record",
      { code: "LeaseLost", cause: e, details: { blueprint: held.blueprint, operation: held.lease.operation } },
    );
  }
}

/** Gives the lease up; a lease already taken over by another run is left to it. */
export async function releaseLease(store: RunStateStore, held: HeldLease): Promise<void> {
  try {
    await store.delete(held.blueprint, leaseKey, held.etag);
  } catch (e) {
    if (!(e instanceof FerryError && e.code === "ConcurrentUpdate")) throw e;
  }
}
