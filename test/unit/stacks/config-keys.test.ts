import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CONFIG_KEYS, configKeysOf, parseStackConfig, readStackFile } from "../../../stacks/config";

describe("the ferry: keys of a stack file, from the schemas", () => {
  it("are every key of both stack kinds, each a string or a structure as its schema says", () => {
    expect(CONFIG_KEYS).toEqual({
      kind: "string",
      region: "string",
      resourceGroup: "string",
      targetSubnetId: "string",
      testNetwork: "object",
      stateStore: "object",
      appliance: "object",
      sourceScopes: "object",
      snapshotResourceGroups: "object",
      landingZoneStack: "string",
      blueprint: "object",
      stagingSku: "string",
    });
  });

  it("see through defaults, optionality and refinements to the value's own shape", () => {
    const schema = z.discriminatedUnion("kind", [
      z.strictObject({
        kind: z.literal("a"),
        name: z.string().regex(/^x/).default("x1"),
        size: z.enum(["s", "m"]).optional(),
        count: z.number().default(1),
        list: z.array(z.string()).prefault([]),
      }),
      z.strictObject({ kind: z.literal("b"), name: z.string().refine((s) => s.length > 1) }),
    ]);
    expect(configKeysOf(schema)).toEqual({
      kind: "string",
      name: "string",
      size: "string",
      count: "object",
      list: "object",
    });
  });

  it("refuse a key that two kinds read in different shapes", () => {
    const schema = z.discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("a"), scope: z.string() }),
      z.strictObject({ kind: z.literal("b"), scope: z.array(z.string()) }),
    ]);
    expect(() => configKeysOf(schema)).toThrow(
      /ferry:scope is read as string in one stack kind and as object in another/,
    );
  });

  it("decide how a stack file's values are read: JSON in a string for a structure, a string as it is", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-stack-file-"));
    const file = join(dir, "Pulumi.web.yaml");
    writeFileSync(
      file,
      [
        "config:",
        `  ferry:blueprint: '{"a": {"b": 1}}'`,
        `  ferry:landingZoneStack: '{"op": 7}'`,
        "  other:key: x",
        "",
      ].join("\n"),
    );
    expect(readStackFile(file)).toEqual({
      stack: "web",
      raw: { blueprint: { a: { b: 1 } }, landingZoneStack: '{"op": 7}' },
    });
  });
});

describe("a stack file holding what now lives in the state store", () => {
  it("is refused, naming the keys, where they live now, and how to delete them", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-stack-file-"));
    const file = join(dir, "Pulumi.web.yaml");
    writeFileSync(
      file,
      ["config:", "  ferry:kind: blueprint", "  ferry:mode: failover", "  ferry:operation: op-1", ""].join("\n"),
    );
    const { stack, raw } = readStackFile(file);
    let error: unknown;
    try {
      parseStackConfig(raw, stack);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "RetiredConfigKey", details: { keys: ["mode", "operation"] } });
    expect((error as Error).message).toBe(
      "Stack web holds ferry:mode, ferry:operation: the mode, recovery points and operation of a blueprint now " +
        "live in the state store, where the runbooks record them and the program reads them. Delete those keys " +
        "from stacks/Pulumi.web.yaml (pulumi config rm ferry:mode ferry:operation -s web).",
    );
  });
});
