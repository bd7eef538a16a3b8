import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../runbooks/commands/common";
import type { DrillSummary } from "../../runbooks/drill-report";
import { useCliWorld } from "../helpers/cli-world";
import { PRIMARY, DR, type Workload } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";

/** Debian's chromium (or another on the PATH): the report is read in a real browser, never a downloaded one. */
function chromiumOnPath(): string | undefined {
  for (const name of ["chromium", "chromium-browser"]) {
    const r = spawnSync("which", [name], { encoding: "utf8" });
    if (r.status === 0) return r.stdout.trim();
  }
  return undefined;
}
const executablePath = chromiumOnPath();
if (!executablePath)
  console.log(
    "drill report in Chromium skipped: no chromium on the PATH (Debian: apt-get install -y chromium; .ci/run " +
      "installs it); the drill's verdict is still checked",
  );

const cli = useCliWorld();
const reportDir = join(tempDir("ferry-drill-report-"), "report");
/** The application of row repa answers only from here on, so that its app-ready time misses a 1 s RTO target. */
const APP_DELAY_MS = 5000;
let run: { code: number; out: string; err: string };
let summary: DrillSummary;
let w: Workload;
let app: Server;

beforeAll(async () => {
  const world = cli.world;
  // repa attaches as-is (a test drill cannot exercise that), checks OS and app readiness; repb checks nothing.
  w = await world.workload("rep", {
    strategies: [
      { os: "attachAsIs", data: "attachAsIs" },
      { os: "fromSnapshot", data: "fromSnapshot" },
    ],
  });
  app = createServer((s) => s.end());
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => resolve(p));
    });
  });
  const config = await world.ctx.deployer.getConfig(w.stack);
  const bp = config.blueprint as { rows: Record<string, unknown>[] };
  await world.ctx.deployer.setConfig(w.stack, {
    ...config,
    blueprint: {
      ...bp,
      rpoTargetSeconds: 3600,
      rtoTargetSeconds: 1,
      rows: [
        {
          ...bp.rows[0],
          readiness: { os: true, app: { kind: "tcp", port, host: "127.0.0.1" }, timeoutSeconds: 60 },
        },
        bp.rows[1],
      ],
    },
  });
  expect((await cli.ferry(["sources", "enable", w.stack, "--prepare", "empty"])).code).toBe(EXIT.ok);
  const ids = w.vms.flatMap((v) => [v.osDiskId, ...v.dataDiskIds.values()]);
  await world.syncUntil(
    async () =>
      (await Promise.all(ids.map((id) => world.ctx.store.get(id)))).every(
        (r) => r?.source.state === "healthy" && !r.source.applying,
      ),
    "healthy",
    world.sourcesOf(w),
  );
  const opening = setTimeout(() => app.listen(port, "127.0.0.1"), APP_DELAY_MS);
  try {
    run = await world.whileSyncing(() => cli.ferry(["drill", w.stack, "--report-dir", reportDir, "--json"]));
  } finally {
    clearTimeout(opening);
  }
  summary = JSON.parse(readFileSync(join(reportDir, "summary.json"), "utf8")) as DrillSummary;
}, 180_000);

afterAll(() => {
  app?.close();
});

describe("ferry drill against the blueprint's targets", () => {
  it("fails with exit 5 when it ran and verified but missed the RTO target", () => {
    expect(run.code, run.out).toBe(EXIT.targetMissed);
    expect(JSON.parse(run.out)).toMatchObject({ ok: false, verdict: "targetMissed", reportDir });
    expect(summary.targets.rpo).toMatchObject({ targetSeconds: 3600, met: true });
    expect(summary.targets.rto).toMatchObject({ targetSeconds: 1, met: false });
    expect(summary.targetsMissed).toEqual([expect.stringMatching(/^RTO [\d.]+ s is over the target of 1 s/)]);
    // The drill's RTO is repa's app-ready time: the slowest readiness point of any row.
    const repa = summary.rows.find((r) => r.row === "repa")!;
    expect(repa.appReady).toEqual({ seconds: summary.targets.rto!.measuredSeconds });
  });
});

