import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePrecheckFacts } from "../../../policies/facts";
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

  it("ships an example config that the pack accepts for a failover of the fixture", async () => {
    const example = JSON.parse(readFileSync(join(policiesDir, "example-config.json"), "utf8")) as Record<
      string,
      { facts: unknown }
    >;
    expect(Object.keys(example).sort()).toEqual([...FACTS_POLICY_NAMES].sort());
    const facts = parsePrecheckFacts(example["ferry-failover-precheck-passed"]!.facts);
    const stack = { ...blueprintStack("failover"), config: example };
    const now = new Date(Date.parse(facts.checkedAt) + 60_000);
    for (const rule of createFerryPolicies({ now: () => now }))
      expect(await violationsOf(rule, stack), rule.name).toEqual([]);
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
