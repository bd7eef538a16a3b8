import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseResourceId } from "../../../core/resource-id";
import { parseStackConfig, readStackFile, type LandingZoneConfig } from "../../../stacks/config";
import { planLandingZone } from "../../../stacks/landing-zone-plan";
import { planBlueprint } from "../../../stacks/plan";
import { tempDir } from "../../helpers/emulator";

/** The example stack files a user copies must stay valid: every `ferry:` key parses. */
describe("example stack files in stacks/", () => {
  const files = readdirSync("stacks").filter((f) => /^Pulumi\..+\.yaml$/.test(f));
  const subscriptionOf = (file: string) =>
    (load(readFileSync(`stacks/${file}`, "utf8")) as { config: Record<string, string> }).config[
      "azure-native:subscriptionId"
    ]!;

  /** The outputs the example landing zone's program would give its blueprints. */
  function landingZoneOutputsOf(stack: string) {
    const file = `Pulumi.${stack}.yaml`;
    const zone = parseStackConfig(readStackFile(`stacks/${file}`).raw, file) as LandingZoneConfig;
    const subnet = parseResourceId(zone.targetSubnetId);
    return {
      subscriptionId: subscriptionOf(file),
      location: zone.region,
      resourceGroupName: zone.resourceGroup,
      targetSubnetId: zone.targetSubnetId,
      testSubnetId: `/subscriptions/${subnet.subscriptionId}/resourceGroups/${subnet.resourceGroup}/providers/Microsoft.Network/virtualNetworks/${zone.testNetwork.name}/subnets/${zone.testNetwork.subnetName}`,
    };
  }

  it("include a landing zone and two blueprints", () => {
    expect(files.sort()).toEqual([
      "Pulumi.db-windows.yaml",
      "Pulumi.landing-zone-northeurope.yaml",
      "Pulumi.web-linux.yaml",
    ]);
  });

  for (const file of files) {
    it(`${file} parses and plans`, () => {
      const { stack, raw } = readStackFile(`stacks/${file}`);
      expect(file).toBe(`Pulumi.${stack}.yaml`);
      const config = parseStackConfig(raw, file);
      if (config.kind === "blueprint") {
        // Its landing zone is an example too, in the same subscription.
        const zone = landingZoneOutputsOf(config.landingZoneStack);
        expect(subscriptionOf(file)).toBe(zone.subscriptionId);
        const plan = planBlueprint(config.blueprint, zone, { mode: "standby" });
        expect(plan.staging.length).toBeGreaterThan(0);
        expect(plan.location).not.toBe(config.blueprint.rows[0]!.sourceRegion);
      } else {
        expect(config.sourceScopes.length).toBeGreaterThan(0);
        expect(planLandingZone(config, subscriptionOf(file)).resourceGroupId).toMatch(/\/resourceGroups\/dr-rg$/);
      }
    });
  }

  /**
   * The commented examples of optional keys: each block of consecutive commented YAML lines (`# key: …`, `#   - …`),
   * uncommented alone. A row that lists `nics` drops its own addresses, as the example's comment says to.
   */
  function commentedExamples(text: string): { first: string; text: string }[] {
    const lines = text.split("\n");
    const example = /^(\s*)# ((?:\s*- )?\s*[a-z][A-Za-z0-9]*:(?: .*)?)$/;
    const blocks: number[][] = [];
    lines.forEach((l, i) => {
      if (!example.test(l)) return;
      const last = blocks.at(-1);
      if (last && last.at(-1) === i - 1) last.push(i);
      else blocks.push([i]);
    });
    return blocks.map((b) => ({
      first: lines[b[0]!]!.trim(),
      text: lines.map((l, i) => (b.includes(i) ? l.replace(example, "$1$2") : l)).join("\n"),
    }));
  }

  for (const file of files.filter((f) => f !== "Pulumi.landing-zone-northeurope.yaml")) {
    it(`${file}: each commented example parses once uncommented`, () => {
      const examples = commentedExamples(readFileSync(`stacks/${file}`, "utf8"));
      expect(examples.map((e) => e.first)).toEqual(expect.arrayContaining(["# retention:", "# nics:"]));
      const dir = tempDir("ferry-stack-example-");
      for (const e of examples) {
        const path = join(dir, file);
        writeFileSync(path, e.text);
        const { raw } = readStackFile(path);
        const rows = (raw.blueprint as { rows: Record<string, unknown>[] }).rows;
        for (const r of rows)
          if (r.nics !== undefined) {
            delete r.privateIpAddress;
            delete r.testPrivateIpAddress;
          }
        expect(() => parseStackConfig(raw, file), `${file} with ${e.first} uncommented`).not.toThrow();
      }
    });
  }
});
