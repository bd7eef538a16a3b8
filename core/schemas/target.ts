import { z } from "zod";
import { vmSizeName } from "./fields";
import { isRecord } from "./refine";

const FROM_LANDING_ZONE =
  "is the landing zone's now: the blueprint stack reads it from the landing-zone stack its " +
  "ferry:landingZoneStack names. Remove it";

/**
 * Keys a target held before each of them got one source, with where it is now: an old stack file
 * is told what to do, not only that the key is unknown.
 */
const MOVED_KEYS: Record<string, string> = {
  subscriptionId:
    "is the stack's azure-native:subscriptionId now (checked against the landing zone's subscription). Remove it",
  tenantId:
    "is not used: the runbooks sign in with ferry.json's azure.credential, Pulumi with its azure-native " +
    "provider's configuration. Remove it",
  credentials:
    "is not used: the runbooks sign in with ferry.json's azure.credential, Pulumi with its azure-native " +
    "provider's configuration. Remove it",
  region: FROM_LANDING_ZONE,
  resourceGroup: FROM_LANDING_ZONE,
  networkResourceGroup: FROM_LANDING_ZONE,
  virtualNetwork: FROM_LANDING_ZONE,
  subnet: FROM_LANDING_ZONE,
  testVirtualNetwork: FROM_LANDING_ZONE,
  testSubnet: FROM_LANDING_ZONE,
};

/**
 * What a blueprint decides about its DR side: the VM sizes its rows may use. Where it fails over —
 * subscription, region, resource group, networks — is its landing zone's ({@link LandingZoneOutputs}).
 */
export const TargetSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (!isRecord(value)) return;
    for (const key of Object.keys(value)) {
      const moved = MOVED_KEYS[key];
      if (moved !== undefined) ctx.addIssue({ code: "custom", path: [key], message: moved });
    }
  })
  .pipe(
    z.strictObject({
      /** VM sizes rows may use in the DR region (checked against quota and availability by precheck). */
      vmSizes: z.array(vmSizeName).min(1),
    }),
  );
export type Target = z.infer<typeof TargetSchema>;
