import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { DefaultAzureCredential } from "@azure/identity";
import { createHttpHeaders, type HttpClient, type PipelineRequest } from "@azure/core-rest-pipeline";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { azureCredential } from "../../../adapters/azure/credentials";
import {
  FederatedTokenFile,
  requestPipelineOidcToken,
  takeJobToken,
  type AzurePipelinesSignIn,
} from "../../../adapters/azure/pipelines";
import { createLogger } from "../../../core/logger";
import { clientId, tenantId } from "../core/fixtures";

// Not JWT-shaped on purpose: what hides it must be where it is (a header, a key), not its look.
const jobToken = "job-token-7f3a9c41d2";
const oidcRequestUri = "https://dev.azure.com/org/6b1c/_apis/distributedtask/hubs/build/plans/p1/jobs/j1/oidctoken";

/** The variables an Azure DevOps job sets for a step of the AzureCLI@2 task that maps SYSTEM_ACCESSTOKEN. */
const pipelineEnv = {
  AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: "sc-1",
  AZURESUBSCRIPTION_CLIENT_ID: clientId,
  AZURESUBSCRIPTION_TENANT_ID: tenantId,
  SYSTEM_OIDCREQUESTURI: oidcRequestUri,
  SYSTEM_ACCESSTOKEN: jobToken,
};

const signIn: AzurePipelinesSignIn = {
  tenantId,
  clientId,
  serviceConnectionId: "sc-1",
  oidcRequestUri,
  jobToken,
};

/** A fake of the network: records each request, answers with `answer`. */
function fakeHttp(answer: (req: PipelineRequest) => { status: number; body: string }) {
  const requests: PipelineRequest[] = [];
  const httpClient: HttpClient = {
    async sendRequest(request) {
      requests.push(request);
      const { status, body } = answer(request);
      return { request, status, headers: createHttpHeaders(), bodyAsText: body };
    },
  };
  return { httpClient, requests };
}

function captureLog() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ destination, level: "debug", env: {} }), text: () => lines.join("") };
}

describe("signing in from an Azure DevOps job", () => {
  beforeEach(() => vi.stubEnv("SYSTEM_OIDCREQUESTURI", oidcRequestUri));
  afterEach(() => vi.unstubAllEnvs());

  it("kind default picks the service connection from the job's environment and asks its OIDC endpoint", async () => {
    // 401: the job token is refused, so no token exchange with Entra ID follows.
    const net = fakeHttp(() => ({ status: 401, body: "" }));
    const credential = azureCredential({ kind: "default" }, pipelineEnv, { httpClient: net.httpClient });
    await expect(credential.getToken("https://management.azure.com/.default")).rejects.toThrow(/Authentication Failed/);
    expect(net.requests).toHaveLength(1);
    expect(net.requests[0]!.method).toBe("POST");
    expect(net.requests[0]!.url).toBe(`${oidcRequestUri}?api-version=7.1&serviceConnectionId=sc-1`);
    expect(net.requests[0]!.headers.get("authorization")).toBe(`Bearer ${jobToken}`);
  });

  it("kind default outside a job is the usual chain", () => {
    vi.unstubAllEnvs();
    const { SYSTEM_ACCESSTOKEN: _dropped, ...noToken } = pipelineEnv;
    expect(azureCredential({ kind: "default" }, noToken)).toBeInstanceOf(DefaultAzureCredential);
    expect(azureCredential({ kind: "default" }, {})).toBeInstanceOf(DefaultAzureCredential);
  });

  it("a refused sign-in throws and logs without the job's token", async () => {
    const net = fakeHttp(() => ({ status: 401, body: "" }));
    const credential = azureCredential({ kind: "azurePipelines" }, pipelineEnv, { httpClient: net.httpClient });
    const error = await credential.getToken("https://management.azure.com/.default").then(
      () => new Error("signed in"),
      (e: unknown) => e as Error,
    );
    // The SDK quotes the failed request, headers included: the quote is still there, the token is not.
    expect(error.message).toContain("Bearer <redacted>");
    expect(`${error.message}\n${error.stack}\n${JSON.stringify(error)}`).not.toContain(jobToken);
    const log = captureLog();
    log.logger.error({ err: error }, "sign-in failed");
    expect(log.text()).toContain("sign-in failed");
    expect(log.text()).not.toContain(jobToken);
  });
});

