import { describe, expect, it } from "vitest";
import { planBlueprint } from "../../../stacks/plan";
import { assertSafeToRecover, awaitDetached, commandFor } from "../../../stacks/recovery-guard";
import type { BlueprintRunState } from "../../../core/schemas/blueprint-state";
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

  it("takes an attach-as-is disk its runbook is detaching now as one its VM waits for", () => {
    const state = readyRunState("failover", points);
    state.mode!.disks[os.toLowerCase()] = { pausedAt: points[os]!.snapshotId, detachingUntil: "2026-11-22T05:10:00Z" };
    const now = new Date("2026-11-22T05:01:00Z");
    expect(assertSafeToRecover(plan, "web", state, now)).toEqual({ detaching: [os.toLowerCase()] });
  });

  it("refuses an attach-as-is disk whose recorded detach time has passed", () => {
    const state = readyRunState("failover", points);
    state.mode!.disks[os.toLowerCase()] = { pausedAt: points[os]!.snapshotId, detachingUntil: "2026-11-22T05:10:00Z" };
    const now = new Date("2026-11-22T05:11:00Z");
    expect(problems(() => assertSafeToRecover(plan, "web", state, now))).toEqual([
      expect.stringMatching(/OS disk .*not record its staging disk as detached/),
    ]);
  });

  it("tells which command continues the operation of the record", () => {
    const record = readyRunState("failover", points).mode!;
    expect(commandFor("web", { ...record, operationKind: "failover-planned" })).toBe("ferry failover web --planned");
    expect(commandFor("web", record)).toBe("ferry failover web --unplanned");
    expect(commandFor("web", { ...record, mode: "test" })).toBe("ferry failover web --test");
  });
});

describe("a VM's wait for its runbook's detach", () => {
  const operation = readyRunState("failover", points).mode!.operation;
  const detaching = (until = "2026-11-22T05:10:00Z"): BlueprintRunState => {
    const state = readyRunState("failover", points);
    state.mode!.disks[os.toLowerCase()] = { pausedAt: points[os]!.snapshotId, detachingUntil: until };
    return state;
  };
  const detachedState = (): BlueprintRunState => readyRunState("failover", points);
  const clock = () => new Date("2026-11-22T05:01:00Z");
  const reads = (...states: BlueprintRunState[]) => {
    let i = 0;
    return { read: () => Promise.resolve(states[Math.min(i++, states.length - 1)]!), count: () => i };
  };

  it("reads the store until the detach is recorded, then goes on", async () => {
    const r = reads(detaching(), detaching(), detachedState());
    await awaitDetached("web", operation, [os.toLowerCase()], { read: r.read, intervalInMs: 1, now: clock });
    expect(r.count()).toBe(3);
  });

  it("fails at once, naming the command, when the runbook withdraws the detach", async () => {
    const withdrawn = readyRunState("failover", points);
    withdrawn.mode!.disks[os.toLowerCase()] = { pausedAt: points[os]!.snapshotId };
    const r = reads(detaching(), withdrawn);
    await expect(
      awaitDetached("web", operation, [os.toLowerCase()], { read: r.read, intervalInMs: 1, now: clock }),
    ).rejects.toMatchObject({
      code: "NotReadyToRecover",
      message: expect.stringMatching(/detach was withdrawn[\s\S]*Run `ferry failover web --unplanned`/),
    });
  });

  it("fails once the time its runbook recorded has passed with the disk still attached", async () => {
    const r = reads(detaching("2026-11-22T05:00:30Z"));
    await expect(
      awaitDetached("web", operation, [os.toLowerCase()], { read: r.read, intervalInMs: 1, now: clock }),
    ).rejects.toMatchObject({ code: "NotReadyToRecover", message: expect.stringMatching(/not recorded detached by/) });
  });

  it("fails when another operation has set the blueprint's mode since", async () => {
    const other = detachedState();
    other.mode!.operation = "op-other";
    const r = reads(detaching(), other);
    await expect(
      awaitDetached("web", operation, [os.toLowerCase()], { read: r.read, intervalInMs: 1, now: clock }),
    ).rejects.toMatchObject({ code: "NotReadyToRecover", message: expect.stringMatching(/by operation op-other/) });
  });
});
