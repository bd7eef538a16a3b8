import { readFileSync, statSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FerryConfigSchema, loadFerryConfig } from "../../../runbooks/config";
import { shellQuote, writeLocalCliFiles } from "../../../local/cli-files";
import { tempDir } from "../../helpers/emulator";

const CONNECTION =
  "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a/b+c==;" +
  "TableEndpoint=http://127.0.0.1:4000/devstoreaccount1;";

function worldConfig(dir: string) {
  return FerryConfigSchema.parse({
    azure: {
      subscriptionId: "00000000-0000-4000-8000-000000000001",
      armEndpoint: "https://127.0.0.1:4001",
      caCertPath: `${dir}/azure/tls/ca.pem`,
      credential: { kind: "emulator" },
    },
    stateStore: { kind: "connectionStringEnv", variable: "FERRY_LOCAL_TABLE", tableName: "ferrySources" },
    deployer: { kind: "local", stateDir: `${dir}/ferry/stacks` },
    landingZoneStack: "lz",
    journalDir: `${dir}/ferry/journal`,
  });
}

/** The variables of an env file as `sh` would set them (single-quoted values, comments skipped). */
function variables(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.startsWith("'") ? m[2]!.slice(1, -1).replaceAll(`'\\''`, "'") : m[2]!;
  }
  return out;
}

describe("the local world's CLI files", () => {
  it("writes ferry.json that loads back as the world's own config", () => {
    const dir = tempDir("ferry-cli-files-");
    const config = worldConfig(dir);
    const files = writeLocalCliFiles({ dir, config, tableConnectionString: CONNECTION, startedBy: "a test" });
    expect(loadFerryConfig(files.configPath)).toEqual(config);
  });

  it("puts the connection string in the env file only, under the variable the config names", () => {
    const dir = tempDir("ferry-cli-files-");
    const files = writeLocalCliFiles({
      dir,
      config: worldConfig(dir),
      tableConnectionString: CONNECTION,
      startedBy: "a test",
    });
    expect(variables(readFileSync(files.envPath, "utf8"))).toEqual({
      FERRY_CONFIG: files.configPath,
      FERRY_LOCAL_TABLE: CONNECTION,
    });
    expect(readFileSync(files.configPath, "utf8")).not.toContain("AccountKey");
  });

  it("makes both files readable by their owner only, also over files that were there", () => {
    const dir = tempDir("ferry-cli-files-");
    for (const f of ["ferry.json", "ferry.env"]) writeFileSync(`${dir}/${f}`, "old", { mode: 0o644 });
    const files = writeLocalCliFiles({
      dir,
      config: worldConfig(dir),
      tableConnectionString: CONNECTION,
      startedBy: "a test",
    });
    for (const f of [files.configPath, files.envPath]) expect(statSync(f).mode & 0o777, f).toBe(0o600);
  });

  it("prints one line that sources the env file and runs ferry:local", () => {
    const dir = tempDir("ferry-cli-files-");
    const files = writeLocalCliFiles({
      dir,
      config: worldConfig(dir),
      tableConnectionString: CONNECTION,
      startedBy: "a test",
    });
    expect(files.useLine("sources list")).toBe(
      `set -a; . ${files.envPath}; set +a; npm run ferry:local -- sources list`,
    );
  });

  it("quotes for sh what is not a plain word", () => {
    expect(shellQuote("/tmp/ferry-local-x/ferry.env")).toBe("/tmp/ferry-local-x/ferry.env");
    expect(shellQuote("a;b c")).toBe("'a;b c'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});
