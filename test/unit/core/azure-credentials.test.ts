import {
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} from "@azure/identity";
import { describe, expect, it, vi } from "vitest";
import { azureCredential, staticTokenCredential } from "../../../adapters/azure/credentials";
import { clientId, tenantId } from "./fixtures";

describe("staticTokenCredential", () => {
  it("returns the token as a bearer token valid for an hour from now", async () => {
    const now = 1_700_000_000_000;
    const token = await staticTokenCredential("abc", { now: () => now }).getToken(
      "https://management.azure.com/.default",
    );
    expect(token).toEqual({ token: "abc", expiresOnTimestamp: now + 3_600_000, tokenType: "Bearer" });
  });

  it("defaults to the emulator's token", async () => {
    expect((await staticTokenCredential().getToken([]))?.token).toBe("ferry-local");
  });
});

describe("azureCredential", () => {
  it("builds the @azure/identity credential for each kind without signing in", () => {
    expect(azureCredential({ kind: "default" })).toBeInstanceOf(DefaultAzureCredential);
    expect(
      azureCredential({ kind: "workloadIdentity", clientId, tenantId, tokenFilePath: "/var/run/secrets/token" }),
    ).toBeInstanceOf(WorkloadIdentityCredential);
    expect(azureCredential({ kind: "managedIdentity" })).toBeInstanceOf(ManagedIdentityCredential);
    expect(azureCredential({ kind: "managedIdentity", clientId })).toBeInstanceOf(ManagedIdentityCredential);
    expect(azureCredential({ kind: "clientSecret", tenantId, clientId, clientSecret: "s" })).toBeInstanceOf(
      ClientSecretCredential,
    );
  });

  it("takes an Azure DevOps service connection's ids from the AzureCLI@2 task's variables, and says which are missing", () => {
    vi.stubEnv(
      "SYSTEM_OIDCREQUESTURI",
      "https://dev.azure.com/org/project-id/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
    );
    const env = {
      AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: "sc-1",
      AZURESUBSCRIPTION_CLIENT_ID: clientId,
      AZURESUBSCRIPTION_TENANT_ID: tenantId,
      SYSTEM_ACCESSTOKEN: "t",
      SYSTEM_OIDCREQUESTURI: process.env.SYSTEM_OIDCREQUESTURI,
    };
    // Wrapped so that what it throws is scrubbed: see azure-pipelines.test.ts.
    expect(typeof azureCredential({ kind: "azurePipelines" }, env).getToken).toBe("function");
    expect(() =>
      azureCredential(
        { kind: "azurePipelines", serviceConnectionId: "sc-2", clientId, tenantId },
        { SYSTEM_ACCESSTOKEN: "t", SYSTEM_OIDCREQUESTURI: env.SYSTEM_OIDCREQUESTURI },
      ),
    ).not.toThrow();
    const missing = () => azureCredential({ kind: "azurePipelines" }, { AZURESUBSCRIPTION_CLIENT_ID: clientId });
    expect(missing).toThrow(
      "needs AZURESUBSCRIPTION_SERVICE_CONNECTION_ID, AZURESUBSCRIPTION_TENANT_ID, " +
        "SYSTEM_ACCESSTOKEN, SYSTEM_OIDCREQUESTURI.",
    );
    expect(missing).toThrow(/map SYSTEM_ACCESSTOKEN: \$\(System\.AccessToken\)/);
    vi.unstubAllEnvs();
    // In `env` but not in this process's environment, where the SDK reads it.
    expect(() => azureCredential({ kind: "azurePipelines" }, env)).toThrow(
      /needs SYSTEM_OIDCREQUESTURI in the environment of the ferry process/,
    );
  });
});
