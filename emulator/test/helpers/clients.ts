import { Agent } from "node:https";
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import { ResourceManagementClient } from "@azure/arm-resources";
import type { TokenCredential } from "@azure/core-auth";
import { createDefaultHttpClient, type HttpClient } from "@azure/core-rest-pipeline";
import { AnonymousCredential, newPipeline, PageBlobClient, type RequestPolicyFactory } from "@azure/storage-blob";
import type { RunningEmulator } from "../../index";

/** The unmodified Azure SDK clients, pointed at one emulator. */
export interface EmulatorClients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  resources: ResourceManagementClient;
  /** A page-blob client for a disk or snapshot SAS URL; the SAS is the credential. */
  pageBlob(sasUrl: string): PageBlobClient;
}

/** The SDKs' own retry policies, for every client of the bundle. */
export interface EmulatorRetryOptions {
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** Base of the exponential backoff, in milliseconds. Default 20. */
  retryDelayInMs?: number;
  /** Upper bound of one backoff delay, in milliseconds. Default 200. */
  maxRetryDelayInMs?: number;
}

/** The emulator takes any bearer token. */
const anyToken: TokenCredential = {
  getToken: async () => ({ token: "emulator", expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" }),
};

/**
 * Builds the SDK clients against `emu.endpoint`, trusting its CA through one HTTPS agent (the
 * in-process way: NODE_EXTRA_CA_CERTS would have to be set before Node starts). Short retries by
 * default, so a test does not wait out Azure's backoff.
 */
export function clientsFor(emu: RunningEmulator, retryOptions: EmulatorRetryOptions = {}): EmulatorClients {
  const retry = {
    maxRetries: retryOptions.maxRetries ?? 3,
    retryDelayInMs: retryOptions.retryDelayInMs ?? 20,
    maxRetryDelayInMs: retryOptions.maxRetryDelayInMs ?? 200,
  };
  const agent = new Agent({ ca: emu.caCertPem, keepAlive: true });
  const inner = createDefaultHttpClient();
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      request.agent ??= agent;
      return inner.sendRequest(request);
    },
  };
  // The token audience follows the endpoint; the clients would otherwise ask for public Azure's.
  const scopes = [`${emu.endpoint}/.default`];
  // arm-compute is a modular client (endpoint, credentials.scopes); network and resources are
  // core-client clients (endpoint and $host, credentialScopes).
  const compute = new ComputeManagementClient(anyToken, emu.subscriptionId, {
    endpoint: emu.endpoint,
    credentials: { scopes },
    httpClient,
    retryOptions: retry,
  });
  const armOptions = { endpoint: emu.endpoint, $host: emu.endpoint, credentialScopes: scopes, httpClient };
  const network = new NetworkManagementClient(anyToken, emu.subscriptionId, { ...armOptions, retryOptions: retry });
  const resources = new ResourceManagementClient(anyToken, emu.subscriptionId, { ...armOptions, retryOptions: retry });

  // Storage takes the older request-policy pipeline; a policy of its own sets the agent on each request.
  const trustEmulator: RequestPolicyFactory = {
    create: (next) => ({
      sendRequest: (request) => {
        request.agent ??= agent;
        return next.sendRequest(request);
      },
    }),
  };
  const storageRetry = {
    maxTries: retry.maxRetries + 1,
    retryDelayInMs: retry.retryDelayInMs,
    maxRetryDelayInMs: retry.maxRetryDelayInMs,
  };
  const pageBlob = (sasUrl: string) => {
    const pipeline = newPipeline(new AnonymousCredential(), { retryOptions: storageRetry });
    pipeline.factories.push(trustEmulator);
    return new PageBlobClient(sasUrl, pipeline);
  };

  return { compute, network, resources, pageBlob };
}
