import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createFerryPolicies, FACTS_POLICY_NAMES, ferryPolicies, packConfigFromFacts } from "../../../policies/pack";
import { NOW, blueprintStack, violationsOf } from "./fixtures";

const policiesDir = join(import.meta.dirname, "../../../policies");

describe("the ferry policy pack", () => {
  it("lists every rule once, in a stable order, mandatory but the advisory one", () => {
    expect(ferryPolicies.map((p) => [p.name, p.enforcementLevel])).toEqual([
      ["ferry-failover-precheck-passed", "mandatory"],
      ["ferry-recovered-in-target-region", "mandatory"],
      ["ferry-no-public-ip", "mandatory"],
      ["ferry-disk-at-least-source-size", "mandatory"],
      ["ferry-test-never-attach-as-is", "mandatory"],
      ["ferry-test-staging-untouched", "mandatory"],
      ["ferry-required-tags", "mandatory"],
      ["ferry-windows-os-from-snapshot", "advisory"],
    ]);
    for (const p of ferryPolicies) expect(p.description).toMatch(/\.$/);
  });

  it("gives a config schema to every rule that reads the facts", () => {
    for (const name of FACTS_POLICY_NAMES) {
      expect(ferryPolicies.find((p) => p.name === name)?.configSchema?.properties.facts).toMatchObject({
        type: "object",
      });
    }
  });

  for (const mode of ["standby", "failover", "test", "failback"] as const) {
    it(`finds nothing wrong with what the program declares in mode ${mode}`, async () => {
      const stack = blueprintStack(mode);
      for (const rule of createFerryPolicies({ now: () => NOW }))
        expect(await violationsOf(rule, stack), rule.name).toEqual([]);
    });
  }

  it("hands the same facts to every rule that reads them", () => {
    const { facts } = blueprintStack("failover");
    expect(packConfigFromFacts(facts, { maxAgeMinutes: 15 })).toEqual({
      "ferry-failover-precheck-passed": { facts, maxAgeMinutes: 15 },
      "ferry-recovered-in-target-region": { facts },
      "ferry-disk-at-least-source-size": { facts },
    });
  });

  it("judges the gates that must stop creation as resource policies; only one stack policy", () => {
    const stackRules = ferryPolicies.filter((p) => "validateStack" in p).map((p) => p.name);
    expect(stackRules).toEqual(["ferry-test-staging-untouched"]);
    for (const name of ["ferry-failover-precheck-passed", "ferry-test-never-attach-as-is"])
      expect(ferryPolicies.find((p) => p.name === name)).toHaveProperty("validateResource");
  });

  it("ships no facts that pass: no JSON in the pack says passed true", () => {
    const json = readdirSync(policiesDir).filter((f) => f.endsWith(".json") && f !== "package.json");
    for (const f of json) expect(readFileSync(join(policiesDir, f), "utf8"), f).not.toMatch(/"passed"\s*:\s*true/);
  });

  it("builds the PolicyPack (which starts a gRPC server) only in index.ts, which nothing imports", () => {
    const files = [
      ...readdirSync(policiesDir),
      ...readdirSync(join(policiesDir, "rules")).map((f) => `rules/${f}`),
    ].filter((f) => f.endsWith(".ts"));
    const constructing = files.filter((f) => /new PolicyPack\(/.test(readFileSync(join(policiesDir, f), "utf8")));
    expect(constructing).toEqual(["index.ts"]);
    const importingIndex = files.filter((f) =>
      /from "(\.|\.\.|\.\/index|\.\.\/index)"/.test(readFileSync(join(policiesDir, f), "utf8")),
    );
    expect(importingIndex).toEqual([]);
  });
});
