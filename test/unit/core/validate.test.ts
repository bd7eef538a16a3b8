import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isUserError } from "../../../core/errors";
import { armResourceId } from "../../../core/schemas";
import { closest, formatIssuePath, parseWith } from "../../../core/validate";
import { problemsOf } from "./fixtures";

const Settings = z.strictObject({
  mode: z.enum(["standby", "failover", "failback"]),
  replicas: z.int().min(1).max(3),
  tags: z.array(z.string().min(1)),
  nested: z.strictObject({ enabled: z.boolean(), "x-header": z.string().optional() }),
});
const valid = () => ({ mode: "standby", replicas: 2, tags: ["a"], nested: { enabled: true } });

describe("parseWith", () => {
  it("returns the typed value when it is valid", () => {
    const settings = parseWith(Settings, valid());
    expect(settings.replicas).toBe(2);
  });

  it("throws a UserError with code InvalidConfig, the heading and the issues in details", () => {
    let error: unknown;
    try {
      parseWith(Settings, { ...valid(), mode: "active" }, { what: "stack config 'dr'" });
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    expect(error).toMatchObject({
      code: "InvalidConfig",
      message:
        'Invalid stack config \'dr\' (1 problem):\n  mode: "active" is not allowed. Use one of: "standby", "failover", "failback".',
      details: { what: "stack config 'dr'", issues: [{ path: "mode", code: "invalid_value" }] },
    });
  });

  it("names the configuration generically when no `what` is given", () => {
    expect(() => parseWith(Settings, null)).toThrow(
      /^Invalid configuration \(1 problem\):\n {2}\(root\): must be an object/,
    );
  });

  it.each([
    [
      "a missing field",
      { mode: undefined },
      "mode",
      'is missing. Add "mode" with one of: "standby", "failover", "failback".',
    ],
    ["a wrong type", { replicas: "2" }, "replicas", "must be a number, not a string. Change it to a number."],
    ["a number too large", { replicas: 4 }, "replicas", "is too large. Use a value of at most 3."],
    ["an empty string in a list", { tags: ["a", ""] }, "tags[1]", "must not be empty. Set a value."],
    ["a list given as a string", { tags: "a" }, "tags", "must be a list, not a string. Change it to a list."],
    [
      "a boolean given as a string",
      { nested: { enabled: "yes" } },
      "nested.enabled",
      "must be true or false, not a string. Change it to true or false.",
    ],
    [
      "a close unknown key",
      { replica: 1 },
      "replica",
      'is not a recognised key. Did you mean "replicas"? Allowed keys here: mode, replicas, tags, nested.',
    ],
    [
      "a far unknown key",
      { nested: { enabled: true, colour: "red" } },
      "nested.colour",
      "is not a recognised key. Remove it; allowed keys here: enabled, x-header.",
    ],
  ])("explains %s with a fix", (_, change, path, message) => {
    const problems = problemsOf(Settings, { ...valid(), ...change });
    expect(problems).toContainEqual(expect.objectContaining({ path, message }));
  });

  it("does not echo long values, which may be pasted secrets", () => {
    const secret = "sv=2024-01-01&sig=" + "A".repeat(60);
    const problems = problemsOf(Settings, { ...valid(), mode: secret });
    expect(JSON.stringify(problems)).not.toContain("AAAA");
    expect(problems[0]!.message).toContain("this value is not allowed");
  });

  it("lists every unknown key on its own line", () => {
    const problems = problemsOf(Settings, { ...valid(), a: 1, b: 2 });
    expect(problems.map((p) => p.path)).toEqual(["a", "b"]);
  });
});

describe("parseWith with unions and ARM ids", () => {
  it("reports the closest branch of a plain union at its full path", () => {
    const schema = z.strictObject({ u: z.union([z.string(), z.strictObject({ q: z.number() })]) });
    expect(problemsOf(schema, { u: { q: "1" } })).toEqual([
      { path: "u.q", code: "invalid_type", message: "must be a number, not a string. Change it to a number." },
    ]);
  });

  it("checks an ARM id's type with armResourceId and a default az hint", () => {
    const schema = z.strictObject({ vnet: armResourceId("Microsoft.Network/virtualNetworks") });
    const disk = `/subscriptions/${"1".repeat(8)}-1111-1111-1111-${"1".repeat(12)}/resourceGroups/rg/providers/Microsoft.Compute/disks/d`;
    expect(problemsOf(schema, { vnet: disk })).toEqual([
      {
        path: "vnet",
        code: "custom",
        message:
          "is the id of a Microsoft.Compute/disks, not of a Microsoft.Network/virtualNetworks. Use the form " +
          "/subscriptions/<subscription id>/resourceGroups/<resource group>/providers/Microsoft.Network/virtualNetworks/<name> " +
          "(`az resource list --resource-type Microsoft.Network/virtualNetworks --query [].id`).",
      },
    ]);
    const vnet = disk.replace("Microsoft.Compute/disks/d", "microsoft.network/VIRTUALNETWORKS/v");
    expect(parseWith(schema, { vnet }).vnet).toBe(vnet);
  });
});

describe("formatIssuePath", () => {
  it("writes indexes in brackets, identifiers with dots and other keys quoted", () => {
    expect(formatIssuePath(["rows", 0, "osDisk", "sourceDiskId"])).toBe("rows[0].osDisk.sourceDiskId");
    expect(formatIssuePath(["headers", "x-ms-date"])).toBe('headers["x-ms-date"]');
    expect(formatIssuePath([])).toBe("(root)");
  });
});

describe("closest", () => {
  it("finds case-only and small typos, not distant words", () => {
    expect(closest("linux", ["Linux", "Windows"])).toBe("Linux");
    expect(closest("sizeGib", ["sourceDiskId", "osType", "sizeGiB"])).toBe("sizeGiB");
    expect(closest("colour", ["enabled", "x-header"])).toBeUndefined();
  });
});
