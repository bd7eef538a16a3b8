import { describe, expect, it } from "vitest";
import { planBlueprint } from "../../../stacks/plan";
import { assertSafeToRecover, commandFor } from "../../../stacks/recovery-guard";
import { blueprint, landingZone, readyRunState, recoveryPoints } from "./fixtures";

const b = blueprint((raw) => {
  for (const r of raw.rows as Record<string, unknown>[]) {
    r.osStrategy = "attachAsIs";
    r.dataStrategy = "fromSnapshot";
  }
});
const points = recoveryPoints(b);
const plan = planBlueprint(b, landingZone(), { mode: "failover", recoveryPoints: points });
const os = b.rows[0]!.osDisk.sourceDiskId;
const data = b.rows[0]!.dataDisks[0]!.sourceDiskId;
const problems = (f: () => void): string[] => {
  try {
    f();
    return [];
  } catch (e) {
    return (e as { details: { problems: string[] } }).details.problems;
  }
};

describe("the guard of a recovering up", () => {
  it("passes when every disk is paused at its point, and attach-as-is disks are detached", () => {
    expect(problems(() => assertSafeToRecover(plan, "web", readyRunState("failover", points)))).toEqual([]);
  });

  it("names a disk whose applied point is not the recorded one", () => {
    const state = readyRunState("failover", points);
    state.sync[data.toLowerCase()]!.applied = "/subscriptions/s/resourceGroups/g/providers/x/snapshots/later";
    expect(problems(() => assertSafeToRecover(plan, "web", state))).toEqual([
      expect.stringMatching(/data disk LUN 0 .*is paused at \/subscriptions\/s\/.*later, not at the recorded/),
    ]);
  });

  it("takes a from-snapshot disk whose DR snapshot is recorded as taken, whatever its sync does now", () => {
    const state = readyRunState("failover", points);
    state.sync[data.toLowerCase()] = { paused: false, applying: "/x/next" };
    state.mode!.disks[data.toLowerCase()]!.snapshotTaken = true;
    expect(problems(() => assertSafeToRecover(plan, "web", state))).toEqual([]);
  });

  it("never takes an attach-as-is disk on the word of a snapshot: it must be paused at its point", () => {
    const state = readyRunState("failover", points);
    state.sync[os.toLowerCase()] = { paused: true, applying: "/x/next", applied: points[os]!.snapshotId };
    state.mode!.disks[os.toLowerCase()]!.snapshotTaken = true;
    expect(problems(() => assertSafeToRecover(plan, "web", state))).toEqual([
      expect.stringMatching(/OS disk .*attachAsIs\): its sync is paused while applying \/x\/next/),
    ]);
  });

  it("names a disk that has no source row", () => {
    const state = readyRunState("failover", points);
    delete state.sync[os.toLowerCase()];
    expect(problems(() => assertSafeToRecover(plan, "web", state))).toEqual([
      expect.stringMatching(/has no source row in the state store/),
    ]);
  });

  it("tells which command continues the operation of the record", () => {
    const record = readyRunState("failover", points).mode!;
    expect(commandFor("web", { ...record, operationKind: "failover-planned" })).toBe("ferry failover web --planned");
    expect(commandFor("web", record)).toBe("ferry failover web --unplanned");
    expect(commandFor("web", { ...record, mode: "test" })).toBe("ferry failover web --test");
  });
});
