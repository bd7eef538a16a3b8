import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { guestFsUnavailable } from "../../local/guest-fs";
import type { DrillSummary } from "../../runbooks/drill-report";
import { tempDir } from "../helpers/emulator";
import { bodyRows, byId, parseReport, text } from "../helpers/html";
import { spawnScript } from "../helpers/processes";

const noGuestFs = guestFsUnavailable();
if (noGuestFs) console.log(`npm run drill -- --scenario ransomware skipped: ${noGuestFs}`);

describe("npm run drill -- --scenario", () => {
  it("refuses a scenario it does not know, and one given with --plan, with exit 2", async () => {
    for (const args of [
      ["--scenario", "flood"],
      ["--plan", "--scenario", "ransomware"],
    ]) {
      const run = spawnScript("local/drill.ts", [...args, "--report-dir", join(tempDir("ferry-rw-usage-"), "r")]);
      const { code } = await run.exited;
      expect(code, args.join(" ")).toBe(2);
      expect(run.stderr.join(""), args.join(" ")).toMatch(/--scenario takes ransomware|two different drills/);
    }
  });

  it.skipIf(noGuestFs !== undefined)(
    "ransomware: ferry points shows both sides, the restore has the good files, latest the garbage; exit 0",
    async () => {
      const reportDir = join(tempDir("ferry-rw-report-"), "drill-report");
      const tmp = tempDir("ferry-rw-tmp-");
      const run = spawnScript(
        "local/drill.ts",
        ["--scenario", "ransomware", "--report-dir", reportDir, "--speedup", "20"],
        {
          ...process.env,
          TMPDIR: tmp,
        },
      );
      const { code } = await run.exited;
      const out = run.stdout.join("\n");
      expect(code, `${out}\n${run.stderr.join("")}`).toBe(0);
      expect(out).toMatch(/drill PASSED/);
      expect(readdirSync(tmp).filter((f) => f.startsWith("ferry-drill-"))).toEqual([]);

      const summary = JSON.parse(readFileSync(join(reportDir, "summary.json"), "utf8")) as DrillSummary;
      const rw = summary.ransomware!;
      expect(rw).toMatchObject({ ok: true, row: "ledger", requested: rw.damageAt });
      expect(rw.pointsBefore).toBeGreaterThan(0);
      expect(rw.pointsAfter).toBeGreaterThan(0);
      // The point restored is the newest before the damage.
      expect(Date.parse(rw.chosen!.time)).toBeLessThan(Date.parse(rw.damageAt));
      expect(rw.chosen!.beforeDamageSeconds).toBeGreaterThan(0);
      expect(rw.chosen!.ageSeconds).toBeGreaterThan(rw.chosen!.beforeDamageSeconds);
      expect(rw.checks.map((c) => [c.failover, c.fsckClean, c.good, c.garbage, c.other])).toEqual([
        ["before the damage", true, 12, 0, []],
        ["latest", true, 0, 12, []],
      ]);
      expect(summary.strategies).toEqual([
        { strategy: "fromSnapshot", rtoSeconds: expect.any(Number), verified: true },
      ]);
      expect(out).toContain(`ransomware    restored point ${rw.chosen!.id} of ${rw.chosen!.time}`);

      // The CLI's own output and log: `ferry points` printed, the restore recovered an older point.
      expect(out).toMatch(/Recovery points of bp-ledger in the DR region/);
      const log = readFileSync(join(reportDir, "drill.log"), "utf8");
      expect(log).toContain("an older point, recovered from its DR-side snapshot");

      const { all, errors } = parseReport(readFileSync(join(reportDir, "index.html"), "utf8"));
      expect(errors).toEqual([]);
      expect(text(byId(all, "ransomware-damage"))).toContain(`recovered point ${rw.chosen!.id}`);
      expect(bodyRows(byId(all, "ransomware-files")).map((r) => [r[0], r[4], r[5], r[7]])).toEqual([
        ["before the damage", "12", "0", "as expected (good)"],
        ["latest", "0", "12", "as expected (garbage)"],
      ]);
      expect(text(byId(all, "ransomware-points"))).toContain(rw.chosen!.id);
      // Each test VM's OS and data disk, compared byte for byte with its DR-side point.
      expect(bodyRows(byId(all, "verifications")).map((r) => [r[0], r[3], r[7]])).toEqual([
        ["before the damage", "OS", "identical"],
        ["before the damage", "LUN 0", "identical"],
        ["latest", "OS", "identical"],
        ["latest", "LUN 0", "identical"],
      ]);
    },
    360_000,
  );
});
