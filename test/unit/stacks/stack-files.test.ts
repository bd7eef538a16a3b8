import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseStackConfig, readStackFile } from "../../../stacks/config";
import { planBlueprint } from "../../../stacks/plan";

/** The example stack files a user copies must stay valid: every `ferry:` key parses. */
describe("example stack files in stacks/", () => {
  const files = readdirSync("stacks").filter((f) => /^Pulumi\..+\.yaml$/.test(f));

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
        const plan = planBlueprint(config.blueprint, { mode: config.mode });
        expect(plan.staging.length).toBeGreaterThan(0);
        expect(plan.location).not.toBe(config.blueprint.rows[0]!.sourceRegion);
      } else {
        expect(config.sourceScopes.length).toBeGreaterThan(0);
      }
    });
  }
});
