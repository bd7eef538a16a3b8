import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger";
import { PulumiDeployer } from "../../runbooks/deployers/pulumi";

/**
 * The live suite: the Automation API deployer on the real Pulumi CLI and real Azure. It runs only
 * where both exist and it is asked for: FERRY_LIVE=1, the `pulumi` CLI on PATH (logged in), Azure
 * credentials for the azure-native provider (ARM_* or workload identity), and FERRY_LIVE_BLUEPRINT
 * naming a JSON file with a blueprint stack's `ferry:` config whose `landingZoneStack` is a deployed
 * landing zone of that subscription with a disposable resource group.
 */
function liveReadiness(): { ready: true; configFile: string } | { ready: false; reason: string } {
  if (process.env.FERRY_LIVE !== "1")
    return { ready: false, reason: "FERRY_LIVE is not 1 (the live suite creates real Azure resources)" };
  try {
    execFileSync("pulumi", ["version"], { stdio: "ignore" });
  } catch {
    return { ready: false, reason: "the pulumi CLI is not on PATH" };
  }
  if (!process.env.ARM_SUBSCRIPTION_ID && !process.env.AZURE_SUBSCRIPTION_ID)
    return { ready: false, reason: "no Azure credentials (ARM_SUBSCRIPTION_ID or AZURE_SUBSCRIPTION_ID unset)" };
  const configFile = process.env.FERRY_LIVE_BLUEPRINT;
  if (!configFile) return { ready: false, reason: "FERRY_LIVE_BLUEPRINT (a blueprint stack config JSON) is not set" };
  return { ready: true, configFile };
}

const live = liveReadiness();
if (!live.ready) process.stdout.write(`live suite skipped: ${live.reason}\n`);

describe("live: the Pulumi deployer on real Azure", () => {
  it("previews, applies and destroys a blueprint in standby, judged by the policy pack", async (ctx) => {
    if (!live.ready) return ctx.skip(`live suite skipped: ${live.reason}`);
    const stack = `ferry-live-${Date.now().toString(36)}`;
    const deployer = new PulumiDeployer({ workDir: process.cwd(), logger: createLogger({ name: "ferry-live" }) });
    await deployer.setConfig(stack, JSON.parse(readFileSync(live.configFile, "utf8")) as Record<string, unknown>);
    const preview = await deployer.preview(stack, {});
    expect(preview.violations.filter((v) => v.enforcementLevel === "mandatory")).toEqual([]);
    expect(preview.changes.create).toBeGreaterThan(0);
    try {
      const up = await deployer.up(stack, { message: "ferry live suite: standby" });
      expect(up.changes.create).toBe(preview.changes.create);
      expect((await deployer.history(stack))[0]?.message).toBe("ferry live suite: standby");
    } finally {
      // Staging disks are retained by design (retainOnDelete): point the config at a disposable resource group.
      await deployer.destroy(stack, { message: "ferry live suite: clean up" });
    }
  });
});
