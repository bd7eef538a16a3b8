import { PassThrough } from "node:stream";
import type { RunningEmulator } from "@ferry/emulator";
import { sameResourceId } from "../core/resource-id";
import { loadBlueprint } from "../runbooks/blueprints";
import type { CliIo } from "../runbooks/commands/common";
import type { DrillRecorder, RansomwareCheck } from "../runbooks/drill-report";
import type { Operation } from "../runbooks/journal";
import type { PointsReport } from "../runbooks/points";
import { verifyAgainstPoint } from "../runbooks/verify";
import { writeLocalCliFiles } from "./cli-files";
import { syncNewPoints } from "./dr-points";
import { runLocalCli } from "./ferry";
import { compareLedger, LEDGER_FILES, readLedgerFiles, writeLedgerFiles } from "./ledger-files";
import { DR, type LocalWorld } from "./world";

/** Options of {@link runLocalRansomwareDrill}. */
export interface LocalRansomwareDrillOptions {
  world: LocalWorld;
  emu: RunningEmulator;
  /** Azurite's connection string, for the `ferry` CLI's environment. */
  tableConnectionString: string;
  /** The drill's recorder: its steps, failovers, verifications and the scenario go into its report. */
  rec: DrillRecorder;
  /** A folder of the drill's own: the CLI's `ferry.json` goes there. */
  dir: string;
  /** Where the CLI's log lines go (the drill's log): a stream that takes whole lines. */
  cliLog: NodeJS.WritableStream;
  print: (line: string) => void;
}

/** The row (and VM) the scenario attacks, and its blueprint `bp-ledger`. */
const ROW = "ledger";

/**
 * `npm run drill -- --scenario ransomware`: an application writes ledger files on its VM's ext4 data disk, the sync
 * daemon takes recovery points, then ransomware overwrites every file with garbage (in two passes, a point after each).
 * `ferry points` must list points on both sides of the damage. A test failover to the time the damage began
 * (`ferry failover --test --recovery-point <time>`, the CLI as an operator runs it) must recover the good files, and
 * one to `latest` the garbage: each recovered disk is compared byte for byte with its DR-side point, its file system
 * checked with `e2fsck -fn` and mounted, and every file compared by hash with what was written. Root only (mounts).
 */
