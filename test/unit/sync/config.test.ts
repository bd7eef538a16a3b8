import { describe, expect, it } from "vitest";
import { parseWith } from "../../../core/validate";
import { MIN_SYNC_INTERVAL_SECONDS, SyncConfigSchema } from "../../../sync/config";

const SUB = "00000000-0000-0000-0000-000000000000";

/** A valid config with the given credential kind and `sync` section. */
function config(kind: "emulator" | "managedIdentity", sync: Record<string, unknown>) {
  return {
    applianceId: `/subscriptions/${SUB}/resourceGroups/dr/providers/Microsoft.Compute/virtualMachines/appliance`,
    azure: { subscriptionId: SUB, credential: { kind } },
    stateStore: { kind: "connectionStringEnv", variable: "FERRY_TABLE", tableName: "ferrySources" },
    sync,
  };
}

const problems = (value: unknown) => {
  try {
    parseWith(SyncConfigSchema, value);
    return "";
  } catch (e) {
    return (e as Error).message;
  }
};

describe("the sync interval", () => {
  it("is at least Azure's snapshot rate (43 s) by default, for Azure and the emulator alike", () => {
    expect(MIN_SYNC_INTERVAL_SECONDS).toBe(43);
    for (const kind of ["managedIdentity", "emulator"] as const)
      expect(problems(config(kind, { intervalInSeconds: 42 }))).toMatch(
        /sync\.intervalInSeconds: is below Azure's limit of 7 incremental snapshots per disk per 5 minutes\. Use 43/,
      );
    expect(
      parseWith(SyncConfigSchema, config("managedIdentity", { intervalInSeconds: 43 })).sync.intervalInSeconds,
    ).toBe(43);
  });

  it("goes down to the floor the config sets when it talks to the local emulator", () => {
    const c = parseWith(SyncConfigSchema, config("emulator", { intervalInSeconds: 1, minIntervalInSeconds: 1 }));
    expect(c.sync).toMatchObject({ intervalInSeconds: 1, minIntervalInSeconds: 1 });
    expect(problems(config("emulator", { intervalInSeconds: 0.5, minIntervalInSeconds: 1 }))).toMatch(
      /sync\.intervalInSeconds: is below sync\.minIntervalInSeconds \(1\)\. Use 1 or more/,
    );
  });

  it("never goes below Azure's rate for Azure, whatever the floor says", () => {
    expect(problems(config("managedIdentity", { intervalInSeconds: 1, minIntervalInSeconds: 1 }))).toMatch(
      /sync\.minIntervalInSeconds: is below Azure's limit .* only the local emulator \(azure\.credential\.kind "emulator"\) takes less/,
    );
  });

  it("is reported with the config's other problems", () => {
    const message = problems({ ...config("emulator", { intervalInSeconds: 30, readConcurrency: 0 }), deviceDir: 42 });
    expect(message).toMatch(/3 problems/);
    expect(message).toMatch(/sync\.intervalInSeconds: is below Azure's limit/);
  });
});
