import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import {
  HOOK_ENV_ALLOW_LIST,
  hookAzureFor,
  hookEnvironment,
  resolveHookScript,
  type HookContext,
} from "../../../runbooks/hooks";

const context: HookContext = {
  plan: "p",
  group: "db",
  operationId: "op-1",
  kind: "failback",
  when: "gate",
  vms: [{ blueprint: "bp", row: "db", name: "db-vm", id: "/x", privateIps: ["10.0.0.4"], region: "westeurope" }],
};

describe("hookEnvironment", () => {
  it("keeps the allow-listed variables and drops every other", () => {
    const env = hookEnvironment(
      {
        PATH: "/bin",
        AZURE_TENANT_ID: "t",
        AZURE_CLIENT_SECRET: "s",
        SYSTEM_ACCESSTOKEN: "j",
        FERRY_CONFIG: "/etc/ferry.json",
        AZURE_STORAGE_CONNECTION_STRING: "AccountKey=k",
      },
      context,
      "/tmp/c.json",
    );
    expect(Object.keys(env).filter((k) => !k.startsWith("FERRY_"))).toEqual(["PATH", "AZURE_TENANT_ID"]);
    expect(env).not.toHaveProperty("FERRY_CONFIG");
  });

  it("allows no variable whose name says it holds a secret", () => {
    expect(HOOK_ENV_ALLOW_LIST.filter((n) => /SECRET|PASSWORD|KEY|CONNECTION|ACCESSTOKEN/i.test(n))).toEqual([]);
  });

  it("states the context as FERRY_* variables, the VMs as JSON", () => {
    const env = hookEnvironment({}, context, "/tmp/c.json");
    expect(env).toMatchObject({
      FERRY_HOOK_CONTEXT_FILE: "/tmp/c.json",
      FERRY_PLAN: "p",
      FERRY_GROUP: "db",
      FERRY_OPERATION_ID: "op-1",
      FERRY_KIND: "failback",
      FERRY_WHEN: "gate",
    });
    expect(JSON.parse(env.FERRY_VMS!)).toEqual(context.vms);
  });

  it("says where Azure is: endpoint, subscription, the CA Node trusts and the credential", () => {
    const env = hookEnvironment({}, context, "/c", {
      armEndpoint: "https://127.0.0.1:4443",
      subscriptionId: "sub",
      caCertPath: "/ca.pem",
      credential: "emulator",
    });
    expect(env).toMatchObject({
      FERRY_ARM_ENDPOINT: "https://127.0.0.1:4443",
      FERRY_SUBSCRIPTION_ID: "sub",
      FERRY_CA_CERT_PATH: "/ca.pem",
      NODE_EXTRA_CA_CERTS: "/ca.pem",
      FERRY_AZURE_CREDENTIAL: "emulator",
    });
  });

  it("signs in with DefaultAzureCredential unless told otherwise", () => {
    expect(hookEnvironment({}, context, "/c").FERRY_AZURE_CREDENTIAL).toBe("default");
  });
});

describe("resolveHookScript", () => {
  const root = "/srv/repo-that-is-not-there";

  it("resolves a script below the root", () => {
    expect(resolveHookScript("hooks/dns-switch.mjs", root)).toBe(join(root, "hooks/dns-switch.mjs"));
  });

  it.each(["../other/x.mjs", "hooks/../../x.mjs", "/etc/passwd", "."])("refuses %s", (script) => {
    let thrown: unknown;
    try {
      resolveHookScript(script, root);
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown) && thrown.code).toBe("HookOutsideRepository");
  });
});

describe("hookAzureFor", () => {
  const sub = "00000000-0000-0000-0000-000000000001";

  it("tells a hook the local Azure's endpoint, CA and fixed token when ferry uses them", () => {
    expect(
      hookAzureFor({
        subscriptionId: sub,
        armEndpoint: "https://127.0.0.1:4443",
        caCertPath: "/ca.pem",
        credential: { kind: "emulator" },
        pollIntervalInMs: 10,
      }),
    ).toEqual({
      subscriptionId: sub,
      armEndpoint: "https://127.0.0.1:4443",
      caCertPath: "/ca.pem",
      credential: "emulator",
    });
  });

  it("leaves a hook on public Azure with DefaultAzureCredential for any real credential", () => {
    expect(
      hookAzureFor({ subscriptionId: sub, credential: { kind: "managedIdentity" }, pollIntervalInMs: 2000 }),
    ).toEqual({ subscriptionId: sub, credential: "default" });
  });
});
