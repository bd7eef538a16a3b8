import { spawn, type ChildProcess } from "node:child_process";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseResourceId } from "../../core/resource-id";
import { guestFsUnavailable, mountGuestFs, unmountAllGuestFs, type GuestMount } from "../../local/guest-fs";
import { failover } from "../../runbooks/failover";
import type { Operation } from "../../runbooks/journal";
import { DR, PRIMARY, useDrWorld, type DrWorld, type Workload } from "../helpers/dr-env";

// A database in WAL mode on a file system on a source disk, under a steady load of committed
// transactions, failed over mid-load: what ferry recovers must be a state the database itself can
// restart from, holding every transaction committed before the recovery point was taken.

const whyNot =
  guestFsUnavailable() ??
  (process.getuid?.() === 0 ? undefined : "the emulator's point-in-time snapshots need root and /dev/fuse");
if (whyNot) console.log(`crash-consistency tests skipped: ${whyNot}`);

/** The application: SQLite (Node's own) in WAL mode, synchronous=FULL, one INSERT per transaction. */
const WRITER = `
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(process.argv[1]);
db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=64;");
db.exec("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, began INTEGER NOT NULL, payload BLOB NOT NULL)");
const insert = db.prepare("INSERT INTO orders (id, began, payload) VALUES (?, ?, randomblob(3000))");
let id = 0;
const next = () => {
  try {
    const began = Date.now();
    db.exec("BEGIN");
    insert.run(++id, began);
    db.exec("COMMIT");
    // Acknowledged: the commit returned, so the WAL frame is on the disk.
    process.stdout.write(id + " " + began + " " + Date.now() + "\\n");
  } catch (e) {
    process.stderr.write("writer stopped: " + e.message + "\\n");
    process.exit(0);
  }
  setTimeout(next, 2);
};
next();`;

interface Ack {
  id: number;
  began: number;
  ackedAt: number;
}

/** A running writer of one VM's database: its file system, its process, the transactions it acknowledged. */
interface App {
  vm: string;
  fs: GuestMount;
  child: ChildProcess;
  acked: Ack[];
  stopped: Promise<void>;
}

