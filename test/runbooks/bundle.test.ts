import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, startupInputs, type BuiltBundle } from "../../build";
import { useAzurite } from "../helpers/azurite";

// The commands as `npm run build` makes them, built here into a folder of their own: inside the
// project, because the ferry bundle imports Pulumi's packages from node_modules, and not dist/, which
// bin/ferry.mjs may be running from in another test file meanwhile.
const root = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const a = useAzurite();
let outDir: string;
let ferry: BuiltBundle;
let ferrySync: BuiltBundle;

beforeAll(async () => {
  mkdirSync(join(root, ".tmp"), { recursive: true });
  outDir = mkdtempSync(join(root, ".tmp", "bundle-test-"));
  [ferry, ferrySync] = await Promise.all([buildBundle("ferry", { outDir }), buildBundle("ferry-sync", { outDir })]);
}, 180_000);
afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

function run(bundle: BuiltBundle, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [bundle.file, ...args], { cwd: root, env, encoding: "utf8" });
}

/** The commit the bundles must report: the project's HEAD, `-dirty` allowed (uncommitted changes when built). */
function headPattern(command: string): RegExp {
  const head = execFileSync("git", ["-C", root, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  return new RegExp(`^${command} ${pkg.version.replaceAll(".", "\\.")} \\(commit ${head}(-dirty)?\\)\\n$`);
}

describe("the ferry bundle", () => {
  it("prints help with every command and the exit codes", () => {
    const help = run(ferry, ["--help"]);
    expect(help.status).toBe(0);
    for (const c of ["sources", "targets", "blueprints", "history", "points"])
      expect(help.stdout).toContain(`ferry ${c} <`);
    // A blueprint, or a recovery plan with --plan.
    for (const c of ["precheck", "failover", "cleanup", "drill"])
      expect(help.stdout).toContain(`ferry ${c} [blueprint]`);
    expect(help.stdout).toContain("ferry plan <action>");
    expect(help.stdout).toContain("ferry failback <action>");
    expect(help.stdout).toMatch(/Exit codes: 0 ok; 1 .*; 2 .*; 3 .*; 4 .*/s);
    expect(help.stdout).toContain("--version");
  });

  it("prints the version of package.json and the commit it was built from", () => {
    const version = run(ferry, ["--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(headPattern("ferry"));
  });

  it("loads no SDK, Pulumi, logger or schema package before a command runs", () => {
    const start = startupInputs(ferry);
    // The walk itself: every command declaration is read at start.
    expect(start).toContain("runbooks/commands/failback.ts");
    expect(start.filter((f) => /^node_modules\/(@azure|@pulumi|pino|pino-pretty|zod|js-yaml|zx)\//.test(f))).toEqual(
      [],
    );
  });

  it("runs a command whose runbook it loads on demand", () => {
    const r = run(ferry, ["blueprints", "validate", "stacks/Pulumi.web-linux.yaml", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { stack: "web-linux", from: "stacks/Pulumi.web-linux.yaml", ok: true, problems: [] },
    ]);
  });

  it("reads the state store through the bundled Azure SDK", async () => {
    // In production the landing zone creates the table; here the test does.
    const tableName = (await a.newStore()).tableName;
    const config = join(outDir, "ferry.json");
    writeFileSync(
      config,
      JSON.stringify({
        azure: { subscriptionId: "00000000-0000-0000-0000-000000000001", credential: { kind: "emulator" } },
        stateStore: { kind: "connectionStringEnv", variable: "FERRY_BUNDLE_TABLE", tableName },
        landingZoneStack: "lz",
        journalDir: join(outDir, "journal"),
      }),
    );
    const r = run(ferry, ["sources", "list", "--json", "--config", config], {
      ...process.env,
      FERRY_BUNDLE_TABLE: a.azurite.connectionString,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it("imports the Pulumi deployer from node_modules", () => {
    const [chunk] = Object.entries(ferry.metafile.outputs).filter(
      ([, o]) => o.entryPoint === "runbooks/deployers/pulumi.ts",
    );
    expect(chunk).toBeDefined();
    expect(chunk![1].imports.some((i) => i.external && i.path.startsWith("@pulumi/pulumi/"))).toBe(true);
    const r = spawnSync(process.execPath, ["-e", `import(${JSON.stringify(join(root, chunk![0]))})`], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("the ferry-sync bundle", () => {
  it("prints the version of package.json and the commit it was built from", () => {
    const version = run(ferrySync, ["--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(headPattern("ferry-sync"));
  });

  it("is one file that imports nothing but Node's own modules (the appliance gets that file alone)", () => {
    const outputs = Object.entries(ferrySync.metafile.outputs);
    expect(outputs.map(([file]) => file)).toEqual([expect.stringMatching(/ferry-sync\.mjs$/)]);
    expect(outputs[0]![1].imports.filter((i) => !isBuiltin(i.path))).toEqual([]);
  });

  it("prints help", () => {
    const help = run(ferrySync, ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("ferry-sync run");
  });
});
