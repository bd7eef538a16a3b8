import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  DrillRecorder,
  type DrillBlueprint,
  type DrillProvenance,
  type RansomwareCheck,
} from "../../../runbooks/drill-report";
import { ferryBuild, signedInAs, whoRan } from "../../../runbooks/drill-provenance";
import type { Operation } from "../../../runbooks/journal";

const made: string[] = [];
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "ferry-drill-report-"));
  made.push(d);
  return d;
}
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** web checks OS and app readiness and names attach-as-is; db checks nothing beyond its VM. */
function blueprint(targets: { rpoTargetSeconds?: number; rtoTargetSeconds?: number } = {}): DrillBlueprint {
  return {
    name: "bp-web",
    ...targets,
    rows: [
      {
        name: "web",
        osStrategy: "attachAsIs",
        dataStrategy: "fromSnapshot",
        readiness: { os: true, app: { kind: "tcp", port: 8080 }, timeoutSeconds: 900 },
      },
      { name: "db", osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot" },
    ],
  };
}

const provenance: DrillProvenance = {
  ferry: { version: "1.2.3", commit: "0123abc" },
  subscriptionId: "00000000-0000-0000-0000-000000000001",
  sourceRegions: ["westeurope"],
  drRegion: "northeurope",
  operator: "ops on agent-1",
};

/** A drill as `ferry drill` records it: its test failover through addOperation, each disk verified. */
async function drilled(bp: DrillBlueprint, p: DrillProvenance = provenance): Promise<DrillRecorder> {
  let clock = Date.now();
  const rec = new DrillRecorder("ferry drill bp-web", () => clock);
  rec.blueprint = bp;
  rec.provenance = p;
  const start = new Date(rec.startedAt.getTime() + 1000).toISOString();
  const op: Operation = {
    id: "failover-test-1",
    kind: "failover-test",
    blueprint: "bp-web",
    startedAt: start,
    endedAt: new Date(rec.startedAt.getTime() + 40_000).toISOString(),
    status: "succeeded",
    rpoSeconds: 42.04,
    steps: [{ name: "pulumi up (mode test)", startedAt: start, status: "succeeded", endedAt: start }],
    rto: [
      { row: "web", vm: "web-test", strategy: "fromSnapshot", vmCreatedSeconds: 12.5, osReadySeconds: 20 },
      { row: "db", vm: "db-test", strategy: "fromSnapshot", vmCreatedSeconds: 14 },
    ],
    events: [
      { row: "web", resource: "VirtualMachine", name: "web-test", action: "created", atSeconds: 12.5, ms: 9000 },
    ],
  };
  op.rto[0]!.appReadySeconds = 31;
  await rec.step("drill", "test failover", async () => {
    clock += 41_000;
    return op;
  });
  rec.addOperation(op, "test failover", true);
  for (const row of ["web", "db"])
    rec.verifications.push({
      failover: "test",
      row,
      vm: `${row}-test`,
      disk: "OS",
      strategy: "fromSnapshot",
      recoveryPoint: "/subscriptions/x/snapshots/p1",
      ok: true,
      bytesCompared: 1024,
      sizeBytes: 1024,
    });
  return rec;
}

describe("the drill report's verdict", () => {
  it("passes when every target is met, each row's RTO ending at the last readiness point it checks", async () => {
    const s = (await drilled(blueprint({ rpoTargetSeconds: 60, rtoTargetSeconds: 40 }))).summary();
    expect(s.verdict).toBe("passed");
    expect(s.ok).toBe(true);
    expect(s.rows.map((r) => [r.row, r.vmCreatedSeconds, r.osReady, r.appReady, r.rtoSeconds, r.rtoMet])).toEqual([
      ["web", 12.5, { seconds: 20 }, { seconds: 31 }, 31, true],
      [
        "db",
        14,
        { notChecked: expect.stringContaining("readiness.os is not set") },
        { notChecked: expect.stringContaining("readiness.app is not set") },
        14,
        true,
      ],
    ]);
    expect(s.targets).toEqual({
      scale: 1,
      rpo: { targetSeconds: 60, measuredSeconds: 42, judgedSeconds: 42, met: true },
      rto: { targetSeconds: 40, measuredSeconds: 31, judgedSeconds: 31, met: true },
    });
  });

  it("fails with verdict targetMissed when the slowest row is over the RTO target, saying by how much", async () => {
    const s = (await drilled(blueprint({ rtoTargetSeconds: 30 }))).summary();
    expect(s.ok).toBe(false);
    expect(s.verdict).toBe("targetMissed");
    expect(s.rows.map((r) => r.rtoMet)).toEqual([false, true]);
    expect(s.targetsMissed).toEqual(["RTO 31 s is over the target of 30 s (rtoTargetSeconds)"]);
  });

  it("fails on the RPO target alone", async () => {
    const s = (await drilled(blueprint({ rpoTargetSeconds: 30 }))).summary();
    expect(s.verdict).toBe("targetMissed");
    expect(s.targetsMissed).toEqual(["RPO 42 s is over the target of 30 s (rpoTargetSeconds)"]);
    expect(s.targets.rto).toBeNull();
  });

  it("judges times measured against a sped-up emulator at Azure's pace: measured × the speed-up", async () => {
    const emulated = { ...provenance, emulation: { profile: "azure", speedup: 10 } };
    const s = (await drilled(blueprint({ rtoTargetSeconds: 120 }), emulated)).summary();
    expect(s.targets.rto).toEqual({ targetSeconds: 120, measuredSeconds: 31, judgedSeconds: 310, met: false });
    expect(s.targetsMissed).toEqual(["RTO 310 s (31 s measured × 10) is over the target of 120 s (rtoTargetSeconds)"]);
  });

  it("says a test drill did not exercise attach-as-is, and which command would", async () => {
    const s = (await drilled(blueprint())).summary();
    expect(s.notExercised).toEqual([
      { strategy: "attachAsIs", rows: ["web"], note: expect.stringContaining("`ferry failover bp-web --planned`") },
    ]);
    expect(s.notExercised[0]!.note).toMatch(/^A test drill never exercises attach-as-is/);
  });

  it("is failed, not targetMissed, when a disk did not verify", async () => {
    const rec = await drilled(blueprint({ rtoTargetSeconds: 30 }));
    rec.verifications[1]!.ok = false;
    expect(rec.summary().verdict).toBe("failed");
  });
});

describe("the drill report page", () => {
  const page = (rec: DrillRecorder) => {
    const dir = scratch();
    rec.write(dir);
    return readFileSync(join(dir, "index.html"), "utf8");
  };

  it("escapes every text it shows", async () => {
    const rec = await drilled(blueprint(), { ...provenance, operator: `<img src="x.png">` });
    rec.error = `<script>alert(1)</script>`;
    const html = page(rec);
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src=&quot;x.png&quot;&gt;");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("loads nothing from elsewhere: it opens offline", async () => {
    const html = page(await drilled(blueprint({ rtoTargetSeconds: 30 })));
    // The one URL is the SVG namespace: a name, never fetched.
    expect(html.match(/(?:src|href)=|url\(|@import|https?:\/\//g)).toEqual(["http://"]);
    expect(html).toContain('xmlns="http://www.w3.org/2000/svg"');
  });
});

describe("the drill report's provenance", () => {
  it("names the OS user, the host and the configured identity: never a token", () => {
    const who = whoRan(
      { kind: "workloadIdentity", clientId: "11111111-2222-3333-4444-555555555555" },
      { FERRY_HOST: "agent-7", BUILD_REQUESTEDFOR: "Ada Lovelace", AZURE_FEDERATED_TOKEN: "eyJsecret" },
    );
    expect(who).toMatch(
      new RegExp(
        "^\\S+ on agent-7, signed in to Azure as workload identity " +
          "\\(client id 11111111-2222-3333-4444-555555555555\\); pipeline run requested by Ada Lovelace$",
      ),
    );
    expect(who).not.toContain("eyJ");
  });

  /** A credential whose token is an unsigned JWT with these claims. */
  const tokenWith = (claims: Record<string, string>) => ({
    getToken: () =>
      Promise.resolve({
        token: `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`,
        expiresOnTimestamp: Date.now() + 3_600_000,
      }),
  });

  it("names the person a user token was issued to, with their object id", async () => {
    const who = await signedInAs(tokenWith({ upn: "ada@contoso.com", oid: "o-1", idtyp: "user" }), "s/.default");
    expect(who).toBe("user ada@contoso.com (object id o-1)");
  });

  it("names the application of an app-only token, and a managed identity by its resource name", async () => {
    expect(await signedInAs(tokenWith({ appid: "a-1", oid: "o-2", idtyp: "app" }), "s")).toBe(
      "application a-1 (object id o-2)",
    );
    const mirid = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ferry";
    expect(await signedInAs(tokenWith({ appid: "a-2", xms_mirid: mirid }), "s")).toBe(
      "managed identity ferry (app id a-2)",
    );
  });

  it("says nothing from a token that is not a JWT or does not come, and never repeats the token", async () => {
    expect(
      await signedInAs({ getToken: () => Promise.resolve({ token: "ferry-local", expiresOnTimestamp: 0 }) }, "s"),
    ).toBeUndefined();
    expect(await signedInAs({ getToken: () => Promise.reject(new Error("no sign-in")) }, "s")).toBeUndefined();
    const who = whoRan({ kind: "default" }, { FERRY_HOST: "h" }, "user ada@contoso.com (object id o-1)");
    expect(who).toMatch(/signed in to Azure as the DefaultAzureCredential chain; the token names user ada@contoso.com/);
    expect(who).not.toContain("eyJ");
  });

  it("takes the commit from the build, else from git where the sources are, else says unknown", () => {
    expect(ferryBuild(scratch(), { version: "1.0.0", commit: "abc" })).toEqual({ version: "1.0.0", commit: "abc" });
    expect(ferryBuild(scratch(), { version: "1.0.0", commit: "unknown" })).toEqual({
      version: "1.0.0",
      commit: "unknown",
    });
    expect(ferryBuild(import.meta.dirname, { version: "1.0.0", commit: "unknown" }).commit).toMatch(
      /^[0-9a-f]{40}(-dirty)?$/,
    );
  });
});

describe("the drill report's ransomware scenario", () => {
  const check = (expected: "good" | "garbage", good: number, garbage: number): RansomwareCheck => ({
    failover: expected === "good" ? "before the damage" : "latest",
    recoveryPoint: expected === "good" ? "2026-12-02T05:00:00.000Z" : "latest",
    expected,
    fsckClean: true,
    fsck: "/dev/loop0: 23/65536 files",
    files: 12,
    good,
    garbage,
    other: [],
    ok: (expected === "good" ? good : garbage) === 12,
  });
  const attacked = async (latest = check("garbage", 0, 12)): Promise<DrillRecorder> => {
    const rec = await drilled(blueprint());
    rec.ransomware = {
      row: "web",
      damageAt: "2026-12-02T05:00:00.000Z",
      requested: "2026-12-02T05:00:00.000Z",
      chosen: {
        id: "web-20261202T045955Z-ab12",
        time: "2026-12-02T04:59:57.000Z",
        ageSeconds: 9.5,
        beforeDamageSeconds: 3,
        spreadMs: 12,
      },
      pointsBefore: 2,
      pointsAfter: 2,
      pointsListing: "row web: os 4 points <lun-0>",
      checks: [check("good", 12, 0), latest],
    };
    return rec;
  };

  it("carries the scenario in the summary (without the listing) and passes when it all held", async () => {
    const s = (await attacked()).summary();
    expect(s.verdict).toBe("passed");
    expect(s.ransomware).toMatchObject({ ok: true, damageAt: "2026-12-02T05:00:00.000Z", pointsBefore: 2 });
    expect(s.ransomware).not.toHaveProperty("pointsListing");
  });

  it("fails when latest does not hold the garbage: the drill proved nothing", async () => {
    const s = (await attacked(check("garbage", 12, 0))).summary();
    expect(s.ransomware!.ok).toBe(false);
    expect(s.verdict).toBe("failed");
  });

  it("fails when no point was restored", async () => {
    const rec = await attacked();
    delete rec.ransomware!.chosen;
    expect(rec.summary().verdict).toBe("failed");
    expect(rec.table()).toContain("no point restored");
  });

  it("shows the damage, the point chosen, each comparison and the listing, escaped", async () => {
    const dir = scratch();
    const rec = await attacked();
    rec.write(dir);
    const html = readFileSync(join(dir, "index.html"), "utf8");
    expect(html).toContain("recovered point <code>web-20261202T045955Z-ab12</code> of 2026-12-02T04:59:57.000Z");
    expect(html).toContain("taken 3.0 s before the damage, 9.5 s old when its failover began, its disks 12 ms apart");
    expect(html).toContain('<pre id="ransomware-points">row web: os 4 points &lt;lun-0&gt;</pre>');
    expect(html).toMatch(/<td>latest<\/td>.*<td class="num">0<\/td><td class="num">12<\/td>/);
    expect(rec.table()).toMatch(/ransomware {4}latest \(latest\): e2fsck clean, 0\/12 files good, 12\/12 garbage/);
  });
});
