import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
} from "@azure/core-rest-pipeline";
import type { Logger } from "pino";
import { FerryError } from "../../core/errors";
import { redactSecrets } from "../../core/redact";
import { JOB_TOKEN_VARIABLE } from "./job-token";

/**
 * Signing in from an Azure DevOps job through a service connection with workload identity federation.
 *
 * The job's OIDC endpoint (`System.OidcRequestUri`, SYSTEM_OIDCREQUESTURI) hands out a federated token for
 * a service connection to whoever holds the job's access token (`System.AccessToken`): POST
 * `<uri>?api-version=7.1&serviceConnectionId=<id>`, answer `{"oidcToken": "…"}` (what @azure/identity's
 * AzurePipelinesCredential does). Such a token lives about ten minutes, so a long job asks again as
 * needed, never signs in once (the AzureCLI@2 session cannot refresh: AADSTS700024, Azure/azure-cli#28708).
 */

export { JOB_TOKEN_VARIABLE, takeJobToken } from "./job-token";

/** What signing in through a service connection needs; see {@link azurePipelinesSignInFromEnv}. */
export interface AzurePipelinesSignIn {
  tenantId: string;
  clientId: string;
  serviceConnectionId: string;
  /** The job's OIDC endpoint (SYSTEM_OIDCREQUESTURI). */
  oidcRequestUri: string;
  /** The job's access token: never logged, never handed to a child process. */
  jobToken: string;
}

/** Ids given in ferry.json (`azure.credential`), each overriding its variable. */
export interface AzurePipelinesIds {
  serviceConnectionId?: string;
  clientId?: string;
  tenantId?: string;
}

/** What {@link azurePipelinesSignInFromEnv} reads, by variable; the ids are the ones the AzureCLI@2 task sets. */
const VARIABLES = {
  serviceConnectionId: "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
  clientId: "AZURESUBSCRIPTION_CLIENT_ID",
  tenantId: "AZURESUBSCRIPTION_TENANT_ID",
  jobToken: JOB_TOKEN_VARIABLE,
  oidcRequestUri: "SYSTEM_OIDCREQUESTURI",
} as const;

/**
 * The service connection's sign-in from a job's environment (ids in `ids` win over the variables), or the
 * names of the variables that are missing.
 */
export function azurePipelinesSignInFromEnv(
  env: NodeJS.ProcessEnv,
  ids: AzurePipelinesIds = {},
): { signIn: AzurePipelinesSignIn; missing?: undefined } | { signIn?: undefined; missing: string[] } {
  const values = {
    serviceConnectionId: ids.serviceConnectionId ?? env[VARIABLES.serviceConnectionId],
    clientId: ids.clientId ?? env[VARIABLES.clientId],
    tenantId: ids.tenantId ?? env[VARIABLES.tenantId],
    jobToken: env[VARIABLES.jobToken],
    oidcRequestUri: env[VARIABLES.oidcRequestUri],
  };
  const missing = (Object.keys(values) as (keyof typeof values)[]).filter((k) => !values[k]).map((k) => VARIABLES[k]);
  if (missing.length) return { missing };
  return { signIn: values as AzurePipelinesSignIn };
}

/** Options for {@link requestPipelineOidcToken}. */
export interface RequestPipelineOidcTokenOptions {
  /** Sends the request. Default: `createDefaultHttpClient()`; tests pass a fake. */
  httpClient?: HttpClient;
  /** Stops waiting. Default: none. */
  abortSignal?: AbortSignal;
}

const OIDC_API_VERSION = "7.1";

/**
 * A fresh federated token of the service connection from the job's OIDC endpoint. Throws a
 * {@link FerryError} "PipelineSignInFailed" (its message never carries the job's token) when the
 * endpoint refuses or answers without a token.
 */
