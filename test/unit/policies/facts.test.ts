import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { checkPrecheckFacts, factsFromConfig, parsePrecheckFacts, PrecheckFactsSchema } from "../../../policies/facts";
import { expectOneProblem } from "../core/fixtures";
import { blueprintStack } from "./fixtures";

const facts = () => structuredClone(blueprintStack("failover").facts) as Record<string, any>;

describe("precheck facts", () => {
  it("parse as the precheck writes them", () => {
    expect(parsePrecheckFacts(facts())).toEqual(facts());
    const failed = facts();
    failed.passed = false;
    failed.problems = ["Source web1-os is degraded."];
    delete failed.operation;
    expect(parsePrecheckFacts(failed)).toEqual(failed);
  });

  it("name a missing field", () => {
    const raw = facts();
    delete raw.targetRegion;
    expectOneProblem(PrecheckFactsSchema, raw, "targetRegion", 'is missing. Add "targetRegion"');
  });

  it("take canonical region names only, with a hint", () => {
    const raw = facts();
    raw.sourceRegions = ["West Europe"];
    expectOneProblem(PrecheckFactsSchema, raw, "sourceRegions[0]", 'Did you mean "westeurope"?');
  });

  it("take only modes ferry knows", () => {
    const raw = facts();
    raw.mode = "drill";
    expectOneProblem(PrecheckFactsSchema, raw, "mode", '"drill" is not allowed', '"failover", "test"');
  });

  it("take subnet ids only as allowed subnets", () => {
    const raw = facts();
    raw.allowedSubnetIds = [raw.allowedSubnetIds[0].replace(/\/subnets\/app$/, "")];
    expectOneProblem(
      PrecheckFactsSchema,
      raw,
      "allowedSubnetIds[0]",
      "is the id of a Microsoft.Network/virtualNetworks, not of a Microsoft.Network/virtualNetworks/subnets",
    );
  });

  it("key recovery points by source disk id, valued by snapshot id", () => {
    const raw = facts();
    const [disk, snapshot] = Object.entries(raw.recoveryPoints)[0] as [string, string];
    raw.recoveryPoints = { [disk]: snapshot.replace("/snapshots/", "/disks/") };
    expectOneProblem(
      PrecheckFactsSchema,
      raw,
      `recoveryPoints["${disk}"]`,
      "is the id of a Microsoft.Compute/disks, not of a Microsoft.Compute/snapshots",
    );
    raw.recoveryPoints = { "web1-os": snapshot };
    expectOneProblem(
      PrecheckFactsSchema,
      raw,
      'recoveryPoints["web1-os"]',
      "key is not the ARM id of a Microsoft.Compute/disks",
    );
  });

  it("take whole, positive source sizes", () => {
    const raw = facts();
    const disk = Object.keys(raw.sourceSizesGiB)[0]!;
    raw.sourceSizesGiB[disk] = 0;
    expectOneProblem(PrecheckFactsSchema, raw, `sourceSizesGiB["${disk}"]`, "too small");
  });

  it("refuse unknown keys, with a suggestion", () => {
    const raw = { ...facts(), checkedat: "x" };
    expectOneProblem(PrecheckFactsSchema, raw, "checkedat", 'Did you mean "checkedAt"?');
  });

  it("parsePrecheckFacts throws a UserError listing every problem; checkPrecheckFacts returns them", () => {
    const raw = { ...facts(), passed: "yes", checkedAt: "today" };
    let thrown: unknown;
    try {
      parsePrecheckFacts(raw);
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(
      /^Invalid precheck facts \(2 problems\):\n {2}passed: must be true or false, not a string\. .*\n {2}checkedAt: is not an ISO 8601 date-time/,
    );
    const checked = checkPrecheckFacts(raw);
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(checked.problems.map((p) => p.path)).toEqual(["passed", "checkedAt"]);
      expect(checked.message).toContain("checkedAt: is not an ISO 8601 date-time. Use the form 2025-01-31T12:00:00Z.");
    }
  });

  it("are read from a rule's config: missing, invalid or valid", () => {
    expect(factsFromConfig({})).toEqual({ status: "missing" });
    expect(factsFromConfig(undefined)).toEqual({ status: "missing" });
    expect(factsFromConfig({ facts: null })).toEqual({ status: "missing" });
    expect(factsFromConfig({ facts: { ...facts(), passed: 1 } })).toMatchObject({
      status: "invalid",
      message: expect.stringContaining("passed: must be true or false"),
    });
    expect(factsFromConfig({ facts: facts() })).toEqual({ status: "ok", facts: facts() });
  });
});
