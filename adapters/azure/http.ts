import { Agent } from "node:https";
import { createSecureContext } from "node:tls";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import type { HttpClient, PipelineRequest } from "@azure/core-rest-pipeline";

/** Options for {@link createHttpClient}. */
export interface CreateHttpClientOptions {
  /**
   * PEM of a CA to trust for HTTPS, e.g. the local emulator's self-signed certificate.
   * Default: none, the system's trust store only (real Azure).
   */
  caCertPem?: string;
  /** The client that sends requests. Default: `createDefaultHttpClient()`. Tests pass a fake. */
  inner?: HttpClient;
}

/**
 * An HttpClient for every Azure SDK client of ferry. With `caCertPem`, HTTPS requests go
 * through one keep-alive agent that trusts that CA, so SDK clients reach the emulator without
 * NODE_EXTRA_CA_CERTS (which would have to be set before Node starts).
 */
export function createHttpClient(options: CreateHttpClientOptions = {}): HttpClient {
  const inner = options.inner ?? createDefaultHttpClient();
  if (options.caCertPem === undefined) return inner;
  // One secure context for every connection: an agent given `ca` alone parses the PEM again for each new one.
  const agent = new Agent({ secureContext: createSecureContext({ ca: options.caCertPem }), keepAlive: true });
  return {
    sendRequest(request: PipelineRequest) {
      // Plain http (Azurite) cannot use an https agent; an agent set by the caller wins.
      if (request.agent === undefined && request.url.startsWith("https:")) request.agent = agent;
      return inner.sendRequest(request);
    },
  };
}
