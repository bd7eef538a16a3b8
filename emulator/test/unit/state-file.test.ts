import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OperationRecord } from "../../model";
import { State } from "../../state";
import { tempDir } from "../../testing";

function operation(id: string, status: OperationRecord["status"]): OperationRecord {
  return {
    id,
    provider: "Microsoft.Compute",
    location: "westeurope",
    status,
    startTime: "2026-01-01T00:00:00.000Z",
    endsAt: 1_000,
    ...(status === "InProgress" ? {} : { endTime: "2026-01-01T00:00:01.000Z" }),
    completion: { kind: "none" },
    output: { dataDisks: [{ lun: 0, name: `${id}-disk` }] },
  };
}

describe("the emulator's state file", () => {
  it("holds every operation, finished or not, and every change of one in progress, after each save", async () => {
    const dir = tempDir();
    const state = State.load(dir);
    state.resourceGroups.set("rg", {
      kind: "resourceGroup",
      id: "/subscriptions/s/resourceGroups/rg",
      name: "rg",
      location: "westeurope",
      tags: {},
      provisioningState: "Succeeded",
    });
    const done = operation("done", "Succeeded");
    const running = operation("running", "InProgress");
    state.operations.set(done.id, done);
    state.operations.set(running.id, running);
    await state.save();
    // Saved again after the running one settled: the file has its new status, and the finished one as it was.
    running.status = "Failed";
    running.error = { code: "Boom", message: "it failed" };
    await state.save();

    const again = State.load(dir);
    expect([...again.operations.values()]).toEqual([done, running]);
    expect(again.resourceGroup("RG")?.name).toBe("rg");
    expect(again.subscriptionId).toBe(state.subscriptionId);
    expect(JSON.parse(readFileSync(join(dir, "state.json"), "utf8"))).toMatchObject({ version: 1, grants: [] });
  });
});
