import { describe, expect, it } from "vitest";
import { sourceStoreClient } from "../../../adapters/state/store";
import { isUserError } from "../../../core/errors";
import { StateStoreConnectionSchema } from "../../../core/schemas/connection";
import { isAzureTableName } from "../../../core/schemas/fields";
import { LandingZoneConfigSchema } from "../../../stacks/config";
import { expectOneProblem } from "./fixtures";

describe("the Azure table-name rule", () => {
  it.each(["abc", "ferrySources", "T01", `a${"b".repeat(62)}`])("accepts %j", (name) => {
    expect(isAzureTableName(name)).toBe(true);
  });

  it.each(["T1", "1sources", "ferry-sources", "ferry_sources", `a${"b".repeat(63)}`, ""])("refuses %j", (name) => {
    expect(isAzureTableName(name)).toBe(false);
  });

  it("is the rule of ferry.json's state store", () => {
    expectOneProblem(
      StateStoreConnectionSchema,
      { kind: "connectionStringEnv", variable: "FERRY_TABLE", tableName: "ferry-sources" },
      "tableName",
      "is not a table name. Use 3-63 letters and digits, starting with a letter",
    );
  });

  it("is the rule of the landing zone's state store", () => {
    expectOneProblem(
      LandingZoneConfigSchema.shape.stateStore,
      { accountName: "ferrystate01", tableName: "1sources" },
      "tableName",
      "is not a table name. Use 3-63 letters and digits, starting with a letter",
    );
  });

  it("is the rule of the source store's client", () => {
    let thrown: unknown;
    try {
      sourceStoreClient({ connectionString: "UseDevelopmentStorage=true", tableName: "ferry-sources" });
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(
      '"ferry-sources" is not a valid Azure table name. Use 3-63 letters and digits, starting with a letter',
    );
  });
});