export async function runLocalRansomwareDrill(o: LocalRansomwareDrillOptions): Promise<void> {
  const { world: w, rec, print } = o;
  const ctx = w.ctx;
  const { configPath } = writeLocalCliFiles({
    dir: o.dir,
    config: w.config,
    tableConnectionString: o.tableConnectionString,
    startedBy: "npm run drill -- --scenario ransomware",
  });
  /** Runs `ferry …` in-process as an operator would (its log to the drill's log); throws when it fails. */
  const ferry = async (args: string[]): Promise<string> => {
    const out: string[] = [];
    const err = new PassThrough();
    const said: string[] = [];
    err.on("data", (c: Buffer) => {
      said.push(c.toString());
      o.cliLog.write(c);
    });
    const io: CliIo = { out: (t) => out.push(t), logStream: err, logIsTty: false, env: { ...w.env } };
    const code = await runLocalCli([...args, "--config", configPath], io);
    if (code !== 0)
      throw new Error(
        `ferry ${args.join(" ")} exited ${code}: ${said.join("").trim().split("\n").slice(-2).join(" ")}`,
      );
    return out.join("\n");
  };

  const app = await rec.step("drill", "create the primary VM (ext4 data disk) and the blueprint", async () => {
    // A test failover creates every disk from a point: the blueprint says so, and nothing goes unexercised.
    const wl = await w.workload(ROW, { strategies: [{ os: "fromSnapshot", data: "fromSnapshot" }], dataLuns: [0] });
    writeLedgerFiles(wl.sourceDevice(0), { format: true, only: [] });
    return wl;
  });
  rec.blueprint = (await loadBlueprint(ctx, app.stack)).blueprint;
  const device = app.sourceDevice(0);
  await rec.step("drill", "enable DR and backfill (an empty file system)", () => w.protect(app, 600_000));

  const good = await rec.step("drill", `the application writes ${LEDGER_FILES} ledger files; a point`, async () => {
    const files = writeLedgerFiles(device);
    await syncNewPoints(w, app, { timeoutInMs: 600_000 });
    return files;
  });
  // The moment the attack begins: the restore asks for the newest point at or before it.
  const damageAt = new Date().toISOString();
  const half = Math.ceil(LEDGER_FILES / 2);
  const garbage = await rec.step(
    "drill",
    "ransomware overwrites the files with garbage; a point after each pass",
    async () => {
      const first = writeLedgerFiles(device, { only: Array.from({ length: half }, (_, i) => i) });
      await syncNewPoints(w, app, { timeoutInMs: 600_000 });
      const rest = writeLedgerFiles(device, { only: Array.from({ length: LEDGER_FILES - half }, (_, i) => half + i) });
      await syncNewPoints(w, app, { timeoutInMs: 600_000 });
      return new Map([...first, ...rest]);
    },
  );
  print(`        damage from ${damageAt}`);

  // What the report states, filled in as the scenario goes: a drill that fails still says how far it got.
  const checks: RansomwareCheck[] = [];
  await rec.step("drill", `ferry points ${app.stack}: points on both sides of the damage`, async () => {
    const text = await ferry(["points", app.stack]);
    const report = JSON.parse(await ferry(["points", app.stack, "--json"])) as PointsReport;
    const row = report.rows.find((r) => r.row === ROW);
    const complete = (row?.points ?? []).filter((p) => p.complete);
    const before = complete.filter((p) => Date.parse(p.time) < Date.parse(damageAt)).length;
    const after = complete.filter((p) => Date.parse(p.time) > Date.parse(damageAt)).length;
    for (const line of text.split("\n")) print(line ? `        ${line}` : "");
    rec.ransomware = {
      row: ROW,
      damageAt,
      requested: damageAt,
      pointsBefore: before,
      pointsAfter: after,
      pointsListing: text,
      checks,
    };
    if (!before || !after)
      throw new Error(`ferry points lists ${before} point(s) of ${ROW} before the damage and ${after} after`);
  });

  /** The point a restore recovered, as `ferry points` lists it: the row's point made of the disks' points it used. */
  const chosenPoint = async (op: Operation) => {
    const report = JSON.parse(await ferry(["points", app.stack, "--json"])) as PointsReport;
    const used = Object.values((op.details?.drPoints ?? {}) as Record<string, { drSnapshotId: string }>);
    const p = report.rows
      .find((r) => r.row === ROW)
      ?.points.find((x) => used.every((u) => x.disks.some((d) => sameResourceId(d.drSnapshotId, u.drSnapshotId))));
    if (!p) throw new Error("ferry points does not list the point the restore recovered");
    return {
      id: p.id,
      time: p.time,
      ageSeconds: (Date.parse(op.startedAt) - Date.parse(p.time)) / 1000,
      beforeDamageSeconds: (Date.parse(damageAt) - Date.parse(p.time)) / 1000,
      spreadMs: p.spreadMs,
    };
  };

  /** A test failover through the CLI, its disks verified and its data disk's files compared; then cleaned up. */
  const drill = async (label: string, recoveryPoint: string, expected: "good" | "garbage") => {
    const op = await rec.step(
      label,
      `ferry failover ${app.stack} --test --recovery-point ${recoveryPoint}`,
      async () =>
        JSON.parse(
          await w.whileSyncing(
            () => ferry(["failover", app.stack, "--test", "--recovery-point", recoveryPoint, "--yes", "--json"]),
            w.sourcesOf(app),
          ),
        ) as Operation,
    );
    rec.addOperation(op, label, expected === "good");
    if (expected === "good") rec.ransomware!.chosen = await chosenPoint(op);
    const drPoints = (op.details?.drPoints ?? {}) as Record<string, { drSnapshotId: string; pointTime: string }>;
    const drOf = (id: string) => Object.entries(drPoints).find(([k]) => sameResourceId(k, id))?.[1];
    await rec.step(label, "verify the test VM's disks byte for byte against their DR-side points", async () => {
      for (const lun of ["os" as const, 0]) {
        const sourceDiskId = lun === "os" ? app.osDiskId : app.dataDiskIds.get(0)!;
        const point = drOf(sourceDiskId);
        if (!point) throw new Error(`the failover recorded no DR-side point of ${sourceDiskId}`);
        if (expected === "good" && Date.parse(point.pointTime) > Date.parse(damageAt))
          throw new Error(`the restore chose a point of ${point.pointTime}, after the damage (${damageAt})`);
        const r = await verifyAgainstPoint(
          ctx,
          { devicePath: o.emu.devicePath(DR.rg, `${ROW}-test`, lun) },
          point.drSnapshotId,
        );
        rec.verifications.push({
          failover: label,
          row: ROW,
          vm: `${ROW}-test`,
          disk: lun === "os" ? "OS" : `LUN ${lun}`,
          strategy: "fromSnapshot",
          recoveryPoint: point.drSnapshotId,
          ...r,
        });
        if (!r.ok) throw new Error(`${ROW}-test ${lun} differs from its DR-side point at byte ${r.firstDifferenceAt}`);
      }
    });
    const check = await rec.step(label, `e2fsck, mount, and compare every file with the ${expected} ones`, async () => {
      const read = readLedgerFiles(o.emu.devicePath(DR.rg, `${ROW}-test`, 0));
      const cmp = compareLedger(read.files, good, garbage);
      const fsckClean = read.fsckExitCode === 0;
      const c: RansomwareCheck = {
        failover: label,
        recoveryPoint,
        expected,
        fsckClean,
        fsck: read.fsck,
        ...cmp,
        ok: fsckClean && (expected === "good" ? cmp.good : cmp.garbage) === cmp.files,
      };
      checks.push(c);
      print(
        `        ${label}: e2fsck ${fsckClean ? "clean" : "found errors"}; ${cmp.good}/${cmp.files} files good, ` +
          `${cmp.garbage}/${cmp.files} garbage`,
      );
      if (!c.ok)
        throw new Error(
          `${label}: expected ${cmp.files} ${expected} files on a clean file system; e2fsck exit ` +
            `${read.fsckExitCode}, ${cmp.good} good, ${cmp.garbage} garbage, other: ${cmp.other.join(", ") || "none"}`,
        );
      return c;
    });
    await rec.step(label, `ferry cleanup ${app.stack}`, () => ferry(["cleanup", app.stack, "--yes"]));
    return { op, check };
  };

  await drill("before the damage", damageAt, "good");
  await drill("latest", "latest", "garbage");
}
