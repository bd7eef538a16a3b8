import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { assertSameLandingZone, landingZone } from "../../../runbooks/blueprints";
import { FerryConfigSchema } from "../../../runbooks/config";
import { subscriptionId, validLandingZoneOutputs } from "../core/fixtures";

const LZ = "landing-zone-northeurope";

/** ferry.json with an identity's state store, as against Azure. */
function ferryJson(overrides: { subscriptionId?: string; url?: string; tableName?: string } = {}) {
  return FerryConfigSchema.parse({
    azure: { subscriptionId: overrides.subscriptionId ?? subscriptionId },
    stateStore: {
      kind: "identity",
      url: overrides.url ?? "https://FERRYSTATE01.table.core.windows.net/",
      tableName: overrides.tableName ?? "ferrysources",
    },
    landingZoneStack: LZ,
  });
}

/** The runbooks' view of the landing zone: its stack's outputs, as a deployer returns them. */
const read = (
  config: ReturnType<typeof ferryJson>,
  outputs: Record<string, unknown> = validLandingZoneOutputs() as Record<string, unknown>,
) => landingZone({ config, deployer: { outputs: (stack) => Promise.resolve(stack === LZ ? outputs : {}) } });

async function refusal(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
  } catch (e) {
    expect(isUserError(e)).toBe(true);
    return e as { code: string; message: string };
  }
  throw new Error("expected a refusal");
}

describe("the runbooks' landing zone", () => {
  it("is read from the outputs of the stack ferry.json names, the same table whatever the case", async () => {
    const zone = await read(ferryJson());
    expect(zone).toMatchObject({ subscriptionId, location: "northeurope", resourceGroupName: "dr-rg" });
    expect(zone.applianceId).toMatch(/\/virtualMachines\/ferry-appliance$/);
  });

  it("is refused when ferry.json's subscription is not the landing zone's, naming both", async () => {
    const other = "44444444-4444-4444-4444-444444444444";
    const e = await refusal(read(ferryJson({ subscriptionId: other })));
    expect(e.code).toBe("SubscriptionMismatch");
    expect(e.message).toContain(
      `ferry.json's azure.subscriptionId is ${other}, but the landing-zone stack ${LZ} is in ${subscriptionId} ` +
        "(that stack's azure-native:subscriptionId)",
    );
  });

  it("is refused when ferry.json's state store is another table than the landing zone's, naming both", async () => {
    const e = await refusal(read(ferryJson({ tableName: "otherSources" })));
    expect(e.code).toBe("StateStoreMismatch");
    expect(e.message).toContain(
      `ferry.json's stateStore is table otherSources at https://FERRYSTATE01.table.core.windows.net/, but the ` +
        `landing-zone stack ${LZ}'s is ferrySources at https://ferrystate01.table.core.windows.net (its ferry:stateStore)`,
    );
  });

  it("is refused when the landing zone is not deployed", async () => {
    const e = await refusal(read(ferryJson(), {}));
    expect(e).toMatchObject({
      code: "NoLandingZone",
      message: expect.stringContaining(`pulumi up -s ${LZ}`) as string,
    });
  });
});

describe("a blueprint's landing zone", () => {
  it("must be the one ferry.json names: a mismatch names both places", () => {
    let thrown: unknown;
    try {
      assertSameLandingZone({ config: ferryJson() }, "web", "landing-zone-westus");
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(
      /^Stack web fails over into the landing zone landing-zone-westus \(its ferry:landingZoneStack\), but ferry\.json's landingZoneStack is landing-zone-northeurope/,
    );
    expect(() => assertSameLandingZone({ config: ferryJson() }, "web", LZ)).not.toThrow();
  });
});
