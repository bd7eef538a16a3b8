import { describe, expect, it } from "vitest";
import type { Source } from "../../../core/schemas/source";
import { finalSyncShortfall } from "../../../runbooks/final-sync";

const REQUEST = "2026-12-03T04:00:00.000Z";
const DISK = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d";

function point(createdAt: string, afterSyncRequest?: string) {
  return {
    snapshotId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/s-${createdAt}`,
    sourceDiskId: DISK,
    createdAt,
    ...(afterSyncRequest ? { afterSyncRequest } : {}),
  };
}

function source(patch: Partial<Source>): Source {
  return { state: "healthy", syncRequestedAt: REQUEST, ...patch } as Source;
}

describe("finalSyncShortfall", () => {
  it("is satisfied by an applied point that answers this very request", () => {
    expect(finalSyncShortfall(source({ applied: point("2026-12-03T04:00:01Z", REQUEST) }), REQUEST)).toBeUndefined();
  });

  it("does not take a point answering an earlier request, however close in time", () => {
    const s = source({ applied: point("2026-12-03T04:00:01Z", "2026-12-03T03:59:59.999Z") });
    expect(finalSyncShortfall(s, REQUEST)).toMatch(/no recovery point answering this run's request.*ferry-sync list/);
  });

  it("names an unstamped point newer than the request as a daemon older than the runbooks", () => {
    const s = source({ applied: point("2026-12-03T04:00:05Z") });
    expect(finalSyncShortfall(s, REQUEST)).toMatch(/older than these runbooks\): upgrade ferry-sync/);
  });

  it("says that another request replaced this run's, and to run the failover again", () => {
    const s = source({ syncRequestedAt: "2026-12-03T04:00:02.000Z", applied: point("2026-12-03T04:00:03Z") });
    expect(finalSyncShortfall(s, REQUEST)).toMatch(
      /another sync request \(2026-12-03T04:00:02.000Z\).*run the failover again/,
    );
  });

  it("waits while the answering point is still being applied", () => {
    const p = point("2026-12-03T04:00:01Z", REQUEST);
    const s = source({ applied: point("2026-12-03T03:59:00Z"), applying: p });
    expect(finalSyncShortfall(s, REQUEST)).toMatch(/still applying/);
  });
});
