import type { Source } from "../core/schemas/source";

/**
 * Why a disk has no final point yet for a planned failover's sync request `request` (the `syncRequestedAt` the run
 * wrote once its power-off ended), or undefined when it has one: a point applied that the daemon asked for after it
 * read that very request.
 */
export function finalSyncShortfall(s: Source, request: string): string | undefined {
  const applied = s.applied;
  if (!s.applying && applied?.afterSyncRequest === request) return undefined;
  if (s.state === "disabled") return "DR was disabled for it: run `ferry sources enable <blueprint>`";
  if (s.syncRequestedAt !== request)
    return (
      `another sync request (${s.syncRequestedAt ?? "none"}) replaced this run's: the points answering it cannot be ` +
      "proven to follow the power-off; run the failover again"
    );
  if (s.paused) return "its sync is paused (by another operation): resume it, or end that operation";
  if (s.state === "degraded")
    return `its sync is degraded${s.lastError ? ` (${s.lastError.message})` : ""}: fix that, then run the failover again`;
  if (s.applying) return `the daemon is still applying ${s.applying.snapshotId}`;
  // A daemon older than the runbooks records no request on its points: its newest point cannot be told apart from
  // one taken while the power-off was under way.
  if (applied && applied.afterSyncRequest === undefined && Date.parse(applied.createdAt) >= Date.parse(request))
    return (
      "the sync daemon records no sync request on its recovery points (it is older than these runbooks): upgrade " +
      "ferry-sync on the appliance, then run the failover again"
    );
  return (
    "no recovery point answering this run's request has been applied" +
    (s.lastError ? ` (the daemon's last error: ${s.lastError.message})` : "") +
    ": check that the sync daemon runs (ferry-sync list)"
  );
}