function startApp(vm: string, device: string): App {
  const fs = mountGuestFs(device, { format: true });
  const child = spawn(
    process.execPath,
    ["--disable-warning=ExperimentalWarning", "-e", WRITER, join(fs.dir, "app.db")],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const acked: Ack[] = [];
  let rest = "";
  child.stdout!.on("data", (d: Buffer) => {
    const lines = (rest + d.toString()).split("\n");
    rest = lines.pop()!;
    for (const l of lines) {
      const [id, began, ackedAt] = l.split(" ").map(Number);
      acked.push({ id: id!, began: began!, ackedAt: ackedAt! });
    }
  });
  const stopped = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { vm, fs, child, acked, stopped };
}

/** Waits until every app has acknowledged `n` more transactions. */
async function progress(apps: App[], n: number): Promise<void> {
  const from = apps.map((a) => a.acked.length);
  const until = Date.now() + 60_000;
  while (apps.some((a, i) => a.acked.length < from[i]! + n)) {
    if (Date.now() > until) throw new Error("the applications stopped committing");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a recovered database holds, opened as the application would open it after a crash. */
function inspect(device: string): { integrity: string; ids: number[]; began: Map<number, number> } {
  const fs = mountGuestFs(device);
  try {
    const db = new DatabaseSync(join(fs.dir, "app.db"));
    try {
      const integrity = (db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[])
        .map((r) => r.integrity_check)
        .join("; ");
      const rows = db.prepare("SELECT id, began FROM orders ORDER BY id").all() as { id: number; began: number }[];
      return { integrity, ids: rows.map((r) => r.id), began: new Map(rows.map((r) => [r.id, r.began])) };
    } finally {
      db.close();
    }
  } finally {
    fs.unmount();
  }
}

describe.skipIf(!!whyNot)("a database failed over mid-load restarts from what ferry recovers", () => {
  // The daemon cycles on its own every second (the zero-latency emulator has no snapshot limit).
  const env = useDrWorld({ syncIntervalSeconds: 1 });
  let world: DrWorld;
  beforeAll(() => {
    world = env.world;
    expect(env.f.emu.guestDevices, env.f.emu.guestDevicesFallback).toBe("fuse");
  });
  afterAll(() => unmountAllGuestFs());

  /**
   * A workload of two VMs, the first recovered attach-as-is, the second from snapshots, each with its
   * database running.
   */
  async function protectedUnderLoad(name: string): Promise<{ w: Workload; apps: App[] }> {
    const w = await world.workload(name, {
      strategies: [
        { os: "attachAsIs", data: "attachAsIs" },
        { os: "fromSnapshot", data: "fromSnapshot" },
      ],
      dataLuns: [0],
    });
    const apps = w.vms.map((v) => startApp(v.vm, v.sourceDevice(0)));
    await progress(apps, 20);
    await world.protect(w, 120_000);
    // The daemon goes on syncing while the databases commit: two more points of every disk.
    for (let round = 0; round < 2; round++) {
      const since = Date.now();
      await world.syncUntil(
        async () =>
          (await Promise.all(w.vms.map((v) => world.ctx.store.get(v.dataDiskIds.get(0)!)))).every(
            (r) => r?.source.applied && !r.source.applying && Date.parse(r.source.applied.createdAt) > since,
          ),
        "a new recovery point of every data disk",
        world.sourcesOf(w),
        60_000,
      );
    }
    await progress(apps, 20);
    return { w, apps };
  }

  /** Stops what is left of the source side: the writers (dead once their disks went) and their file systems. */
  async function stop(apps: App[]): Promise<void> {
    for (const a of apps) {
      a.child.kill("SIGKILL");
      await a.stopped;
      a.fs.unmount();
    }
  }

  /** When a recovery point was taken: its snapshot's time is the instant it holds the disk at. */
  async function takenAt(snapshotId: string): Promise<number> {
    const { resourceGroup, name } = parseResourceId(snapshotId);
    const snap = await env.f.azure.compute.snapshots.get(resourceGroup, name);
    return snap.timeCreated!.getTime();
  }

  for (let round = 1; round <= 5; round++) {
    it(`unplanned failover ${round} of 5: each database opens, is intact and holds every transaction committed before its recovery point`, async () => {
      const { w, apps } = await protectedUnderLoad(`sql${round}`);
      let op: Operation;
      try {
        op = await world.unplannedFailover(w);
      } finally {
        await stop(apps);
      }
      expect(op.status).toBe("succeeded");
      for (const [i, v] of w.vms.entries()) {
        const app = apps[i]!;
        const point = op.recoveryPoints![v.dataDiskIds.get(0)!]!;
        const at = await takenAt(point);
        const before = app.acked.filter((a) => a.ackedAt < at);
        // Mid-load: committed before the point, and committed after it (lost with the region).
        expect(before.length, `${v.vm}: transactions before the point`).toBeGreaterThan(0);
        expect(
          app.acked.some((a) => a.began > at),
          `${v.vm}: transactions after the point`,
        ).toBe(true);

        const db = inspect(env.f.emu.devicePath(DR.rg, v.vm, 0));
        const strategy = v.strategies.data;
        expect(db.integrity, `${v.vm} (${strategy})`).toBe("ok");
        // Every transaction acknowledged before the point, in order and with no gap.
        expect(db.ids.length, `${v.vm} (${strategy})`).toBeGreaterThanOrEqual(before.at(-1)!.id);
        expect(db.ids, `${v.vm} (${strategy})`).toEqual(db.ids.map((_, k) => k + 1));
        // None that began after it: the point is one instant of the disk.
        const late = db.ids.filter((id) => db.began.get(id)! > at + 1);
        expect(late, `${v.vm} (${strategy}): transactions begun after the point`).toEqual([]);
      }
    }, 240_000);
  }

  it("planned failover: each database opens, is intact and holds every transaction it ever committed", async () => {
    const { w, apps } = await protectedUnderLoad("sqlp");
    let op: Operation;
    try {
      op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "planned" }), world.sourcesOf(w));
      // The power-off stopped the writers: nothing they acknowledged can come after it.
      const stopped = await Promise.race([
        Promise.all(apps.map((a) => a.stopped)).then(() => true),
        new Promise<boolean>((r) => setTimeout(r, 30_000, false)),
      ]);
      expect(stopped, "the writers still commit after their VMs were powered off").toBe(true);
    } finally {
      await stop(apps);
    }
    expect(op.status).toBe("succeeded");
    const source = await env.f.azure.compute.virtualMachines.instanceView(PRIMARY.rg, w.vms[0]!.vm);
    expect(source.statuses?.map((s) => s.code)).toContain("PowerState/stopped");
    for (const [i, v] of w.vms.entries()) {
      const app = apps[i]!;
      const db = inspect(env.f.emu.devicePath(DR.rg, v.vm, 0));
      expect(db.integrity, v.vm).toBe("ok");
      expect(app.acked.length, v.vm).toBeGreaterThan(0);
      expect(db.ids.length, `${v.vm}: every acknowledged transaction`).toBeGreaterThanOrEqual(app.acked.at(-1)!.id);
      expect(db.ids, v.vm).toEqual(db.ids.map((_, k) => k + 1));
    }
  }, 240_000);
});
