import { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential, WorkloadIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { azureCredential, staticTokenCredential } from "../../../core/azure/credentials";
import { clientId, tenantId } from "./fixtures";

describe("staticTokenCredential", () => {
  it("returns the token as a bearer token valid for an hour from now", async () => {
    const now = 1_700_000_000_000;
    const token = await staticTokenCredential("abc", { now: () => now }).getToken("https://management.azure.com/.default");
    expect(token).toEqual({ token: "abc", expiresOnTimestamp: now + 3_600_000, tokenType: "Bearer" });
  });

  it("defaults to the emulator's token", async () => {
    expect((await staticTokenCredential().getToken([]))?.token).toBe("ferry-local");
  });
});

describe("azureCredential", () => {
  it("builds the @azure/identity credential for each kind without signing in", () => {
    expect(azureCredential({ kind: "default" })).toBeInstanceOf(DefaultAzureCredential);
    expect(azureCredential({ kind: "workloadIdentity", clientId, tenantId, tokenFilePath: "/var/run/secrets/token" })).toBeInstanceOf(WorkloadIdentityCredential);
    expect(azureCredential({ kind: "managedIdentity" })).toBeInstanceOf(ManagedIdentityCredential);
    expect(azureCredential({ kind: "managedIdentity", clientId })).toBeInstanceOf(ManagedIdentityCredential);
    expect(azureCredential({ kind: "clientSecret", tenantId, clientId, clientSecret: "s" })).toBeInstanceOf(ClientSecretCredential);
  });
});