export async function requestPipelineOidcToken(
  signIn: AzurePipelinesSignIn,
  options: RequestPipelineOidcTokenOptions = {},
): Promise<string> {
  const url =
    `${signIn.oidcRequestUri}?api-version=${OIDC_API_VERSION}` +
    `&serviceConnectionId=${encodeURIComponent(signIn.serviceConnectionId)}`;
  const request = createPipelineRequest({
    url,
    method: "POST",
    headers: createHttpHeaders({
      "Content-Type": "application/json",
      Authorization: `Bearer ${signIn.jobToken}`,
      // Without it the service may answer a sign-in redirect instead of an error.
      "X-TFS-FedAuthRedirect": "Suppress",
    }),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  const fail = (why: string, cause?: unknown) =>
    new FerryError(
      `The pipeline's OIDC endpoint gave no token for service connection ${signIn.serviceConnectionId}: ${why}. ` +
        'Check that the connection uses workload identity federation and that the pipeline may use it ("Approve and ' +
        'permit" on its first run), and that the step maps SYSTEM_ACCESSTOKEN: $(System.AccessToken).',
      { code: "PipelineSignInFailed", ...(cause === undefined ? {} : { cause }) },
    );
  let status: number;
  let body: string;
  try {
    const response = await (options.httpClient ?? createDefaultHttpClient()).sendRequest(request);
    status = response.status;
    body = response.bodyAsText ?? "";
  } catch (e) {
    throw fail(redactSecrets((e as Error).message ?? String(e)));
  }
  let token: unknown;
  try {
    token = (JSON.parse(body) as { oidcToken?: unknown }).oidcToken;
  } catch {
    token = undefined;
  }
  if (status < 200 || status > 299 || typeof token !== "string" || !token) {
    // The body is the service's error, never the request: it cannot echo the job's token, but is scrubbed anyway.
    throw fail(`HTTP ${status}${body ? `, ${redactSecrets(body.slice(0, 300))}` : ""}`);
  }
  return token;
}

/** Options for {@link FederatedTokenFile.start}. */
export interface FederatedTokenFileOptions {
  /**
   * How often the file gets a fresh token, in milliseconds. Default: 60000. The job's tokens live about
   * ten minutes and Azure's SDKs re-read the file at most every ten (Go's WorkloadIdentityCredential), so
   * the file must always hold a token only a minute or so old.
   */
  refreshIntervalInMs?: number;
  /** Sends the requests to the OIDC endpoint. Default: `createDefaultHttpClient()`. */
  httpClient?: HttpClient;
  /** Where refresh failures are reported (the file keeps its last token). */
  logger: Logger;
  /** Folder the file's private folder is made in. Default: the system's temporary folder. */
  parentDir?: string;
}

/**
 * A file that always holds a fresh federated token of the service connection, for child processes that
 * sign in by workload identity federation from a token file (AZURE_FEDERATED_TOKEN_FILE): the Pulumi CLI's
 * `azblob://` backend and the azure-native provider (`useDefaultAzureCredential`). They get a token that
 * is good for minutes and for this service connection only, never the job's access token, which could
 * mint such tokens for any connection of the pipeline for the whole job.
 */
export class FederatedTokenFile {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    /** The file (mode 0600, in a folder of its own, mode 0700). */
    readonly path: string,
    private readonly dir: string,
  ) {}

  /** Writes the first token (throws as {@link requestPipelineOidcToken} does), then refreshes it until closed. */
  static async start(signIn: AzurePipelinesSignIn, options: FederatedTokenFileOptions): Promise<FederatedTokenFile> {
    const dir = mkdtempSync(join(options.parentDir ?? tmpdir(), "ferry-federation-"));
    const file = new FederatedTokenFile(join(dir, "token"), dir);
    const request = options.httpClient ? { httpClient: options.httpClient } : {};
    try {
      file.write(await requestPipelineOidcToken(signIn, request));
    } catch (e) {
      file.close();
      throw e;
    }
    const log = options.logger.child({ component: "federated-token-file" });
    file.timer = setInterval(() => {
      requestPipelineOidcToken(signIn, request).then(
        (token) => file.write(token),
        (err: unknown) => log.warn({ err }, "could not refresh the federated token; the file keeps the last one"),
      );
    }, options.refreshIntervalInMs ?? 60_000);
    // The refresh never keeps the process alive by itself.
    file.timer.unref();
    return file;
  }

  private write(token: string): void {
    // A refresh that was in flight when the file was closed writes nothing.
    if (this.closed) return;
    // Replaced whole: a reader never sees half a token.
    const next = `${this.path}.next`;
    writeFileSync(next, token, { mode: 0o600 });
    renameSync(next, this.path);
  }

  /** Stops refreshing and removes the file. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
