import { RestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { azureProblemOf, formatAzureProblem } from "../../../core/azure-error";
import { FerryError, UserError } from "../../../core/errors";
import { renderError } from "../../../runbooks/cli";

const rest = (statusCode: number, code: string, message: string, url = "https://management.azure.com/x") =>
  new RestError(message, { statusCode, code, request: { url } as never });

describe("azureProblemOf", () => {
  it("reads a 403 as denied, with the role to grant", () => {
    const p = azureProblemOf(rest(403, "AuthorizationFailed", "The client has no authorization."))!;
    expect(p.kind).toBe("denied");
    expect(formatAzureProblem(p)).toBe(
      "Azure answered 403 AuthorizationFailed: The client has no authorization. The identity ferry signs in with " +
        "lacks a role there: grant it (see the README's roles), or sign in with the right identity, then run the " +
        "same command again.",
    );
  });

  it("reads a 429 as throttled and a 503 as unavailable", () => {
    expect(azureProblemOf(rest(429, "TooManyRequests", "slow down"))!.kind).toBe("throttled");
    expect(azureProblemOf(rest(503, "ServiceUnavailable", "later"))!.kind).toBe("unavailable");
  });

  it("names the state store when the request went to Table storage", () => {
    const e = rest(403, "AuthorizationFailure", "no", "https://acct.table.core.windows.net/ops(PartitionKey='a')");
    expect(azureProblemOf(e)!.what).toMatch(/^the state store answered 403/);
  });

  it("reads a refused connection and an untrusted certificate, also as the cause of another error", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    expect(azureProblemOf(new Error("wrapped", { cause: refused }))!.kind).toBe("unavailable");
    const tls = new RestError("self-signed certificate in certificate chain", { code: "REQUEST_SEND_ERROR" });
    expect(formatAzureProblem(azureProblemOf(tls)!)).toMatch(/not trusted.*azure\.caCertPath/);
  });

  it("leaves a bug alone", () => {
    expect(azureProblemOf(new TypeError("x is undefined"))).toBeUndefined();
  });

  it("redacts a SAS signature in Azure's message", () => {
    const e = rest(500, "InternalError", "could not read https://a.blob.core.windows.net/c/b?sv=1&sig=Secret123");
    expect(azureProblemOf(e)!.what).not.toContain("Secret123");
  });
});

describe("renderError", () => {
  it("prints an Azure error as its problem and fix, without a stack", () => {
    const text = renderError(rest(503, "ServiceUnavailable", "later"));
    expect(text).toMatch(/^Azure answered 503 ServiceUnavailable: later\. Azure failed on its side/);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it("prints a ferry error's message and code without a stack, adding Azure's fix from its cause", () => {
    const e = new FerryError("The up failed.", { code: "DeployFailed", cause: rest(403, "AuthorizationFailed", "no") });
    const text = renderError(e);
    expect(text).toMatch(
      /^The up failed\.\nAzure answered 403 AuthorizationFailed: no\. The identity .*\n\(code DeployFailed\)$/,
    );
  });

  it("prints a user error's message alone", () => {
    expect(renderError(new UserError("Fix the file.", { code: "InvalidConfig" }))).toBe("Fix the file.");
  });

  it("keeps the stack for a bug, and for anything when asked to", () => {
    expect(renderError(new TypeError("x is undefined"))).toMatch(/\n\s+at /);
    expect(renderError(rest(503, "ServiceUnavailable", "later"), true)).toMatch(/\n\s+at /);
  });
});
