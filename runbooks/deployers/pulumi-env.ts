import type { Logger } from "pino";
import { FederatedTokenFile, JOB_TOKEN_VARIABLE, type AzurePipelinesSignIn } from "../../adapters/azure/pipelines";

/**
 * What the Pulumi CLI, its `azblob://` backend and the azure-native provider get in their environment.
 *
 * The Automation API starts the CLI with this process's environment plus these variables, and a
 * variable cannot be removed that way, only emptied: the job's token is emptied here whatever this
 * process holds (ferry's entry point also takes it out of its own environment, see `takeJobToken`).
 *
 * In an Azure DevOps job the CLI signs in from a federated token file that ferry keeps fresh
 * ({@link FederatedTokenFile}): AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE are read by
 * the Azure SDK for Go's DefaultAzureCredential (WorkloadIdentityCredential, which re-reads the file as it
 * needs), which is what the `azblob://` backend uses and what the azure-native provider uses with
 * ARM_USE_DEFAULT_AZURE_CREDENTIAL. The provider's own OIDC settings (ARM_USE_OIDC with a request URL and
 * token) speak GitHub's protocol (GET, `{"value"}`), which the job's OIDC endpoint does not (POST,
 * `{"oidcToken"}`), and ARM_OIDC_TOKEN would be signed once and expire within minutes.
 */
export interface PulumiCliEnvOptions {
  /** The DR subscription (`azure.subscriptionId`), for the provider (ARM_SUBSCRIPTION_ID). */
  subscriptionId: string;
  /** The service connection and the file holding its federated token. Default: none (no pipeline). */
  federation?: { tenantId: string; clientId: string; tokenFilePath: string };
}

/** The `envVars` of the Pulumi deployer. */
export function pulumiCliEnv(options: PulumiCliEnvOptions): Record<string, string> {
  const env: Record<string, string> = { [JOB_TOKEN_VARIABLE]: "" };
  const f = options.federation;
  if (!f) return env;
  return {
    ...env,
    AZURE_CLIENT_ID: f.clientId,
    AZURE_TENANT_ID: f.tenantId,
    AZURE_FEDERATED_TOKEN_FILE: f.tokenFilePath,
    ARM_USE_DEFAULT_AZURE_CREDENTIAL: "true",
    ARM_CLIENT_ID: f.clientId,
    ARM_TENANT_ID: f.tenantId,
    ARM_SUBSCRIPTION_ID: options.subscriptionId,
  };
}

/** Options for {@link startPulumiSignIn}. */
export interface StartPulumiSignInOptions {
  subscriptionId: string;
  /** The service connection, in an Azure DevOps job; without it the CLI signs in as on a workstation. */
  signIn?: AzurePipelinesSignIn;
  logger: Logger;
}

/**
 * The Pulumi CLI's environment, with the federated token file started when in a job. The file is
 * refreshed until {@link close}, and removed then.
 */
export async function startPulumiSignIn(
  options: StartPulumiSignInOptions,
): Promise<{ envVars: Record<string, string>; close(): void }> {
  if (!options.signIn) return { envVars: pulumiCliEnv({ subscriptionId: options.subscriptionId }), close() {} };
  const file = await FederatedTokenFile.start(options.signIn, { logger: options.logger });
  const { tenantId, clientId } = options.signIn;
  return {
    envVars: pulumiCliEnv({
      subscriptionId: options.subscriptionId,
      federation: { tenantId, clientId, tokenFilePath: file.path },
    }),
    close: () => file.close(),
  };
}
