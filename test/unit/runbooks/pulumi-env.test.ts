import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../../core/logger";
import { processIo } from "../../../runbooks/cli";
import { PulumiDeployer } from "../../../runbooks/deployers/pulumi";
import { pulumiCliEnv } from "../../../runbooks/deployers/pulumi-env";
import { clientId, subscriptionId, tenantId } from "../core/fixtures";

const jobToken = "job-token-5e8d21aa";

describe("pulumiCliEnv", () => {
  it("in a job, signs the CLI and the provider in from the federated token file, and empties the job's token", () => {
    const env = pulumiCliEnv({
      subscriptionId,
      federation: { tenantId, clientId, tokenFilePath: "/tmp/ferry-federation-x/token" },
    });
    expect(env).toEqual({
      SYSTEM_ACCESSTOKEN: "",
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: tenantId,
      AZURE_FEDERATED_TOKEN_FILE: "/tmp/ferry-federation-x/token",
      ARM_USE_DEFAULT_AZURE_CREDENTIAL: "true",
      ARM_CLIENT_ID: clientId,
      ARM_TENANT_ID: tenantId,
      ARM_SUBSCRIPTION_ID: subscriptionId,
    });
  });

  it("outside a job, only empties the job's token: the CLI signs in as on a workstation", () => {
    expect(pulumiCliEnv({ subscriptionId })).toEqual({ SYSTEM_ACCESSTOKEN: "" });
  });
});

describe("the Pulumi CLI's environment, as the Automation API starts it", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ferry-fake-pulumi-"));
    // A fake `pulumi` at the process boundary: it records its environment and answers like the CLI.
    const script = [
      "#!/bin/sh",
      '{ echo "ARGS=$*"; env; } > "$FERRY_TEST_ENV_DIR/$$.env"',
      'case "$1" in',
      '  version) echo "v3.248.0" ;;',
      "  config) echo '{}' ;;",
      "esac",
      "exit 0",
    ].join("\n");
    writeFileSync(join(dir, "pulumi"), script);
    chmodSync(join(dir, "pulumi"), 0o755);
    vi.stubEnv("PATH", `${dir}${delimiter}${process.env.PATH ?? ""}`);
    vi.stubEnv("FERRY_TEST_ENV_DIR", dir);
    // As the step that runs ferry maps it.
    vi.stubEnv("SYSTEM_ACCESSTOKEN", jobToken);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  it("never carries the job's token; in a job, only the federation variables", async () => {
    // ferry's entry point: the token stays in the environment ferry reads, out of the one children inherit
    // (the Automation API runs `pulumi version` with this process's environment alone, without envVars).
    const io = processIo();
    expect(io.env.SYSTEM_ACCESSTOKEN).toBe(jobToken);
    const tokenFilePath = join(dir, "token");
    const deployer = new PulumiDeployer({
      workDir: dir,
      logger: createLogger({ level: "silent", env: {} }),
      envVars: pulumiCliEnv({ subscriptionId, federation: { tenantId, clientId, tokenFilePath } }),
    });
    await deployer.getConfig("web-linux");
    const seen = readdirSync(dir)
      .filter((f) => f.endsWith(".env"))
      .map((f) => readFileSync(join(dir, f), "utf8"));
    expect(seen.length).toBeGreaterThan(0);
    for (const env of seen) {
      expect(env, env.split("\n")[0]).not.toContain(jobToken);
    }
    // Every command but the version check gets the deployer's variables.
    const commands = seen.filter((env) => !env.startsWith("ARGS=version\n"));
    expect(commands.length).toBeGreaterThan(0);
    for (const env of commands) {
      expect(env).toMatch(/^SYSTEM_ACCESSTOKEN=$/m);
      expect(env).toContain(`AZURE_FEDERATED_TOKEN_FILE=${tokenFilePath}\n`);
      expect(env).toContain("ARM_USE_DEFAULT_AZURE_CREDENTIAL=true\n");
    }
  });
});
