import type { AccessToken, TokenCredential } from "@azure/core-auth";
import {
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
export function staticTokenCredential(token = "ferry-local", options: StaticTokenCredentialOptions = {}): TokenCredential {
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
  /** Managed identity of this machine; `clientId` picks a user-assigned one. */
  | { kind: "managedIdentity"; clientId?: string }
  /** An app registration's secret, read from a Pulumi secret or Key Vault at the edge; never from plain config. */
  | { kind: "clientSecret"; tenantId: string; clientId: string; clientSecret: string };

/** A TokenCredential from @azure/identity for real Azure. */
export function azureCredential(options: AzureCredentialOptions): TokenCredential {
  switch (options.kind) {
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
