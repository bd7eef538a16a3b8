import { z } from "zod";
import { isSensitiveKey } from "../redact";
import { azureRegion, guid, resourceGroupName, subnetName, virtualNetworkName, vmSizeName } from "./fields";
import { evenWithFieldIssues, isRecord } from "./refine";

/** Identity for workload identity federation (pipelines, AKS): no secret anywhere. */
export const WorkloadIdentityCredentialsSchema = z.strictObject({
  kind: z.literal("workloadIdentity"),
  /** Application (client) id of the federated app registration. */
  clientId: guid,
});

/** Managed identity of the machine ferry runs on; `clientId` picks a user-assigned one. */
export const ManagedIdentityCredentialsSchema = z.strictObject({
  kind: z.literal("managedIdentity"),
  /** Client id of a user-assigned identity. Default: the system-assigned identity. */
  clientId: guid.optional(),
});

/** A client secret held as a Pulumi secret; config names the secret, never holds its value. */
export const PulumiSecretCredentialsSchema = z.strictObject({
  kind: z.literal("pulumiSecret"),
  clientId: guid,
  /** Name of the Pulumi secret config key, e.g. "drClientSecret" or "ferry:drClientSecret". */
  secretName: z
    .string()
    .regex(
      /^[A-Za-z][\w-]*(?::[A-Za-z][\w-]*)?$/,
      'is not a Pulumi config key. Use a key name such as "drClientSecret", set with `pulumi config set --secret drClientSecret`',
    ),
});

// Keys that would hold a secret value rather than name one ("secretName" is fine).
const plainSecretKey = /(secret|password|passphrase|privatekey|certificate|token)$/i;

const TargetCredentialsUnion = z.discriminatedUnion("kind", [
  WorkloadIdentityCredentialsSchema,
  ManagedIdentityCredentialsSchema,
  PulumiSecretCredentialsSchema,
]);

/**
 * How ferry signs in to the DR subscription. A plain secret value is refused outright, with a
 * message pointing at the safe alternatives, before the shape is checked.
 */
export const TargetCredentialsSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (!isRecord(value)) return;
    for (const key of Object.keys(value)) {
      if (isSensitiveKey(key) || plainSecretKey.test(key)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message:
            "holds a plain secret, which would end up in stack config and logs. Remove it: store the secret " +
            'as a Pulumi secret and use { kind: "pulumiSecret", clientId, secretName }, or use workload ' +
            'identity ({ kind: "workloadIdentity", clientId })',
        });
      }
    }
  })
  .pipe(TargetCredentialsUnion);
export type TargetCredentials = z.infer<typeof TargetCredentialsSchema>;

/** Where and how a blueprint fails over: the DR subscription, region and network. */
export const TargetSchema = z
  .strictObject({
    tenantId: guid,
    subscriptionId: guid,
    /** DR region, ARM spelling ("westeurope"). */
    region: azureRegion,
    /** Resource group for recovered disks, NICs and VMs. */
    resourceGroup: resourceGroupName,
    /** Resource group of the virtual networks below. */
    networkResourceGroup: resourceGroupName,
    virtualNetwork: virtualNetworkName,
    subnet: subnetName,
    /** Isolated network for test failovers (drills). Set together with `testSubnet`. */
    testVirtualNetwork: virtualNetworkName.optional(),
    testSubnet: subnetName.optional(),
    /** VM sizes rows may use in the DR region (checked against quota and availability by precheck). */
    vmSizes: z.array(vmSizeName).min(1),
    credentials: TargetCredentialsSchema,
  })
  .superRefine((target, ctx) => {
    const hasVnet = target.testVirtualNetwork !== undefined;
    const hasSubnet = target.testSubnet !== undefined;
    if (hasVnet !== hasSubnet) {
      const missing = hasVnet ? "testSubnet" : "testVirtualNetwork";
      ctx.addIssue({
        code: "custom",
        path: [missing],
        message: `is missing. Set testVirtualNetwork and testSubnet together, or neither`,
      });
    }
    if (
      typeof target.testVirtualNetwork === "string" &&
      typeof target.virtualNetwork === "string" &&
      target.testVirtualNetwork.toLowerCase() === target.virtualNetwork.toLowerCase()
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["testVirtualNetwork"],
        message:
          "is the production virtualNetwork. Drills must run in an isolated network: use a separate virtual network with no route to production",
      });
    }
  }, evenWithFieldIssues);
export type Target = z.infer<typeof TargetSchema>;