describe.skipIf(!executablePath)("the drill report in headless Chromium", () => {
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: executablePath!, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("request", (r) => requested.push(r.url()));
    await page.goto(pathToFileURL(join(reportDir, "index.html")).href);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  const shown = async (selector: string) => {
    const e = page.locator(selector);
    expect(await e.isVisible(), `${selector} is visible`).toBe(true);
    return e.innerText();
  };

  it("shows the banner: verdict, emulation, ferry's version and commit, subscription, regions, who, when", async () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const banner = await shown("#banner");
    expect(banner).toMatch(/^ferry drill bp-rep\s+FAILED/);
    expect(await shown("#emulated")).toMatch(
      new RegExp(
        "^Not Azure: emulated latencies\\. " +
          "Latencies are emulated \\(the local Azure, profile zero: operations finish at once\\)",
      ),
    );
    const facts = Object.fromEntries(
      (await page.locator("#facts tr").allInnerTexts()).map((t) => t.split("\t").map((c) => c.trim())),
    ) as Record<string, string>;
    expect(facts.ferry).toMatch(
      new RegExp(`^${pkg.version.replace(/\./g, "\\.")} \\(commit [0-9a-f]{40}(-dirty)?\\)$`),
    );
    expect(facts.subscription).toBe(cli.world.config.azure.subscriptionId);
    expect(facts["source region"]).toBe(PRIMARY.location);
    expect(facts["DR region"]).toBe(DR.location);
    expect(facts["run by"]).toContain(`${userInfo().username} on `);
    expect(facts["run by"]).toContain("the local emulator's test token");
    expect(facts.started).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    expect(Math.abs(Date.parse(facts.started!.replace(" UTC", "Z").replace(" ", "T")) - Date.now())).toBeLessThan(
      600_000,
    );
    expect(await shown("#verdict")).toMatch(
      /^Verdict: FAILED — a target was missed: RTO [\d.]+ s is over the target of 1 s/,
    );
  });

  it("shows each target with what was measured and PASS or FAIL", async () => {
    const rows = await page.locator("#targets tbody tr:not(:has(td.why))").allInnerTexts();
    const cells = rows.map((r) => r.split("\t").map((c) => c.trim()));
    expect(cells).toEqual([
      ["RPO", "3600 s", `${summary.rpoSeconds!.toFixed(1)} s`, "PASS"],
      ["RTO", "1 s", `${summary.targets.rto!.measuredSeconds!.toFixed(1)} s`, "FAIL"],
    ]);
  });

  it("shows each row's VM-created, OS-ready and app-ready times, or why a row does not check one", async () => {
    const cells = (await page.locator("#rows tbody tr").allInnerTexts()).map((r) => r.split("\t").map((c) => c.trim()));
    const at = (n: number | null | undefined) => `${n!.toFixed(1)} s`;
    const [a, b] = [summary.rows.find((r) => r.row === "repa")!, summary.rows.find((r) => r.row === "repb")!];
    expect(a.osReady).toEqual({ seconds: expect.any(Number) });
    expect(cells).toEqual([
      [
        "test failover",
        "repa",
        "repa-test",
        "fromSnapshot",
        at(a.vmCreatedSeconds),
        at("seconds" in a.osReady ? a.osReady.seconds : null),
        at("seconds" in a.appReady ? a.appReady.seconds : null),
        at(a.rtoSeconds),
        "1 s",
        "FAIL",
      ],
      [
        "test failover",
        "repb",
        "repb-test",
        "fromSnapshot",
        at(b.vmCreatedSeconds),
        "—\nthe row does not check it (readiness.os is not set)",
        "—\nthe row has no application probe (readiness.app is not set)",
        at(b.vmCreatedSeconds),
        "1 s",
        expect.stringMatching(/^(PASS|FAIL)$/),
      ],
    ]);
  });

  it("says that the test drill did not exercise attach-as-is, and which command would", async () => {
    expect(await shown("#not-exercised")).toBe(
      "Not exercised: attachAsIs (rows repa). A test drill never exercises attach-as-is: it creates every disk from " +
        "a snapshot so that replication goes on. Only a real failover attaches the staging disks as they are: " +
        "`ferry failover bp-rep --planned` (or `--unplanned`), or `npm run drill` on the local Azure.",
    );
  });

  it("draws a legend and the timeline's markers: failover start, each readiness point, the RTO target", async () => {
    const legend = await shown("#legend");
    for (const item of ["failover start", "VM created", "OS ready", "app ready", "RTO target (1 s)"])
      expect(legend).toContain(item);
    const count = (selector: string) => page.locator(`#timeline ${selector}`).count();
    expect(await count("line.start")).toBe(1);
    expect(await count(".mark.vm")).toBe(2);
    expect(await count(".mark.os")).toBe(1);
    expect(await count(".mark.app")).toBe(1);
    expect(await count("line.target")).toBe(1);
    // Every marker lies inside the drawing, where a reader sees it.
    const box = (await page.locator("#timeline").boundingBox())!;
    for (const m of await page.locator("#timeline .mark, #timeline line.target, #timeline line.start").all()) {
      const b = (await m.boundingBox())!;
      expect(b.x).toBeGreaterThanOrEqual(box.x);
      expect(b.x + b.width).toBeLessThanOrEqual(box.x + box.width + 1);
    }
  });

  it("opens offline (it asks for nothing but itself) and prints", async () => {
    expect(requested.filter((u) => !u.startsWith("file://"))).toEqual([]);
    await page.emulateMedia({ media: "print" });
    const pdf = await page.pdf({ format: "A4", landscape: true });
    expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
    expect(await page.locator("#banner").isVisible()).toBe(true);
  });
});
