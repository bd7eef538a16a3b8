import { describe, expect, it } from "vitest";
import type { DaemonHeartbeat } from "../../../core/schemas/heartbeat";
import type { Source } from "../../../core/schemas/source";
import { formatSources, sourceLine, type SourceLineOptions } from "../../../runbooks/sources";

const sub = "/subscriptions/00000000-0000-0000-0000-000000000000";
const appliance = `${sub}/resourceGroups/dr/providers/Microsoft.Compute/virtualMachines/ferry-appliance`;
const disk = (name: string) => `${sub}/resourceGroups/prod/providers/Microsoft.Compute/disks/${name}`;
const now = new Date("2026-12-01T12:00:00.000Z");
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();

/** A healthy source of row web1 of blueprint web, its point `lagSeconds` old, the blueprint's target 300 s. */
function source(lagSeconds = 120, overrides: Partial<Source> = {}): Source {
  return {
    sourceDiskId: disk("web1-os"),
    stagingDiskId: disk("web1-os-staging"),
    applianceLun: 0,
    applianceId: appliance,
    state: "healthy",
    prepare: "empty",
    bytesCopied: 0,
    sourceSizeBytes: 1024,
    paused: false,
    consecutiveFailures: 0,
    updatedAt: ago(10),
    applied: { sourceDiskId: disk("web1-os"), snapshotId: `${sub}/snapshots/s1`, createdAt: ago(lagSeconds) },
    protection: { blueprint: "web", row: "web1", disk: "os", rpoTargetSeconds: 300 },
    ...overrides,
  };
}

/** The heartbeat of the appliance's daemon, written `ageSeconds` ago. */
function heartbeat(ageSeconds: number, overrides: Partial<DaemonHeartbeat> = {}): DaemonHeartbeat {
  return {
    instanceId: "appliance-1",
    applianceId: appliance,
    host: "vm1",
    pid: 42,
    version: "0.1.0",
    startedAt: ago(3600),
    at: ago(ageSeconds),
    intervalSeconds: 15,
    ...overrides,
  };
}

const options = (heartbeats: DaemonHeartbeat[]): SourceLineOptions => ({ now, heartbeats, staleDaemonSeconds: 120 });

describe("sources list: a source's line", () => {
  it("shows the recorded state and an rpo of ok while the daemon is alive and the lag within the target", () => {
    expect(sourceLine(source(120), options([heartbeat(5)]))).toMatchObject({
      blueprint: "web",
      row: "web1",
      role: "os",
      state: "healthy",
      health: "healthy",
      lagSeconds: 120,
      rpoTargetSeconds: 300,
      rpo: "ok",
      daemon: { instanceId: "appliance-1", ageSeconds: 5 },
    });
  });

  it("says over when the lag is past the target", () => {
    expect(sourceLine(source(328), options([heartbeat(5)]))).toMatchObject({ lagSeconds: 328, rpo: "over" });
  });

  it("says over when nothing is applied yet and there is a target", () => {
    const l = sourceLine(source(0, { applied: undefined, state: "backfilling" }), options([heartbeat(5)]));
    expect(l.lagSeconds).toBeUndefined();
    expect(l.rpo).toBe("over");
  });

  it("has no rpo fields without a target", () => {
    const l = sourceLine(source(328, { protection: { blueprint: "web", row: "web1", disk: "os" } }), options([]));
    expect(l.rpoTargetSeconds).toBeUndefined();
    expect(l.rpo).toBeUndefined();
  });

  it("is stale, never healthy, once the daemon's heartbeat is older than the threshold", () => {
    expect(sourceLine(source(), options([heartbeat(121)]))).toMatchObject({ state: "healthy", health: "stale" });
  });

  it("is stale when the daemon said it stopped, however recent its heartbeat", () => {
    const l = sourceLine(source(), options([heartbeat(1, { stoppedAt: ago(1) })]));
    expect(l.health).toBe("stale");
    expect(l.daemon?.stoppedAt).toBe(ago(1));
  });

  it("is stale when no daemon of its appliance ever wrote a heartbeat", () => {
    const other = `${sub}/resourceGroups/dr/providers/Microsoft.Compute/virtualMachines/other-appliance`;
    const l = sourceLine(source(), options([heartbeat(1, { applianceId: other })]));
    expect(l).toMatchObject({ health: "stale", daemon: null });
  });

  it("allows three of the daemon's own heartbeat intervals when they are longer than the threshold", () => {
    expect(sourceLine(source(), options([heartbeat(170, { intervalSeconds: 60 })])).health).toBe("healthy");
  });

  it("leaves a disabled source disabled: it has no daemon to be stale", () => {
    expect(sourceLine(source(120, { state: "disabled" }), options([])).health).toBe("disabled");
  });

  it("prints the lag against the target, the rpo column and what to do about a stale daemon", () => {
    const text = formatSources([sourceLine(source(328), options([heartbeat(600)]))]);
    const [header, row, advice] = text.split("\n");
    expect(header).toMatch(/^DISK +ROW +ROLE +HEALTH +LUN +LAG +RPO +APPLIED +POINTS +LAST ERROR$/);
    expect(row).toMatch(/^web1-os +web1 +os +stale \(was healthy\) +0 +328 s \/ 300 s target +over /);
    expect(advice).toBe(
      `stale: the sync daemon appliance-1 was last seen 600 s ago (${ago(600)}); nothing syncs. Check it on the ` +
        "appliance (systemctl status ferry-sync; journalctl -u ferry-sync).",
    );
  });
});
