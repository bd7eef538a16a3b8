import { describe, expect, it } from "vitest";
import { isUserError } from "../../../../core/errors";
import type { CompletePhase } from "../../../../runbooks/failback/complete-phase";
import { parseFailbackState, type FailbackState } from "../../../../runbooks/failback/state";

const WHERE = ".ferry/journal/.failback/bp-web.json";
const point = {
  snapshotId: "/subscriptions/s/resourceGroups/dr/providers/Microsoft.Compute/snapshots/web-os-1",
  sourceDiskId: "/subscriptions/s/resourceGroups/pri/providers/Microsoft.Compute/disks/web-os-fb",
  createdAt: "2025-01-01T00:00:00.000Z",
};
const base: FailbackState = {
  blueprint: "bp-web",
  prepare: "failback-prepare-1",
  failover: "failover-unplanned-1",
  phase: "syncing",
  disks: [],
};

/** A state as the ferry before complete phases wrote it: a flag per step done. */
const flagged = (complete: Record<string, unknown>, phase: FailbackState["phase"] = "syncing") =>
  JSON.stringify({ ...base, phase, complete: { swapped: [], points: {}, ...complete } });

describe("parseFailbackState", () => {
  it("reads back a state it wrote, complete phase and all", () => {
    const state: FailbackState = {
      ...base,
      complete: { phase: "firstPointsTaken", swapped: ["web"], points: { [point.sourceDiskId]: point } },
    };
    expect(parseFailbackState(JSON.stringify(state), WHERE)).toEqual(state);
  });

  it("leaves a state that complete never touched without complete", () => {
    expect(parseFailbackState(JSON.stringify(base), WHERE).complete).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, CompletePhase]>([
    ["no flag", {}, "notStarted"],
    ["the DR VMs stopped", { drStopped: true }, "drVmsStopped"],
    ["the final pass done", { drStopped: true, finalDone: true }, "finalPassCopied"],
    ["the sources rewritten", { drStopped: true, finalDone: true, configUpdated: true }, "sourcesRewritten"],
    ["the standby up done", { drStopped: true, finalDone: true, configUpdated: true, standby: true }, "standby"],
  ])("maps an old state with %s to the phase of its last flag", (_what, flags, phase) => {
    expect(parseFailbackState(flagged(flags), WHERE).complete?.phase).toBe(phase);
  });

  it("keeps an old state's swapped rows and first points, and drops its flags", () => {
    const parsed = parseFailbackState(
      flagged({ drStopped: true, finalDone: true, swapped: ["web"], points: { [point.sourceDiskId]: point } }),
      WHERE,
    );
    expect(parsed.complete).toEqual({
      phase: "finalPassCopied",
      swapped: ["web"],
      points: { [point.sourceDiskId]: point },
    });
  });

  it("reads an old completed failback as a complete that succeeded", () => {
    const flags = { drStopped: true, finalDone: true, configUpdated: true, standby: true };
    expect(parseFailbackState(flagged(flags, "completed"), WHERE).complete?.phase).toBe("succeeded");
  });

  it.each<[string, string, RegExp]>([
    ["text that is not JSON", "{", /not JSON/],
    ["a state with no blueprint", JSON.stringify({ ...base, blueprint: undefined }), /names no blueprint/],
    ["an unknown failback phase", JSON.stringify({ ...base, phase: "swapping" }), /phase "swapping" is unknown/],
    [
      "an unknown complete phase",
      JSON.stringify({ ...base, complete: { phase: "halfSwapped", swapped: [], points: {} } }),
      /complete phase "halfSwapped" is unknown/,
    ],
  ])("refuses %s with a UserError naming the file", (_what, text, why) => {
    let error: unknown;
    try {
      parseFailbackState(text, WHERE);
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    expect(error).toMatchObject({ code: "InvalidFailbackState" });
    expect((error as Error).message).toContain(WHERE);
    expect((error as Error).message).toMatch(why);
  });
});
