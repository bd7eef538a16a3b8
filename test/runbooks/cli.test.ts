import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { FACTS_POLICY_NAMES } from "../../policies/pack";
import { EXIT } from "../../runbooks/commands/common";
import { runLocalCli as runCli } from "../../local/ferry";
import { currentMode } from "../../runbooks/mode";
import { pattern, writeAt } from "../helpers/bytes";
import { useCliWorld } from "../helpers/cli-world";
import { DR, type DrWorld, type Workload } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";

const cli = useCliWorld();
const f = cli.f;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});

/** Runs `ferry` in-process on the world's config: exit code, stdout, and the log/error stream. */
const ferry = (...args: string[]) => cli.ferry(args);

function json<T>(r: { out: string }): T {
  return JSON.parse(r.out) as T;
}

async function synced(w: Workload): Promise<void> {
  const ids = [w.osDiskId, ...w.dataDiskIds.values()];
  await world.syncUntil(
    async () =>
      (await Promise.all(ids.map((id) => world.ctx.store.get(id)))).every(
        (r) => r?.source.state === "healthy" && !r.source.applying,
      ),
    "healthy",
    world.sourcesOf(w),
  );
}

describe("ferry CLI", () => {
  it("prints help with examples and exit codes, and refuses bad usage with exit 2", async () => {
    const help = await ferry("--help");
    expect(help.code).toBe(EXIT.ok);
    for (const c of [
      "sources",
      "targets",
      "blueprints",
      "precheck",
      "failover",
      "cleanup",
      "history",
      "points",
      "drill",
      "failback",
    ])
      expect(help.out).toContain(`ferry ${c}`);
    expect(help.out).toMatch(/Exit codes: 0 ok; 1 .*; 2 .*; 3 .*; 4 .*/s);
    const sub = await ferry("failover", "--help");
    expect(sub.out).toMatch(/Examples:[\s\S]*ferry failover web --planned --yes/);

    const unknown = await ferry("nonsense");
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.err).toMatch(/Unknown argument: nonsense/);
    const twoKinds = await ferry("failover", "bp-x", "--planned", "--test");
    expect(twoKinds.code).toBe(EXIT.usage);
    expect(twoKinds.err).toContain("exactly one of --planned, --unplanned or --test");
    const noConfig = await runCli(["history", "bp-x", "--config", "/nonexistent/ferry.json"], {
      out: () => undefined,
      logStream: new PassThrough(),
      logIsTty: false,
      env: cli.env,
    });
    expect(noConfig).toBe(EXIT.usage);
  });

  it("lists each action of sources in help on its own, with no aliases", async () => {
    const help = await ferry("sources", "--help");
    for (const action of ["list [target]", "enable <target>", "disable <target>"])
      expect(help.out).toContain(`ferry sources ${action}`);
    expect(help.out).toMatch(/ferry sources retry-backfill <target> +Copy every disk again/);
    expect(help.out).toMatch(/ferry sources check-health <target> +Verify each staging disk/);
    expect(help.out).not.toMatch(/\[aliases:/);
  });

  it("validates stack files: every problem with its path and fix, exit 2; targets against the DR subscription", async () => {
    const dir = tempDir("ferry-stacks-");
    const good = readFileSync("stacks/Pulumi.web-linux.yaml", "utf8");
    const bad = join(dir, "Pulumi.broken.yaml");
    writeFileSync(
      bad,
      good
        .replace("osStrategy: attachAsIs", "osStrategy: teleport")
        .replace("sourceRegion: westeurope", "sourceRegion: Narnia"),
    );
    const r = await ferry("blueprints", "validate", bad, join("stacks", "Pulumi.web-linux.yaml"));
    expect(r.code).toBe(EXIT.usage);
    expect(r.out).toMatch(/FAIL +broken/);
    expect(r.out).toMatch(/blueprint\.rows\[0\]\.sourceRegion: is not an Azure region name\..* Use the lowercase name/);
    expect(r.out).toMatch(/blueprint\.rows\[0\]\.osStrategy: .*attachAsIs.*fromSnapshot/);
    expect(r.out).toMatch(/ok +web-linux/);

    const w = await world.workload("tv");
    const live = await ferry("targets", "validate", w.stack, "--json");
    expect(live.code).toBe(EXIT.ok);
    const verdict = json<{ ok: boolean; checks: { name: string; ok: boolean }[] }[]>(live)[0]!;
    expect(verdict.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        "landing zone resource group dr-rg",
        "landing zone target subnet",
        "landing zone test subnet",
        "target.vmSizes Standard_D2s_v5",
        "regional vCPU quota",
      ]),
    );
    const config = await world.ctx.deployer.getConfig(w.stack);
    const blueprint = config.blueprint as { target: Record<string, unknown> };
    await world.ctx.deployer.setConfig(w.stack, {
      blueprint: {
        ...blueprint,
        target: { vmSizes: ["Standard_D2s_v5", "Standard_M416ms_v2"] },
      },
    });
    const missing = await ferry("targets", "validate", w.stack);
    await world.ctx.deployer.setConfig(w.stack, config);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.out).toMatch(
      /FAIL +target\.vmSizes Standard_M416ms_v2: Standard_M416ms_v2 is not offered in northeurope/,
    );
  });

  it("runs a drill by hand: enable, list, precheck (table, JSON, JUnit, policy config), test failover, history, cleanup, disable", async () => {
    const w = await world.workload("cli");
    writeAt(w.sourceDevice("os"), 0, pattern(7, 1024 * 1024));

    const ask = await ferry("sources", "enable", w.stack);
    expect(ask.code).toBe(EXIT.usage);
    expect(ask.err).toContain("--prepare wipe");
    expect((await ferry("sources", "enable", w.stack, "--prepare", "empty")).out).toMatch(
      /enabled: cli-os → .* at appliance LUN \d+ \(pending\)/,
    );

    const early = await ferry("precheck", w.stack);
    expect(early.code).toBe(EXIT.refused);
    expect(early.out).toMatch(/FAILED[\s\S]*FAIL {2}cli OS disk: healthy +The source is pending/);
    const junitPath = join(tempDir("ferry-junit-"), "precheck.xml");
    await ferry("precheck", w.stack, "--junit", junitPath);
    const junit = readFileSync(junitPath, "utf8");
    expect(junit).toMatch(/<testsuite name="ferry precheck bp-cli \(failover\)" tests="\d+" failures="[1-9]\d*"/);
    expect(junit).toMatch(
      /<testcase classname="ferry.precheck.bp-cli" name="cli OS disk: healthy"><failure message="The source is pending/,
    );

    await synced(w);
    const list = json<{ disk: string; state: string; lagSeconds: number }[]>(
      await ferry("sources", "list", w.stack, "--json"),
    );
    expect(list.map((l) => [l.disk, l.state])).toEqual([
      ["cli-data0", "healthy"],
      ["cli-os", "healthy"],
    ]);
    // Each disk's backfill gave it a recovery point in the DR region; the state store alone answers.
    const points = json<{ blueprint: string; rows: { row: string; disks: { disk: string; points: number }[] }[] }>(
      await ferry("points", w.stack, "--json"),
    );
    expect(points).toMatchObject({
      blueprint: w.stack,
      rows: [
        {
          row: "cli",
          disks: [
            { disk: "os", points: 1 },
            { disk: "lun-0", points: 1 },
          ],
        },
      ],
    });
    expect((await ferry("points", w.stack)).out).toMatch(/row cli: os 1 point, lun-0 1 point\n +point +time +age/);
    const ok = await ferry("precheck", w.stack, "--test", "--json");
    expect(ok.code).toBe(EXIT.ok);
    expect(
      json<{ passed: boolean; facts: { mode: string; recoveryPoints: Record<string, string> } }>(ok),
    ).toMatchObject({ passed: true, facts: { mode: "test" } });

    // The pack's config for a break-glass `pulumi up`: the same facts under each rule that reads them, owner-only.
    const configPath = join(tempDir("ferry-policy-config-"), "facts.json");
    writeFileSync(configPath, "{}", { mode: 0o644 });
    expect(
      (await ferry("precheck", w.stack, "--test", "--operation", "drill-x", "--policy-config", configPath)).code,
    ).toBe(EXIT.ok);
    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    const packConfig = JSON.parse(readFileSync(configPath, "utf8")) as Record<
      string,
      { facts: Record<string, unknown> }
    >;
    expect(Object.keys(packConfig).sort()).toEqual([...FACTS_POLICY_NAMES].sort());
    expect(packConfig["ferry-failover-precheck-passed"]).toMatchObject({
      facts: { blueprint: "bp-cli", passed: true, mode: "test", operation: "drill-x" },
      maxAgeMinutes: 30,
    });

    const unconfirmed = await ferry("failover", w.stack, "--test");
    expect(unconfirmed.code).toBe(EXIT.usage);
    expect(unconfirmed.err).toContain("Not confirmed: nothing was done. Add --yes");
    const drill = await world.whileSyncing(() => ferry("failover", w.stack, "--test", "--yes"));
    expect(drill.code).toBe(EXIT.ok);
    expect(drill.out).toMatch(/failover-test of bp-cli: succeeded/);
    expect(drill.out).toMatch(/cli +cli-test +fromSnapshot +\d+\.\d s/);
    // Row-level logs, as pino JSON lines on stderr.
    const logs = drill.err
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string });
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        "source selected",
        "cli: disk created",
        "cli: NIC created",
        "cli: VM created",
        "cli: recovered",
      ]),
    );
    // The test disks come straight from the sync's DR-side points: no snapshot on the drill's path.
    expect(logs.map((l) => l.msg)).not.toContain("cli: snapshot created");

    const history = json<{ kind: string; status: string; rto?: unknown[] }[]>(
      await ferry("history", w.stack, "--json"),
    );
    expect(history.find((h) => h.kind === "failover-test")).toMatchObject({
      status: "succeeded",
      rto: [expect.objectContaining({ row: "cli" })],
    });
    expect((await ferry("cleanup", w.stack, "--yes")).code).toBe(EXIT.ok);
    expect((await ferry("blueprints", "show", w.stack)).out).toMatch(/mode standby[\s\S]*cli-os +cli +OS +healthy/);

    expect((await ferry("sources", "check-health", w.stack, "--disk", "cli-data0")).out).toBe("cli-data0: verifying");
    const disabled = await ferry("sources", "disable", w.stack, "--yes");
    expect(disabled.out).toMatch(/disabled: cli-os; staging disk .* kept/);
    const appliance = await f.azure.compute.virtualMachines.get(DR.rg, "ferry-appliance");
    expect(
      appliance
        .storageProfile!.dataDisks!.map((d) => d.managedDisk!.id!.toLowerCase())
        .filter((id) => id.includes("/cli-")),
    ).toEqual([]);
    expect((await ferry("precheck", w.stack)).out).toMatch(
      /DR is not enabled for .*cli-os\. Run `ferry sources enable bp-cli`/,
    );
  });

  it("lists every blueprint with its mode, healthy disks and the age of its oldest applied point", async () => {
    const w = await world.workload("lst");
    writeAt(w.sourceDevice("os"), 0, pattern(11, 1024 * 1024));
    const before = json<{ stack: string; healthy: number; disks: number; oldestPointAgeSeconds: number | null }[]>(
      await ferry("blueprints", "list", "--json"),
    ).find((l) => l.stack === w.stack);
    expect(before).toMatchObject({ healthy: 0, disks: 2, oldestPointAgeSeconds: null });
    await ferry("sources", "enable", w.stack, "--prepare", "empty");
    await synced(w);
    const after = json<{ stack: string; mode: string; rows: number; healthy: number; oldestPointAgeSeconds: number }[]>(
      await ferry("blueprints", "list", "--json"),
    ).find((l) => l.stack === w.stack);
    expect(after).toMatchObject({ mode: "standby", rows: 1, healthy: 2 });
    expect(after?.oldestPointAgeSeconds).toBeGreaterThanOrEqual(0);
    expect((await ferry("blueprints", "list")).out).toMatch(new RegExp(`^${w.stack} +standby +1 +2/2 +\\d+ s `, "m"));
  });

  it("drills a blueprint: precheck, test failover, each test disk's snapshot verified, cleanup, report; refuses an unready one with exit 3", async () => {
    const w = await world.workload("dr1", { dataLuns: [0, 1] });
    writeAt(w.sourceDevice("os"), 4096, pattern(11, 2 * 1024 * 1024));
    writeAt(w.sourceDevice(1), 0, pattern(12, 512 * 1024));
    const reportDir = join(tempDir("ferry-drill-"), "report");

    const early = await ferry("drill", w.stack, "--report-dir", reportDir);
    expect(early.code).toBe(EXIT.refused);
    expect(early.out).toMatch(/FAIL {2}precheck \(test network\)[\s\S]*DR is not enabled for .*dr1-os/);
    expect(early.out).not.toMatch(/clean up/);
    expect(JSON.parse(readFileSync(join(reportDir, "summary.json"), "utf8"))).toMatchObject({ ok: false });

    expect((await ferry("sources", "enable", w.stack, "--prepare", "empty")).code).toBe(EXIT.ok);
    await synced(w);
    const r = await world.whileSyncing(() => ferry("drill", w.stack, "--report-dir", reportDir, "--json"));
    expect(
      r.code,
      r.err
        .split("\n")
        .filter((l) => l.includes('"level":50'))
        .join("\n"),
    ).toBe(EXIT.ok);
    const summary = json<{
      ok: boolean;
      strategies: { strategy: string; rtoSeconds: number; verified: boolean }[];
      reportDir: string;
    }>(r);
    expect(summary).toMatchObject({ ok: true, strategies: [{ strategy: "fromSnapshot", verified: true }], reportDir });
    expect(summary.strategies[0]!.rtoSeconds).toBeGreaterThan(0);
    const report = JSON.parse(readFileSync(join(reportDir, "drill.json"), "utf8")) as {
      verifications: { row: string; disk: string; ok: boolean; bytesCompared: number; note: string }[];
      steps: { name: string; status: string }[];
    };
    expect(report.verifications.map((v) => [v.disk, v.ok])).toEqual([
      ["OS", true],
      ["LUN 0", true],
      ["LUN 1", true],
    ]);
    // Through the DR-side point the test disk was made from: no snapshot is taken for the drill.
    expect(report.verifications[0]!.note).toMatch(/^compared through DR-side point ferry-pt-\S+$/);
    expect(report.verifications[0]!.bytesCompared).toBeGreaterThan(2 * 1024 * 1024);
    expect(report.steps.filter((s) => s.status !== "succeeded")).toEqual([]);
    expect(readFileSync(join(reportDir, "index.html"), "utf8")).toContain("ferry drill bp-dr1");
    // Cleaned up: back in standby, no test VM left.
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    await expect(f.azure.compute.virtualMachines.get(DR.rg, "dr1-test")).rejects.toMatchObject({ statusCode: 404 });
  });

  it("prints its version: package.json's, the commit unknown when run from the sources", async () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const r = await ferry("--version");
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toBe(`ferry ${pkg.version} (commit unknown)`);
  });

  it("runs as a command: bin/ferry.mjs with exit codes", () => {
    const help = spawnSync("node", ["bin/ferry.mjs", "precheck", "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--junit");
    const bad = spawnSync("node", ["bin/ferry.mjs", "precheck"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/ferry precheck: name a blueprint, or a plan with --plan <plan>/);
    expect(execFileSync("node", ["--version"], { encoding: "utf8" })).toMatch(/^v2[2-9]\./);
  });
});
