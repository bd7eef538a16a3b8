import { describe, expect, it } from "vitest";
import { CRITICAL_PATH, criticalPathSeconds } from "../../../bench/failover";
import { AZURE_PROFILE } from "@ferry/emulator";

describe("the failover benchmark's reference", () => {
  it("names only operations the azure profile times, and sums them with their requests, divided by the speed-up", () => {
    for (const ops of Object.values(CRITICAL_PATH))
      for (const op of ops) expect(AZURE_PROFILE.operationsInMs, op).toHaveProperty([op]);
    const sum = (ops: string[]) =>
      ops.reduce((s, op) => s + AZURE_PROFILE.operationsInMs[op]! + AZURE_PROFILE.armRequestInMs, 0) / 1000;
    expect(criticalPathSeconds("attachAsIs", 1)).toBeCloseTo(
      sum(["VirtualMachines_AttachDetachDataDisks", "VirtualMachines_CreateOrUpdate"]),
      6,
    );
    expect(criticalPathSeconds("fromSnapshot", 5)).toBeCloseTo(
      sum(["Disks_CreateOrUpdate:Copy", "Snapshots_CreateOrUpdate", "VirtualMachines_CreateOrUpdate"]) / 5,
      6,
    );
    // The VM's own creation dominates either path.
    expect(criticalPathSeconds("fromSnapshot", 1)).toBeGreaterThan(
      AZURE_PROFILE.operationsInMs.VirtualMachines_CreateOrUpdate! / 1000,
    );
  });
});