describe("takeJobToken", () => {
  it("removes the job's token from the environment children inherit and keeps it in the copy ferry reads", () => {
    const env: NodeJS.ProcessEnv = { ...pipelineEnv, PATH: "/usr/bin" };
    const own = takeJobToken(env);
    expect(env.SYSTEM_ACCESSTOKEN).toBeUndefined();
    expect(env.PATH).toBe("/usr/bin");
    expect(own.SYSTEM_ACCESSTOKEN).toBe(jobToken);
    expect(takeJobToken({ PATH: "/bin" })).toEqual({ PATH: "/bin" });
  });
});

describe("requestPipelineOidcToken", () => {
  it("posts to the job's OIDC endpoint for the connection and returns its token", async () => {
    const net = fakeHttp(() => ({ status: 200, body: JSON.stringify({ oidcToken: "federated-1" }) }));
    expect(await requestPipelineOidcToken(signIn, { httpClient: net.httpClient })).toBe("federated-1");
    const req = net.requests[0]!;
    expect([req.method, req.url]).toEqual(["POST", `${oidcRequestUri}?api-version=7.1&serviceConnectionId=sc-1`]);
    expect(req.headers.get("authorization")).toBe(`Bearer ${jobToken}`);
    expect(req.headers.get("x-tfs-fedauthredirect")).toBe("Suppress");
  });

  it("says what to check when the endpoint gives no token, without the job's token", async () => {
    const net = fakeHttp(() => ({ status: 403, body: '{"message":"not authorized for this connection"}' }));
    const e = await requestPipelineOidcToken(signIn, { httpClient: net.httpClient }).then(
      () => new Error("got a token"),
      (x: unknown) => x as Error,
    );
    expect(e).toMatchObject({ code: "PipelineSignInFailed" });
    expect(e.message).toMatch(/service connection sc-1: HTTP 403, .*not authorized.*SYSTEM_ACCESSTOKEN/);
    expect(e.message).not.toContain(jobToken);
  });
});

describe("FederatedTokenFile", () => {
  let parentDir: string;
  beforeEach(() => {
    parentDir = mkdtempSync(join(tmpdir(), "ferry-test-"));
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(parentDir, { recursive: true, force: true });
  });

  it("holds a fresh federated token, never the job's token, replaced at each interval", async () => {
    vi.useFakeTimers();
    let n = 0;
    const net = fakeHttp(() => ({ status: 200, body: JSON.stringify({ oidcToken: `federated-${++n}` }) }));
    const { logger } = captureLog();
    const file = await FederatedTokenFile.start(signIn, {
      httpClient: net.httpClient,
      logger,
      parentDir,
      refreshIntervalInMs: 60_000,
    });
    expect(readFileSync(file.path, "utf8")).toBe("federated-1");
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(file.path)).mode & 0o777).toBe(0o700);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(readFileSync(file.path, "utf8")).toBe("federated-1");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(readFileSync(file.path, "utf8")).toBe("federated-2");
    file.close();
    expect(existsSync(dirname(file.path))).toBe(false);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(net.requests).toHaveLength(2);
  });

  it("keeps the last token when a refresh fails, and says so without the job's token", async () => {
    vi.useFakeTimers();
    let n = 0;
    const net = fakeHttp(() =>
      ++n === 1 ? { status: 200, body: JSON.stringify({ oidcToken: "federated-1" }) } : { status: 500, body: "" },
    );
    const log = captureLog();
    const file = await FederatedTokenFile.start(signIn, { httpClient: net.httpClient, logger: log.logger, parentDir });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(readFileSync(file.path, "utf8")).toBe("federated-1");
    expect(log.text()).toMatch(/could not refresh the federated token/);
    expect(log.text()).not.toContain(jobToken);
    file.close();
  });

  it("fails to start, leaving nothing behind, when the first token cannot be had", async () => {
    const net = fakeHttp(() => ({ status: 401, body: "" }));
    const { logger } = captureLog();
    await expect(
      FederatedTokenFile.start(signIn, { httpClient: net.httpClient, logger, parentDir }),
    ).rejects.toMatchObject({
      code: "PipelineSignInFailed",
    });
    expect(readdirSync(parentDir)).toEqual([]);
  });
});
