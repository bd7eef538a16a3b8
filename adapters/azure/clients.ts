import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import { ResourceManagementClient } from "@azure/arm-resources";
import type { TokenCredential } from "@azure/core-auth";
import type { HttpClient } from "@azure/core-rest-pipeline";
import { AnonymousCredential, PageBlobClient, newPipeline } from "@azure/storage-blob";
import { defaultRetryOptions } from "../../core/retry";
import { createHttpClient } from "./http";
import { toStorageHttpClient } from "./storage-http-client";

/** Public Azure's Resource Manager endpoint. */
export const defaultArmEndpoint = "https://management.azure.com";

/** Retry settings handed to the SDKs' own retry policies (ferry does not retry around them). */
export interface AzureRetryOptions {
  /** Retries after the first attempt. Default: 5. */
  maxRetries?: number;
  /** Base of the exponential backoff, in milliseconds. Default: 800. */
  retryDelayInMs?: number;
  /** Upper bound of one backoff delay, in milliseconds. Default: 60000. */
  maxRetryDelayInMs?: number;
}

/** Options for {@link createAzureClients}. */
export interface AzureClientsOptions {
  /** Subscription the ARM clients work in. */
  subscriptionId: string;
  /** Signs ARM requests: `azureCredential()` for Azure, `staticTokenCredential()` for the emulator. */
  credential: TokenCredential;
  /** Resource Manager endpoint, e.g. the emulator's "https://127.0.0.1:8443". Default: "https://management.azure.com". */
  armEndpoint?: string;
  /** PEM of a CA to trust (the emulator's certificate). Default: none, system trust only. */
  caCertPem?: string;
  /** Default: 5 retries, 800 ms base delay, 60000 ms cap. */
  retryOptions?: AzureRetryOptions;
  /** Sends every request. Default: `createHttpClient({ caCertPem })`; tests pass a fake. */
  httpClient?: HttpClient;
  /**
   * Put first in the User-Agent of every request (`ferry`, `ferry-sync`): who called shows in Azure's activity logs.
   */
  userAgentPrefix?: string;
}

/** The Azure clients ferry uses, all on one HttpClient. */
export interface AzureClients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  resources: ResourceManagementClient;
  /** A page-blob client for a disk or snapshot SAS URL (from grant access); the SAS is the credential. */
  pageBlob(sasUrl: string): PageBlobClient;
  subscriptionId: string;
  /** Without a trailing slash. */
  armEndpoint: string;
  /** What signs the ARM requests (for a report to say who signed in; never to log a token). */
  credential: TokenCredential;
}

/** Builds the ARM and data-plane clients for real Azure or the local emulator. */
export function createAzureClients(options: AzureClientsOptions): AzureClients {
  const armEndpoint = (options.armEndpoint ?? defaultArmEndpoint).replace(/\/+$/, "");
  const httpClient =
    options.httpClient ?? createHttpClient(options.caCertPem === undefined ? {} : { caCertPem: options.caCertPem });
  const retryOptions = {
    maxRetries: options.retryOptions?.maxRetries ?? defaultRetryOptions.maxRetries,
    retryDelayInMs: options.retryOptions?.retryDelayInMs ?? defaultRetryOptions.retryDelayInMs,
    maxRetryDelayInMs: options.retryOptions?.maxRetryDelayInMs ?? defaultRetryOptions.maxRetryDelayInMs,
  };
  // The token audience follows the endpoint; the clients would otherwise ask for public Azure's.
  const scopes = [`${armEndpoint}/.default`];
  const { credential, subscriptionId } = options;
  const userAgentOptions = options.userAgentPrefix ? { userAgentPrefix: options.userAgentPrefix } : undefined;

  // arm-compute v24 is the modular client (@azure-rest/core-client options: endpoint, credentials.scopes).
  const compute = new ComputeManagementClient(credential, subscriptionId, {
    endpoint: armEndpoint,
    credentials: { scopes },
    httpClient,
    retryOptions,
    ...(userAgentOptions ? { userAgentOptions } : {}),
  });
  // arm-network and arm-resources are core-client clients: endpoint (their $host too) and credentialScopes.
  const coreClientOptions = {
    endpoint: armEndpoint,
    $host: armEndpoint,
    credentialScopes: scopes,
    httpClient,
    retryOptions,
    ...(userAgentOptions ? { userAgentOptions } : {}),
  };
  const network = new NetworkManagementClient(credential, subscriptionId, coreClientOptions);
  const resources = new ResourceManagementClient(credential, subscriptionId, coreClientOptions);

  const storageHttpClient = toStorageHttpClient(httpClient);
  const storageRetryOptions = {
    maxTries: retryOptions.maxRetries + 1,
    retryDelayInMs: retryOptions.retryDelayInMs,
    maxRetryDelayInMs: retryOptions.maxRetryDelayInMs,
  };
  const pageBlob = (sasUrl: string) =>
    new PageBlobClient(
      sasUrl,
      newPipeline(new AnonymousCredential(), {
        httpClient: storageHttpClient,
        retryOptions: storageRetryOptions,
        ...(userAgentOptions ? { userAgentOptions } : {}),
      }),
    );

  return { compute, network, resources, pageBlob, subscriptionId, armEndpoint, credential };
}
