import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { UserError } from "../../core/errors";
import {
  AzurePipelinesCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} from "@azure/identity";

/** Options for {@link staticTokenCredential}. */
export interface StaticTokenCredentialOptions {
  /** Clock, in milliseconds since the epoch. Default: Date.now. */
  now?: () => number;
}

const oneHourInMs = 60 * 60 * 1000;

/**
 * A credential that always returns `token`, valid for an hour from each call. For the local
 * emulator, which accepts any bearer token; never for real Azure.
 */
export function staticTokenCredential(
  token = "ferry-local",
  options: StaticTokenCredentialOptions = {},
): TokenCredential {
  const now = options.now ?? Date.now;
  return {
    async getToken(): Promise<AccessToken> {
      return { token, expiresOnTimestamp: now() + oneHourInMs, tokenType: "Bearer" };
    },
  };
}

/** How ferry signs in to real Azure. */
export type AzureCredentialOptions =
  /** The usual chain (environment, workload identity, managed identity, Azure CLI...). */
  | { kind: "default"; clientId?: string; tenantId?: string }
  /**
   * Workload identity federation (Azure DevOps, AKS). Defaults: AZURE_CLIENT_ID, AZURE_TENANT_ID
   * and AZURE_FEDERATED_TOKEN_FILE from the environment.
   */
  | { kind: "workloadIdentity"; clientId?: string; tenantId?: string; tokenFilePath?: string }
  /**
   * An Azure DevOps service connection with workload identity federation. Its ids default to the
   * AZURESUBSCRIPTION_* variables the AzureCLI@2 task sets; the pipeline's token is always read
   * from SYSTEM_ACCESSTOKEN, never from config. Tokens are fetched afresh as they expire, so long
   * failovers outlive the first one.
   */
  | { kind: "azurePipelines"; serviceConnectionId?: string; clientId?: string; tenantId?: string }
  /** Managed identity of this machine; `clientId` picks a user-assigned one. */
  | { kind: "managedIdentity"; clientId?: string }
  /** An app registration's secret, read from a Pulumi secret or Key Vault at the edge; never from plain config. */
  | { kind: "clientSecret"; tenantId: string; clientId: string; clientSecret: string };

/** A TokenCredential from @azure/identity for real Azure. */
export function azureCredential(
  options: AzureCredentialOptions,
  env: NodeJS.ProcessEnv = process.env,
): TokenCredential {
  switch (options.kind) {
    case "azurePipelines": {
      const need = {
        serviceConnectionId: [
          options.serviceConnectionId ?? env.AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
          "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
        ],
        clientId: [options.clientId ?? env.AZURESUBSCRIPTION_CLIENT_ID, "AZURESUBSCRIPTION_CLIENT_ID"],
        tenantId: [options.tenantId ?? env.AZURESUBSCRIPTION_TENANT_ID, "AZURESUBSCRIPTION_TENANT_ID"],
        systemAccessToken: [env.SYSTEM_ACCESSTOKEN, "SYSTEM_ACCESSTOKEN"],
        // Read by the credential itself from the process's environment: set by Azure Pipelines.
        oidcRequestUri: [process.env.SYSTEM_OIDCREQUESTURI, "SYSTEM_OIDCREQUESTURI"],
      } as const;
      const missing = Object.values(need)
        .filter(([v]) => !v)
        .map(([, name]) => name);
      if (missing.length) {
        throw new UserError(
          `The azurePipelines credential needs ${missing.join(", ")}. Run ferry in an AzureCLI@2 task of the service connection and map SYSTEM_ACCESSTOKEN: $(System.AccessToken) into its env (see pipelines/README.md).`,
          { code: "InvalidConfig" },
        );
      }
      return new AzurePipelinesCredential(
        need.tenantId[0]!,
        need.clientId[0]!,
        need.serviceConnectionId[0]!,
        need.systemAccessToken[0]!,
      );
    }
    case "default":
      return new DefaultAzureCredential({
        ...(options.clientId !== undefined && {
          managedIdentityClientId: options.clientId,
          workloadIdentityClientId: options.clientId,
        }),
        ...(options.tenantId !== undefined && { tenantId: options.tenantId }),
      });
    case "workloadIdentity":
      return new WorkloadIdentityCredential({
        ...(options.clientId !== undefined && { clientId: options.clientId }),
        ...(options.tenantId !== undefined && { tenantId: options.tenantId }),
        ...(options.tokenFilePath !== undefined && { tokenFilePath: options.tokenFilePath }),
      });
    case "managedIdentity":
      return options.clientId === undefined
        ? new ManagedIdentityCredential()
        : new ManagedIdentityCredential({ clientId: options.clientId });
    case "clientSecret":
      return new ClientSecretCredential(options.tenantId, options.clientId, options.clientSecret);
  }
}
