import { Agent } from "node:https";
import type { SecureContext } from "node:tls";
import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import type { HttpClient, PipelineRequest } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { createHttpClient } from "../../../adapters/azure/http";

function recordingClient(
  respond: (request: PipelineRequest) => {
    status?: number;
    headers?: Record<string, string>;
    body?: string;
  } = () => ({}),
) {
  const requests: PipelineRequest[] = [];
  const client: HttpClient = {
    async sendRequest(request) {
      requests.push(request);
      const { status = 200, headers = {}, body } = respond(request);
      return { request, status, headers: createHttpHeaders(headers), bodyAsText: body };
    },
  };
  return { client, requests };
}

const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("createHttpClient", () => {
  it("gives HTTPS requests one keep-alive agent that trusts the CA", async () => {
    const { client, requests } = recordingClient();
    const http = createHttpClient({ caCertPem: pem, inner: client });
    await http.sendRequest(createPipelineRequest({ url: "https://127.0.0.1:8443/a" }));
    await http.sendRequest(createPipelineRequest({ url: "https://127.0.0.1:8443/b" }));
    const [first, second] = requests;
    expect(first!.agent).toBeInstanceOf(Agent);
    expect(second!.agent).toBe(first!.agent);
    // The CA is in one secure context that every connection shares (every integration test's TLS goes through it).
    const options = (first!.agent as Agent & { options: { secureContext?: SecureContext; keepAlive?: boolean } })
      .options;
    expect(options.secureContext?.context).toBeDefined();
    expect(options.keepAlive).toBe(true);
  });

  it("leaves plain-HTTP requests and caller-chosen agents alone", async () => {
    const { client, requests } = recordingClient();
    const http = createHttpClient({ caCertPem: pem, inner: client });
    const own = new Agent();
    await http.sendRequest(createPipelineRequest({ url: "http://127.0.0.1:10000/devstoreaccount1" }));
    const chosen = createPipelineRequest({ url: "https://127.0.0.1:8443/c" });
    chosen.agent = own;
    await http.sendRequest(chosen);
    expect(requests[0]!.agent).toBeUndefined();
    expect(requests[1]!.agent).toBe(own);
  });

  it("is the inner client itself when no CA is given", () => {
    const { client } = recordingClient();
    expect(createHttpClient({ inner: client })).toBe(client);
  });
});
