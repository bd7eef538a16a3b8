import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { FerryConfigSchema } from "../../../runbooks/config";
import { createContext } from "../../../runbooks/context";

const config = (deployer: unknown) =>
  FerryConfigSchema.parse({
    azure: { subscriptionId: "00000000-0000-0000-0000-000000000001", credential: { kind: "default" } },
    stateStore: { kind: "identity", url: "https://ferrystate.table.core.windows.net", tableName: "ferrySources" },
    deployer,
    landingZoneStack: "landing-zone-northeurope",
  });

describe("createContext", () => {
  it("refuses the local harness's deployer in the product CLI, before opening anything", async () => {
    const refused = await createContext(config({ kind: "local" })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUserError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: "LocalDeployerOutsideHarness" });
    expect((refused as Error).message).toMatch(/"kind": "pulumi"/);
  });
});
