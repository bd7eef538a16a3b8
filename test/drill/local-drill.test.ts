import { spawnSync as runSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DrillSummary } from "../../runbooks/drill-report";
import { tempDir } from "../helpers/emulator";
import { attr, bodyRows, byId, elements, parseReport, text } from "../helpers/html";
import { spawnScript, waitFor } from "../helpers/processes";

function chromium(): string | undefined {
  for (const name of ["chromium", "chromium-browser"]) {
    const r = runSync("which", [name], { encoding: "utf8" });
    if (r.status === 0) return r.stdout.trim();
  }
  return undefined;
}

function portOf(line: string | undefined, scheme: string): number {
  const m = new RegExp(`${scheme}://127\\.0\\.0\\.1:(\\d+)`).exec(line ?? "");
  if (!m) throw new Error(`no ${scheme} endpoint in ${line}`);
  return Number(m[1]);
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

const browser = chromium();

describe("npm run drill", () => {
  const reportDir = join(tempDir("ferry-drill-report-"), "drill-report");
  let summary: DrillSummary | undefined;

  it("fails over with each strategy, verifies every disk, writes the report and exits 0", async () => {
    // --keep, then Ctrl-C once it has ended: the result stays (exit 0, PASSED) and its temp folder goes.
    const tmp = tempDir("ferry-drill-tmp-");
    const run = spawnScript("local/drill.ts", ["--report-dir", reportDir, "--speedup", "20", "--keep"], {
      ...process.env,
      TMPDIR: tmp,
    });
    await waitFor(
      async () => run.stdout.some((l) => l.includes("keep serving until Ctrl-C")) || run.child.exitCode !== null,
      "the drill's end",
      330_000,
      200,
    );
    run.child.kill("SIGINT");
    const { code } = await run.exited;
    const out = run.stdout.join("\n");
    expect(out).toMatch(/servers stopped; the drill's report stays in/);
    expect(readdirSync(tmp).filter((f) => f.startsWith("ferry-drill-"))).toEqual([]);
    expect(code, `${out}\n${run.stderr.join("")}`).toBe(0);
    expect(out).toMatch(/drill PASSED/);
    expect(out).toMatch(/attachAsIs +RTO +\d+\.\d s +data verified, byte for byte/);
    expect(out).toMatch(/fromSnapshot +RTO +\d+\.\d s +data verified, byte for byte/);

    summary = JSON.parse(readFileSync(join(reportDir, "summary.json"), "utf8")) as DrillSummary;
    expect(summary).toEqual({
      ok: true,
      strategies: [
        { strategy: "attachAsIs", rtoSeconds: expect.any(Number), verified: true },
        { strategy: "fromSnapshot", rtoSeconds: expect.any(Number), verified: true },
      ],
      rpoSeconds: expect.any(Number),
      failback: { verified: true, bytesMoved: expect.any(Number), seconds: expect.any(Number) },
      verdict: "passed",
      rows: [
        expect.objectContaining({ row: "weba", strategy: "attachAsIs", osReady: { seconds: expect.any(Number) } }),
        expect.objectContaining({ row: "webb", strategy: "fromSnapshot", osReady: { seconds: expect.any(Number) } }),
      ],
      // The local blueprint sets no targets; its times are scaled by the speed-up.
      targets: { scale: 20, rpo: null, rto: null },
      targetsMissed: [],
      notExercised: [],
    });
    for (const s of summary.strategies) expect(s.rtoSeconds).toBeGreaterThan(0);
    // Delta only: what the DR VMs wrote (32 + 4 blocks of 64 KiB per data disk, two VMs) and the
    // primary's replicated writes after the failover's point, never whole 1 GiB disks.
    expect(summary.failback!.bytesMoved).toBeGreaterThanOrEqual(2 * 4 * 64 * 1024);
    expect(summary.failback!.bytesMoved).toBeLessThan(64 * 1024 ** 2);
    expect(out).toMatch(/failback +[\d.]+ MiB copied home in [\d.]+ s, data verified, byte for byte/);
    expect(summary.rpoSeconds).toBeGreaterThan(0);
    // The servers it started are gone.
    expect(
      await listening(
        portOf(
          run.stdout.find((l) => l.includes("local Azure")),
          "https",
        ),
      ),
    ).toBe(false);
  }, 360_000);

  it("writes an HTML report that parses cleanly: RTO per strategy, RPO, the timeline and every verified disk", () => {
    expect(summary, "the drill above must have run").toBeDefined();
    const { all, errors } = parseReport(readFileSync(join(reportDir, "index.html"), "utf8"));
    expect(errors).toEqual([]);

    const strategies = bodyRows(byId(all, "strategies"));
    expect(strategies.map((r) => r[0])).toEqual(["attachAsIs", "fromSnapshot"]);
    for (const [i, r] of strategies.entries()) {
      expect(Number(r[1])).toBeCloseTo(summary!.strategies[i]!.rtoSeconds!, 1);
      expect(r[2]).toBe("yes");
    }
    expect(text(byId(all, "rpo"))).toContain(`${summary!.rpoSeconds!.toFixed(1)} s`);
    expect(text(byId(all, "emulated"))).toMatch(/profile azure\) and sped up 20×: every time in this report is/);

    expect(text(byId(all, "failback"))).toMatch(
      /copied home \(delta only\) in [\d.]+ s; returned disks verified byte for byte/,
    );

    // Two VMs, an OS and a data disk each, after the test failover and after the unplanned one; after
    // the failback, each returned disk and each staging disk once forward sync resumed.
    const verified = bodyRows(byId(all, "verifications"));
    expect(verified).toHaveLength(16);
    for (const r of verified) expect(r[7]).toMatch(/^identical/);
    expect(verified.filter((r) => r[3] === "OS").map((r) => r[7])).toEqual(
      Array(6).fill(expect.stringMatching(/ext4 clean \(e2fsck\), \d+ inodes, hostname web[ab]/)),
    );
    expect(verified.filter((r) => r[0] === "failback").map((r) => r[3])).toEqual([
      "OS",
      "LUN 0",
      "OS",
      "LUN 0",
      "staging of OS",
      "staging of LUN 0",
      "staging of OS",
      "staging of LUN 0",
    ]);

    const drill = JSON.parse(readFileSync(join(reportDir, "drill.json"), "utf8")) as {
      steps: { lane: string; name: string }[];
    };
    const svg = byId(all, "timeline");
    const [, , width] = attr(svg, "viewBox")!.split(" ").map(Number);
    const bars = elements(svg).filter((e) => e.tagName === "rect" && attr(e, "class")?.startsWith("bar "));
    expect(bars).toHaveLength(drill.steps.length);
    for (const b of bars) {
      expect(attr(b, "class")).toBe("bar succeeded");
      expect(Number(attr(b, "x")) + Number(attr(b, "width"))).toBeLessThanOrEqual(width! + 0.5);
    }
    // Each row's resources have a lane of their own.
    const lanes = elements(svg)
      .filter((e) => e.tagName === "text" && attr(e, "class") === "lane")
      .map((e) => text(e));
    expect(lanes).toEqual(
      expect.arrayContaining(["unplanned failover: weba (attachAsIs)", "unplanned failover: webb (fromSnapshot)"]),
    );
  });

  it.skipIf(!browser)("renders in headless Chromium", () => {
    expect(summary, "the drill above must have run").toBeDefined();
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];
    const url = `file://${join(reportDir, "index.html")}`;
    const dom = runSync(browser!, [...flags, "--dump-dom", url], { encoding: "utf8", timeout: 60_000 });
    expect(dom.status, dom.stderr).toBe(0);
    expect(dom.stdout).toMatch(/<table id="strategies">[\s\S]*attachAsIs[\s\S]*fromSnapshot/);
    const png = join(reportDir, "screenshot.png");
    const shot = runSync(browser!, [...flags, `--screenshot=${png}`, "--window-size=1200,1600", url], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(shot.status, shot.stderr).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    expect(statSync(png).size).toBeGreaterThan(20_000);
  });
  if (!browser)
    console.log(
      "headless Chromium check skipped: no chromium on the PATH (Debian: apt-get install chromium); the report was parsed instead",
    );

  it("stops its servers and exits 130 on Ctrl-C, with a report that says it was interrupted", async () => {
    const dir = join(tempDir("ferry-drill-int-"), "report");
    const run = spawnScript("local/drill.ts", ["--report-dir", dir, "--speedup", "20"]);
    const endpoints = await waitFor(
      async () => run.stdout.find((l) => l.includes("local Azure https://")),
      "the drill's servers",
      60_000,
    );
    await waitFor(async () => run.stdout.some((l) => l.includes("ok    build the DR region")), "the DR region", 60_000);
    run.child.kill("SIGINT");
    const { code } = await run.exited;
    // What the drill said: an exit other than 130 is explained by its own output.
    expect(code, `${run.stdout.join("\n")}\n${run.stderr.join("")}`).toBe(130);
    expect(run.stdout.join("\n")).toMatch(/interrupted: servers stopped/);
    expect(await listening(portOf(endpoints, "https"))).toBe(false);
    expect(await listening(portOf(endpoints, "http"))).toBe(false);
    const s = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as DrillSummary;
    expect(s.ok).toBe(false);
    expect(readFileSync(join(dir, "drill.json"), "utf8")).toContain("interrupted (SIGINT)");
    expect(existsSync(join(dir, "index.html"))).toBe(true);
  }, 120_000);
});
