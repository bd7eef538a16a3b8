import { z } from "zod";
import { azureTableName } from "./fields";

/**
 * How a ferry process reaches Azure and the source-state table: shared by the sync daemon's config
 * and the ferry CLI's.
 */

export const AzureCredentialConfigSchema = z.discriminatedUnion("kind", [
  /** A managed identity (the default on Azure). */
  z.strictObject({ kind: z.literal("managedIdentity"), clientId: z.string().optional() }),
  /** The DefaultAzureCredential chain (workstations). */
  z.strictObject({ kind: z.literal("default"), clientId: z.string().optional(), tenantId: z.string().optional() }),
  /**
   * An Azure DevOps service connection with workload identity federation (ids default to the AzureCLI@2 task's
   * AZURESUBSCRIPTION_* variables).
   */
  z.strictObject({
    kind: z.literal("azurePipelines"),
    serviceConnectionId: z.string().optional(),
    clientId: z.string().optional(),
    tenantId: z.string().optional(),
  }),
  /** Workload identity federation from a token file (AKS, or AZURE_FEDERATED_TOKEN_FILE). */
  z.strictObject({
    kind: z.literal("workloadIdentity"),
    clientId: z.string().optional(),
    tenantId: z.string().optional(),
  }),
  /** Any bearer token: the local emulator only. */
  z.strictObject({ kind: z.literal("emulator") }),
]);

export const StateStoreConnectionSchema = z.discriminatedUnion("kind", [
  /** Azure Table storage signed in with the same identity as ARM (no keys). */
  z.strictObject({ kind: z.literal("identity"), url: z.url(), tableName: azureTableName }),
  /** A connection string read from this environment variable (Azurite locally). Never the string itself in a file. */
  z.strictObject({
    kind: z.literal("connectionStringEnv"),
    variable: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "is not an environment variable name"),
    tableName: azureTableName,
  }),
]);
export type StateStoreConnection = z.output<typeof StateStoreConnectionSchema>;

export const AzureConnectionSchema = z.strictObject({
  subscriptionId: z.guid(),
  /** Resource Manager endpoint. Default public Azure. */
  armEndpoint: z.url().optional(),
  /** A CA certificate (PEM file) to trust, for the local emulator. */
  caCertPath: z.string().optional(),
  credential: AzureCredentialConfigSchema.default({ kind: "managedIdentity" }),
  /** Polling interval of long-running operations, in milliseconds. Default 2000. */
  pollIntervalInMs: z.int().min(1).default(2000),
  /** The SDKs' own retries of throttled and failed requests. Default: 5 retries, 800 ms base delay, 60 s cap. */
  retry: z
    .strictObject({
      maxRetries: z.int().min(0).max(20).optional(),
      retryDelayInMs: z.int().min(1).optional(),
      maxRetryDelayInMs: z.int().min(1).optional(),
    })
    .optional(),
});
export type AzureConnection = z.output<typeof AzureConnectionSchema>;
