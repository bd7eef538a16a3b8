import {
  closeSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { $ } from "zx";
import { createLogger } from "../core/logger";
import { requestSync } from "../adapters/state/admin";
import { startAzurite, type RunningAzurite } from "./azurite";
import { startEmulator, type RunningEmulator } from "@ferry/emulator";
import { loadBlueprint, sourceDisks } from "../runbooks/blueprints";
import { DrillRecorder, type DrillSummary } from "../runbooks/drill-report";
import { drillProvenance } from "../runbooks/drill-provenance";
import { isUserError } from "../core/errors";
import { prepareReportDir } from "../runbooks/report-dir";
import { prepareFailback } from "../runbooks/failback/prepare";
import { cleanupFailback } from "../runbooks/failback/cleanup";
import { failbackComplete } from "../runbooks/failback/complete";
import { failbackSync } from "../runbooks/failback/sync";
import { cleanup, failover } from "../runbooks/failover";
import type { Operation } from "../runbooks/journal";
import { guestFsUnavailable, mountGuestFs, unmountAllGuestFs, type GuestMount } from "./guest-fs";
import { onInterrupt } from "../runbooks/signals";
import { writeLocalCliFiles } from "./cli-files";
import { runLocalPlanDrill } from "./plan-drill";
import { runLocalRansomwareDrill } from "./ransomware-drill";
import { createLocalWorld, DR, PRIMARY, type LocalWorld, type Workload } from "./world";
import { formatPrecheck, precheck } from "../runbooks/precheck";
import { enableDr } from "../runbooks/sources";
import { verifyAgainstPoint } from "../runbooks/verify";

/**
 * `npm run drill`: a whole disaster-recovery drill on this machine. It starts the local Azure (the
 * emulator, with Azure-like latencies sped up) and Table storage (Azurite), builds a primary
 * region with two Linux VMs (an ext4 OS disk with files, and a data disk with a mounted ext4 file
 * system), deploys the landing zone and a blueprint whose rows fail over attach-as-is and
 * from-snapshot, enables DR, backfills, runs a workload that keeps appending records to a file on
 * each data disk's mounted file system while the sync goes on, prechecks, runs a test failover (and
 * cleans it up), then takes the primary region down and fails over for real. Every recovered disk
 * is compared byte for byte with its recovery point and its file system checked (the data disks'
 * mounted, their journal replayed, their records read). The report goes to drill-report/
 * (index.html, summary.json, drill.json, drill.log). Mounting needs root; elsewhere the workload
 * writes the data disks' raw devices, and the drill says so.
 */

const HELP = `npm run drill -- [--report-dir <dir>] [--speedup <n>] [--keep] [--plan | --scenario ransomware]

  --report-dir  where the report goes (default drill-report): a new or empty directory, or one an
                earlier drill wrote (it replaces that report); any other is refused (exit 2)
  --speedup     divides the Azure-like latencies (default 10; 1 is Azure's own pace)
  --keep        leave the local Azure and Azurite serving at the end, until Ctrl-C (which then
                stops them and keeps the drill's result and exit code)
  --plan        drill a recovery plan instead: three blueprints (database, application, web) in three
                groups behind an OS-ready and a health-check gate, a DNS hook after the web tier
                (ferry drill --plan); its report shows the groups, gates and hooks
  --scenario    ransomware: an application writes files on an ext4 data disk, points are taken, ransomware
                overwrites the files, more points; \`ferry points\` must list points on both sides, a test
                failover to the time of the damage (--recovery-point) must recover the good files and one to
                latest the garbage (e2fsck, every file compared by hash). Needs root (loop mounts): without, it
                says why and exits 1 before starting anything

Exit 0 when every step passed and every recovered disk equals its recovery point; 1 otherwise; 2 for bad
usage; 130 on Ctrl-C before the end.`;

const MiB = 1024 * 1024;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** An ext4 file system with a few files, written onto a (sparse) OS disk. */
async function makeRootFs(devicePath: string, vm: string): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "ferry-rootfs-"));
  try {
    for (const d of ["etc", "var/www", "home/ops"]) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, "etc/hostname"), `${vm}\n`);
    writeFileSync(join(root, "etc/os-release"), 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\n');
    writeFileSync(join(root, "var/www/index.html"), `<h1>${vm}</h1>\n`.repeat(500));
    writeFileSync(
      join(root, "home/ops/orders.csv"),
      Array.from({ length: 20_000 }, (_, i) => `${i},order-${i},${(i * 7) % 1000}`).join("\n"),
    );
    await $({
      quiet: true,
    })`mkfs.ext4 -F -q -L root -E lazy_itable_init=0,lazy_journal_init=0 -d ${root} ${devicePath}`;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A read-only file-system check of a recovered OS disk; says how many files it holds. */
async function checkRootFs(devicePath: string): Promise<string> {
  const fsck = await $({ quiet: true, nothrow: true })`e2fsck -fn ${devicePath}`;
  if (fsck.exitCode !== 0)
    throw new Error(`e2fsck found errors on ${devicePath}: ${fsck.stdout.trim().split("\n").slice(-3).join(" ")}`);
  const files = /(\d+)\/\d+ files/.exec(fsck.stdout)?.[1] ?? "?";
  const host = await $({ quiet: true })`debugfs -R ${"cat /etc/hostname"} ${devicePath}`;
  return `ext4 clean (e2fsck), ${files} inodes, hostname ${host.stdout.trim()}`;
}

/** One record of the application's log: exactly one 4 KiB page, so that a crash never splits one. */
const RECORD = 4096;

function record(n: number, mark: string): Buffer {
  const head = `order ${n} ${new Date().toISOString()} ${mark} `;
  return Buffer.from(`${head}${"x".repeat(RECORD - head.length - 1)}\n`);
}

/** Appends `count` records to a log file and makes them durable (fsync); returns the bytes written. */
function appendRecords(path: string, from: number, count: number, mark: string): number {
  const fd = openSync(path, "a");
  try {
    for (let i = 0; i < count; i++) writeSync(fd, record(from + i, mark));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return count * RECORD;
}

/** How many records a log holds, checking that they are whole and in sequence from 1. */
function checkRecords(path: string): number {
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  if (lines.pop() !== "") throw new Error(`${path} ends inside a record`);
  lines.forEach((line, i) => {
    if (line.length !== RECORD - 1 || !line.startsWith(`order ${i + 1} `))
      throw new Error(`${path}: record ${i + 1} is broken: ${line.slice(0, 60)}`);
  });
  return lines.length;
}

/** Writes `count` 64 KiB blocks of marked data at random 64 KiB-aligned offsets of the first 256 MiB of a device. */
function writeBlocks(path: string, count: number, mark: string): number {
  const fd = openSync(path, "r+");
  try {
    for (let i = 0; i < count; i++) {
      const block = Buffer.alloc(64 * 1024, i % 251);
      block.write(`${mark} ${i} ${new Date().toISOString()}`);
      writeSync(fd, block, 0, block.length, Math.floor(Math.random() * 4096) * block.length);
    }
  } finally {
    closeSync(fd);
  }
  return count * 64 * 1024;
}

/**
 * How the drill's applications write a VM's data disk: records appended to a log on its mounted
 * ext4 file system (as root), or 64 KiB blocks at random places of its raw device (elsewhere).
 */
interface DataWriter {
  /** Writes about `blocks` × 64 KiB; returns the bytes written. */
  write(device: string, blocks: number, mark: string): number;
  /** Makes the data disk ready for it (before DR is enabled). */
  prepare(device: string): void;
  /** A recovered disk's file system as its VM would find it after a crash, or undefined (raw writes). */
  check(device: string): string | undefined;
}

function fileSystemWriter(): DataWriter {
  /** Mounts the device's file system (replaying its journal), runs `fn` on its log, unmounts. */
  const withLog = <T>(device: string, fn: (log: string) => T): T => {
    const fs = mountGuestFs(device);
    try {
      return fn(join(fs.dir, "orders.log"));
    } finally {
      fs.unmount();
    }
  };
  return {
    prepare(device) {
      mountGuestFs(device, { format: true }).unmount();
    },
    write(device, blocks, mark) {
      return withLog(device, (log) => appendRecords(log, checkRecordsOrNone(log) + 1, blocks * 16, mark));
    },
    check(device) {
      return withLog(device, (log) => `ext4 mounts (its journal replayed), ${checkRecords(log)} records in sequence`);
    },
  };
}

function checkRecordsOrNone(path: string): number {
  try {
    return checkRecords(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
}

const rawWriter: DataWriter = {
  prepare(device) {
    writeFileSync(device, Buffer.alloc(32 * MiB, 0x5a), { flag: "r+" });
  },
  write: writeBlocks,
  check: () => undefined,
};

/**
 * The application: on each VM, every 100 ms, 64 KiB more of records appended to a log on its data
 * disk's mounted file system and made durable (or 64 KiB at a random place of the raw device).
 * It stops writing a VM whose disk has gone (the region outage): its writes fail.
 */
function startWorkload(w: Workload, mountFs: boolean): { stop(): number } {
  let bytes = 0;
  const apps = w.vms.map((v) => {
    const device = v.sourceDevice(0);
    const fs: GuestMount | undefined = mountFs ? mountGuestFs(device) : undefined;
    return { v, device, fs, next: fs ? checkRecordsOrNone(join(fs.dir, "orders.log")) + 1 : 0, up: true };
  });
  const timer = setInterval(() => {
    for (const app of apps) {
      if (!app.up) continue;
      try {
        if (app.fs) {
          bytes += appendRecords(join(app.fs.dir, "orders.log"), app.next, 16, app.v.vm);
          app.next += 16;
        } else {
          bytes += writeBlocks(app.device, 1, `${app.v.vm} lun0 write ${bytes}`);
        }
      } catch {
        // The VM went down (the region outage): the application stops writing.
        app.up = false;
      }
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      for (const app of apps) app.fs?.unmount();
      return bytes;
    },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "report-dir": { type: "string", default: "drill-report" },
      speedup: { type: "string", default: "10" },
      keep: { type: "boolean", default: false },
      plan: { type: "boolean", default: false },
      scenario: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    print(HELP);
    return 0;
  }
  const speedup = Number(values.speedup);
  if (!(speedup >= 1)) {
    process.stderr.write(`--speedup must be a number ≥ 1 (got ${values.speedup}).\n`);
    return 2;
  }
  const scenario = values.scenario;
  if (scenario !== undefined && (scenario !== "ransomware" || values.plan)) {
    process.stderr.write(
      values.plan
        ? "--plan and --scenario are two different drills: give one of them.\n"
        : `--scenario takes ransomware (got ${scenario}).\n`,
    );
    return 2;
  }
  const noMounts = scenario === "ransomware" ? guestFsUnavailable() : undefined;
  if (noMounts) {
    // Its proof is the files of a mounted file system: raw writes, as the default drill falls back to, prove nothing.
    process.stderr.write(
      `The ransomware scenario mounts ext4 file systems and cannot run here: ${noMounts}. Run it as root.\n`,
    );
    return 1;
  }
  const reportDir = resolve(values["report-dir"]);
  try {
    prepareReportDir(reportDir);
  } catch (e) {
    if (!isUserError(e)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  const work = mkdtempSync(join(tmpdir(), "ferry-drill-"));
  // However the process ends through process.exit (Ctrl-C included), the disks' files do not stay.
  process.once("exit", () => removeFolder(work));
  const logger = createLogger({
    name: "ferry-drill",
    level: "debug",
    destination: pino.destination({ dest: join(reportDir, "drill.log"), sync: true }),
    env: {},
  });
  const rec = new DrillRecorder(scenario === "ransomware" ? "ferry local drill: ransomware" : "ferry local drill");
  let emu: RunningEmulator | undefined;
  let azurite: RunningAzurite | undefined;
  let world: LocalWorld | undefined;
  let stopped = false;
  // Each server gets a bounded time to close: one that hangs must not keep the disks' files around.
  const bounded = (p: Promise<unknown> | undefined) =>
    Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await bounded(world?.close());
      // The guests' file systems go before the devices under them.
      unmountAllGuestFs();
      await bounded(emu?.close());
      await bounded(azurite?.close());
    } finally {
      removeFolder(work);
    }
  };
  // The drill's result once it has one: a Ctrl-C after it (ending --keep) does not rewrite it.
  const finished: { summary?: DrillSummary } = {};
  // Ctrl-C: the report says so, the servers stop, the exit is 130 — whichever of this handler and
  // the drill's own flow (failing as its servers go) gets to the end first.
  let interrupted: Promise<void> | undefined;
  const onSignal = (signal: string) => {
    if (finished.summary) {
      const result = finished.summary;
      interrupted = stop().then(() => print(`servers stopped; the drill's report stays in ${reportDir}`));
      void interrupted.finally(() => process.exit(result.ok ? 0 : 1));
      return;
    }
    // The work in flight fails as its servers go: its late errors are the interruption's, not a crash
    // (an unhandled one would end the process with exit 1 before the servers are stopped).
    process.on("unhandledRejection", (e) => logger.warn({ err: e }, "after the interruption"));
    process.on("uncaughtException", (e) => logger.warn({ err: e }, "after the interruption"));
    rec.error = `interrupted (${signal})`;
    let summary: DrillSummary | undefined;
    try {
      summary = rec.write(reportDir);
    } catch (e) {
      // Thrown out of a signal handler, it would exit 1 and leave the servers running.
      process.stderr.write(`could not write the report: ${(e as Error).message}\n`);
    }
    interrupted = stop().then(() =>
      print(`\n${summary ? rec.table(summary) : ""}\ninterrupted: servers stopped, report in ${reportDir}`),
    );
    void interrupted.finally(() => process.exit(130));
  };
  // npm passes a terminal's Ctrl-C on once more: that copy is not a second Ctrl-C, which exits at once.
  onInterrupt(onSignal, () => process.exit(130));

  rec.onStepEnd = (s) =>
    print(
      s.status === "succeeded"
        ? `  ok    ${s.name} (${(((s.endMs ?? s.startMs) - s.startMs) / 1000).toFixed(1)} s)`
        : `  FAIL  ${s.name}: ${s.detail}`,
    );
  const addOp = (op: Operation, label: string, measures: boolean) => {
    rec.addOperation(op, label, measures);
    for (const r of op.rto)
      print(
        `        ${r.row} (${r.strategy}): VM created at ${r.vmCreatedSeconds?.toFixed(1)} s${r.osReadySeconds !== undefined ? `, OS ready at ${r.osReadySeconds.toFixed(1)} s` : ""}`,
      );
  };

  print(`ferry local drill (Azure-like latencies ÷ ${speedup}); log: ${join(reportDir, "drill.log")}`);
  try {
    await rec.step("drill", "start the local Azure and Table storage", async () => {
      emu = await startEmulator({ dataDir: join(work, "azure"), latency: "azure", speedup });
      azurite = await startAzurite({ dataDir: join(work, "azurite") });
      print(`        local Azure ${emu.endpoint}, Table storage ${azurite.tableEndpoint}`);
      rec.provenance = await drillProvenance(
        { subscriptionId: emu.subscriptionId, credential: { kind: "emulator" }, pollIntervalInMs: 50 },
        { sourceRegions: [PRIMARY.location], drRegion: DR.location },
        { emulation: { profile: "azure", speedup } },
      );
    });
    const noFs = guestFsUnavailable();
    const data: DataWriter = noFs ? rawWriter : fileSystemWriter();
    if (noFs) print(`        the workload writes the data disks' raw devices: ${noFs}`);
    world = await rec.step("drill", "build the DR region: networks, landing zone, sync appliance", () =>
      createLocalWorld({
        emu: emu!,
        tableConnectionString: azurite!.connectionString,
        tableName: "ferrySources",
        dir: join(work, "ferry"),
        logger,
        pollIntervalInMs: 50,
        retry: { maxRetries: 5, retryDelayInMs: 100, maxRetryDelayInMs: 2000 },
      }),
    );
    const w = world;
    const ctx = w.ctx;
    if (values.plan) {
      const { summary, recorder } = await runLocalPlanDrill({
        world: w,
        dir: work,
        reportDir,
        speedup,
        print,
      });
      finished.summary = summary;
      print(`\n${recorder.table(summary)}\nreport: ${join(reportDir, "index.html")}`);
      await stop();
      return summary.ok ? 0 : 1;
    }
    if (scenario === "ransomware") {
      await runLocalRansomwareDrill({
        world: w,
        emu: emu!,
        tableConnectionString: azurite!.connectionString,
        rec,
        dir: work,
        cliLog: pino.destination({
          dest: join(reportDir, "drill.log"),
          sync: true,
        }) as unknown as NodeJS.WritableStream,
        print,
      });
      await rec.step("drill", "stop the sync daemon", () => w.close());
    } else {
      const only = (wl: Workload) => w.sourcesOf(wl);
      const app = await rec.step(
        "drill",
        noFs
          ? "create the primary VMs (ext4 OS disks with files, data disks) and the blueprint"
          : "create the primary VMs (ext4 OS disks with files, ext4 data disks) and the blueprint",
        async () => {
          const wl = await w.workload("web", {
            strategies: [
              { os: "attachAsIs", data: "attachAsIs" },
              { os: "fromSnapshot", data: "fromSnapshot" },
            ],
            dataLuns: [0],
            prepareOsDisk: makeRootFs,
            readiness: { os: true, timeoutSeconds: 600 },
          });
          for (const v of wl.vms) data.prepare(v.sourceDevice(0));
          return wl;
        },
      );
      const { blueprint } = await loadBlueprint(ctx, app.stack);
      // The report judges the drill against the blueprint's targets and each row's readiness checks.
      rec.blueprint = blueprint;
      // Its unplanned failover exercises both strategies: only a drill that ends before it leaves one out.
      const unfinished =
        "This drill ended before its unplanned failover, which exercises it: run `npm run drill` again.";
      rec.howToExercise = { attachAsIs: unfinished, fromSnapshot: unfinished };
      const disks = sourceDisks(blueprint);
      await rec.step("drill", "enable DR (new staging disks)", () => enableDr(ctx, app.stack, { prepare: "empty" }));
      const allHealthyAfter = async (t: number) =>
        (await Promise.all(disks.map((d) => ctx.store.get(d.sourceDiskId)))).every(
          (r) =>
            r?.source.state === "healthy" &&
            !r.source.applying &&
            r.source.applied &&
            Date.parse(r.source.applied.createdAt) >= t,
        );
      await rec.step("drill", "backfill the staging disks", () =>
        w.syncUntil(() => allHealthyAfter(0), "every disk backfilled", only(app), 600_000),
      );

      const workload = startWorkload(app, !noFs);
      const writes = noFs
        ? "sync while the workload writes"
        : "sync while the workload appends records to its file systems";
      await rec.step("drill", writes, async () => {
        for (let round = 0; round < 2; round++) {
          await new Promise((r) => setTimeout(r, 1000));
          const asked = Date.now();
          for (const d of disks) await requestSync(ctx.store, d.sourceDiskId, new Date());
          await w.syncUntil(
            () => allHealthyAfter(asked - 1000),
            "a recovery point of every disk after the writes",
            only(app),
            600_000,
          );
        }
      });
      await rec.step("drill", "precheck", async () => {
        const r = await precheck(ctx, app.stack, { mode: "test" });
        logger.info({ precheck: r.checks }, "precheck");
        if (!r.passed) throw new Error(formatPrecheck(r));
      });

      const verifyRecovered = async (op: Operation, label: string, suffix: string) => {
        for (const v of app.vms) {
          for (const lun of ["os" as const, ...v.dataDiskIds.keys()]) {
            const sourceDiskId = lun === "os" ? v.osDiskId : v.dataDiskIds.get(lun)!;
            const point = op.recoveryPoints![sourceDiskId]!;
            const device = emu!.devicePath(DR.rg, `${v.vm}${suffix}`, lun);
            const r = await verifyAgainstPoint(ctx, { devicePath: device }, point);
            const strategy = suffix ? "fromSnapshot" : lun === "os" ? v.strategies.os : v.strategies.data;
            // After the comparison: mounting a data disk replays its journal, as its recovered VM would.
            const note = !r.ok ? undefined : lun === "os" ? await checkRootFs(device) : data.check(device);
            rec.verifications.push({
              failover: label,
              row: v.vm,
              vm: `${v.vm}${suffix}`,
              disk: lun === "os" ? "OS" : `LUN ${lun}`,
              strategy,
              recoveryPoint: point,
              ...r,
              ...(note ? { note } : {}),
            });
            if (!r.ok)
              throw new Error(
                `${v.vm}${suffix} ${lun}: differs from recovery point ${point} at byte ${r.firstDifferenceAt}`,
              );
          }
        }
      };

      const test = await rec.step(
        "test failover",
        "test failover into the isolated network (replication goes on)",
        () => w.whileSyncing(() => failover(ctx, app.stack, { kind: "test" }), only(app)),
      );
      addOp(test, "test failover", false);
      await rec.step("test failover", "verify the test VMs' disks against their recovery points", () =>
        verifyRecovered(test, "test", "-test"),
      );
      await rec.step("test failover", "clean up the test failover", () => cleanup(ctx, app.stack));

      await rec.step("unplanned failover", `outage of the primary region (${PRIMARY.location})`, async () => {
        emu!.faults.setRegionOutage(PRIMARY.location, true);
        // The applications were writing up to here; their disks are gone with the region.
        const written = workload.stop();
        logger.info({ bytesWritten: written }, "workload stopped by the outage");
      });
      const real = await rec.step("unplanned failover", "unplanned failover: attach-as-is and from-snapshot rows", () =>
        w.whileSyncing(() => failover(ctx, app.stack, { kind: "unplanned" }), only(app)),
      );
      addOp(real, "unplanned failover", true);
      await rec.step("unplanned failover", "the primary region is back (to read the recovery points)", async () =>
        emu!.faults.setRegionOutage(PRIMARY.location, false),
      );
      await rec.step("unplanned failover", "verify every recovered disk against its recovery point", () =>
        verifyRecovered(real, "unplanned", ""),
      );

      // Failback: the DR VMs write, the workload comes home delta only, the primary writes, and
      // forward replication resumes from the returned disks without a full backfill.
      const dataDisksOf = (v: Workload["vms"][number]) => [...v.dataDiskIds.keys()];
      await rec.step("failback", "the DR VMs write while the primary is away", async () => {
        for (const v of app.vms)
          for (const lun of dataDisksOf(v)) data.write(emu!.devicePath(DR.rg, v.vm, lun), 32, `dr ${v.vm}`);
      });
      const failbackStarted = Date.now();
      await rec.step("failback", "failback prepare: map the DR disks back to the primary disks", () =>
        prepareFailback(ctx, app.stack),
      );
      const synced = await rec.step(
        "failback",
        "failback sync: the union of the two deltas into new primary disks",
        () => failbackSync(ctx, app.stack),
      );
      rec.addOperation(synced.op, "failback sync", false);
      await rec.step("failback", "the DR VMs write on until complete stops them", async () => {
        for (const v of app.vms)
          for (const lun of dataDisksOf(v)) data.write(emu!.devicePath(DR.rg, v.vm, lun), 4, `dr-late ${v.vm}`);
      });
      const completed = await rec.step(
        "failback",
        "failback complete: final delta, disks swapped, primary started, standby, reprotect",
        () => w.whileSyncing(() => failbackComplete(ctx, app.stack)),
      );
      rec.addOperation(completed.op, "failback complete", false);
      const returned = completed.state.disks;
      rec.failback = {
        bytesMoved: returned.reduce((n, d) => n + d.passes.reduce((m, p) => m + p.bytesRead + p.bytesZeroed, 0), 0),
        seconds: (Date.now() - failbackStarted) / 1000,
      };
      await rec.step("failback", "verify every returned disk against the DR disk's final snapshot", async () => {
        for (const d of returned) {
          const lun = d.role === "os" ? ("os" as const) : d.lun!;
          const device = emu!.devicePath(PRIMARY.rg, d.row, lun);
          const r = await verifyAgainstPoint(ctx, { devicePath: device }, d.applied!);
          const note = !r.ok ? undefined : lun === "os" ? await checkRootFs(device) : data.check(device);
          rec.verifications.push({
            failover: "failback",
            row: d.row,
            vm: d.row,
            disk: lun === "os" ? "OS" : `LUN ${lun}`,
            strategy: "failback",
            recoveryPoint: d.applied!,
            ...r,
            ...(note ? { note } : {}),
          });
          if (!r.ok)
            throw new Error(
              `${d.row} ${lun}: the returned disk differs from the DR disk's final snapshot at byte ${r.firstDifferenceAt}`,
            );
        }
      });
      await rec.step("failback", "the primary writes; forward sync resumes from the returned disks", async () => {
        for (const v of app.vms)
          for (const lun of dataDisksOf(v)) data.write(emu!.devicePath(PRIMARY.rg, v.vm, lun), 8, `home ${v.vm}`);
        const asked = Date.now();
        for (const d of returned) await requestSync(ctx.store, d.newDiskId, new Date());
        await w.syncUntil(
          async () =>
            (await Promise.all(returned.map((d) => ctx.store.get(d.newDiskId)))).every(
              (r) =>
                r?.source.state === "healthy" &&
                !r.source.applying &&
                r.source.applied &&
                Date.parse(r.source.applied.createdAt) >= asked - 1000,
            ),
          "a forward recovery point of every returned disk",
          undefined,
          600_000,
        );
      });
      await rec.step("failback", "verify every staging disk against its returned disk's recovery point", async () => {
        for (const d of returned) {
          const s = (await ctx.store.get(d.newDiskId))!.source;
          const r = await verifyAgainstPoint(
            ctx,
            { devicePath: emu!.devicePath(DR.rg, DR.appliance, s.applianceLun) },
            s.applied!.snapshotId,
          );
          rec.verifications.push({
            failover: "failback",
            row: d.row,
            vm: DR.appliance,
            disk: `staging of ${d.role === "os" ? "OS" : `LUN ${d.lun}`}`,
            strategy: "failback",
            recoveryPoint: s.applied!.snapshotId,
            ...r,
          });
          if (!r.ok)
            throw new Error(
              `${d.row}: the staging disk differs from the returned disk's point at byte ${r.firstDifferenceAt}`,
            );
        }
      });
      await rec.step("failback", "cleanup --failback: the previous primary disks go", () =>
        cleanupFailback(ctx, app.stack),
      );
      await rec.step("drill", "stop the sync daemon", () => w.close());
    }
  } catch (e) {
    if (!interrupted) {
      rec.error = (e as Error).message;
      logger.error({ err: e }, "drill failed");
    }
  }
  if (interrupted) {
    await interrupted;
    return 130;
  }
  const summary = rec.write(reportDir);
  finished.summary = summary;
  print(`\n${rec.table(summary)}\nreport: ${join(reportDir, "index.html")}`);
  if (values.keep && emu && azurite) {
    if (world) {
      const files = writeLocalCliFiles({
        dir: work,
        config: world.config,
        tableConnectionString: azurite.connectionString,
        startedBy: "npm run drill -- --keep",
      });
      print(
        `the ferry CLI against them (its daemon stopped), from this repository:\n  ${files.useLine("sources list")}`,
      );
    }
    print(`local Azure ${emu.endpoint} and Table storage ${azurite.tableEndpoint} keep serving until Ctrl-C`);
    await new Promise(() => undefined);
  }
  await stop();
  return summary.ok ? 0 : 1;
}

/**
 * Removes the drill's temporary folder, and never throws: thrown in the exit handler, an error
 * aborted the `process.exit(130)` of a Ctrl-C, and the drill then ended with exit 1. A mount that is
 * still busy (the local Azure's device file system, closing) gets a few seconds.
 */
function removeFolder(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  } catch (e) {
    process.stderr.write(`could not remove the drill's temporary folder ${dir}: ${(e as Error).message}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ferry drill failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
