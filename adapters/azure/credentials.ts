import type { AccessToken, TokenCredential } from "@azure/core-auth";
import type { HttpClient } from "@azure/core-rest-pipeline";
import { UserError } from "../../core/errors";
import { redactDeep } from "../../core/redact";
import { azurePipelinesSignInFromEnv, type AzurePipelinesSignIn } from "./pipelines";
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
  /**
   * In an Azure DevOps job that runs ferry through a service connection (the environment has the
   * AZURESUBSCRIPTION_* ids the AzureCLI@2 task sets, SYSTEM_OIDCREQUESTURI and SYSTEM_ACCESSTOKEN), that
   * connection's workload identity federation, as `azurePipelines`; anywhere else the usual chain
   * (environment, workload identity, managed identity, Azure CLI...).
   */
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

/** Options for {@link azureCredential} that are not part of the configuration. */
export interface AzureCredentialClientOptions {
  /** Sends the credential's requests (the pipeline's OIDC endpoint, Entra ID). Default: the SDK's own. */
  httpClient?: HttpClient;
}

/**
 * The service connection's sign-in when `options` and the environment call for one: kind
 * `azurePipelines`, or kind `default` in a job whose environment has every variable the connection needs.
 * Throws a {@link UserError} naming what is missing for an explicit `azurePipelines`.
 */
export function pipelineSignInFor(
  options: AzureCredentialOptions,
  env: NodeJS.ProcessEnv = process.env,
): AzurePipelinesSignIn | undefined {
  if (options.kind !== "azurePipelines" && options.kind !== "default") return undefined;
  const ids = options.kind === "azurePipelines" ? options : {};
  const found = azurePipelinesSignInFromEnv(env, ids);
  if (found.signIn) return found.signIn;
  if (options.kind === "default") return undefined;
  throw new UserError(
    `The azurePipelines credential needs ${found.missing.join(", ")}. Run ferry in an AzureCLI@2 task of the ` +
      "service connection and map SYSTEM_ACCESSTOKEN: $(System.AccessToken) into its env (see pipelines/README.md).",
    { code: "InvalidConfig" },
  );
}

/**
 * A TokenCredential from @azure/identity for real Azure. In an Azure DevOps job (see
 * {@link AzureCredentialOptions}) it asks the job's OIDC endpoint for a fresh federated token each time
 * it needs a new access token, so a job of many hours keeps signing in; what it throws is scrubbed of
 * tokens first, since the SDK's errors may quote the request that carried the job's token.
 */
export function azureCredential(
  options: AzureCredentialOptions,
  env: NodeJS.ProcessEnv = process.env,
  clientOptions: AzureCredentialClientOptions = {},
): TokenCredential {
  const signIn = pipelineSignInFor(options, env);
  if (signIn) {
    // The SDK reads the endpoint from this process's environment itself: it must be there, not only in `env`.
    if (!process.env.SYSTEM_OIDCREQUESTURI) {
      throw new UserError(
        "The azurePipelines credential needs SYSTEM_OIDCREQUESTURI in the environment of the ferry process. Run " +
          "ferry in an Azure DevOps job (see pipelines/README.md).",
        { code: "InvalidConfig" },
      );
    }
    return redactingCredential(
      new AzurePipelinesCredential(
        signIn.tenantId,
        signIn.clientId,
        signIn.serviceConnectionId,
        signIn.jobToken,
        clientOptions.httpClient ? { httpClient: clientOptions.httpClient } : {},
      ),
    );
  }
  switch (options.kind) {
    case "azurePipelines":
      throw new Error("unreachable: pipelineSignInFor throws for azurePipelines without a sign-in");
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

/**
 * `inner`, with whatever it throws scrubbed by {@link redactDeep}: AzurePipelinesCredential quotes the
 * whole failed response, request headers included, in its error when the OIDC endpoint answers
 * without a token, and errors end up in logs and in the state store.
 */
function redactingCredential(inner: TokenCredential): TokenCredential {
  return {
    async getToken(scopes, options) {
      try {
        return await inner.getToken(scopes, options);
      } catch (e) {
        throw redactDeep(e);
      }
    },
  };
}
