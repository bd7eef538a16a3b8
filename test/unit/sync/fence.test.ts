import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isFerryError } from "../../../core/errors";
import { DeviceFence, fenceDir } from "../../../sync/fence";
import { acquireInstanceLock } from "../../../sync/instance-lock";
import {
  currentProcess,
  identityName,
  isRunning,
  sessionEnded,
  sessionOf,
  type ProcessIdentity,
} from "../../../sync/process-identity";

const device = "/dev/sdz";
const runDir = () => mkdtempSync(join(tmpdir(), "ferry-fence-"));

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isFerryError(e) ? e.code : String(e);
  }
}

/** Another live process of this host: the one that started the test runner. */
function parent(): ProcessIdentity {
  const stat = readFileSync(`/proc/${process.ppid}/stat`, "utf8");
  const startTime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
  return { pid: process.ppid, startTime, bootId: currentProcess().bootId };
}

/** A process that no longer runs: this one, as it would be had it started at another time. */
function gone(): ProcessIdentity {
  return { ...currentProcess(), startTime: "1" };
}

/** Marks `who` as inside a write of `device` under token `fence`. */
function announce(dir: string, fence: number, who: ProcessIdentity): string {
  const name = `writing-${fence}-${identityName(who)}`;
  writeFileSync(join(fenceDir(dir, device), name), JSON.stringify(who));
  return name;
}

describe("process identity", () => {
  it("tells a running process from one whose pid was reused or that never ran", () => {
    expect(isRunning(currentProcess())).toBe(true);
    expect(isRunning(parent())).toBe(true);
    expect(isRunning(gone())).toBe(false);
    expect(isRunning({ ...currentProcess(), bootId: "another-boot" })).toBe(false);
  });
});

describe("lease sessions", () => {
  it("knows a session of this host that exited, and never one of another host", () => {
    expect(sessionEnded(sessionOf(currentProcess()))).toBe(false);
    expect(sessionEnded(sessionOf(parent()))).toBe(false);
    expect(sessionEnded(sessionOf(gone()))).toBe(true);
    expect(sessionEnded(sessionOf({ ...gone(), bootId: "another-boot" }))).toBe(false);
  });
});

describe("device fence", () => {
  it("lets the newest token write, and refuses every write of an older one once a newer is raised", async () => {
    const dir = runDir();
    const older = await DeviceFence.raise(device, 1, { runDir: dir });
    expect(await older.guard(async () => "written")).toBe("written");
    await DeviceFence.raise(device, 2, { runDir: dir });
    let ran = false;
    expect(
      await codeOf(
        older.guard(async () => {
          ran = true;
        }),
      ),
    ).toBe("Fenced");
    expect(ran).toBe(false);
    expect(older.fenced).toBe(true);
  });

  it("refuses to raise a token older than one already raised", async () => {
    const dir = runDir();
    await DeviceFence.raise(device, 5, { runDir: dir });
    expect(await codeOf(DeviceFence.raise(device, 4, { runDir: dir }))).toBe("Fenced");
  });

  it("waits for an older writer inside a write, and goes on when that write ends", async () => {
    const dir = runDir();
    const older = await DeviceFence.raise(device, 1, { runDir: dir });
    let release!: () => void;
    const inside = older.guard(() => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 20));
    let raised = false;
    const newer = DeviceFence.raise(device, 2, { runDir: dir, pollInMs: 5 }).then((f) => {
      raised = true;
      return f;
    });
    await new Promise((r) => setTimeout(r, 60));
    expect(raised).toBe(false);
    release();
    await inside;
    expect((await newer).fence).toBe(2);
    expect(await codeOf(older.guard(async () => undefined))).toBe("Fenced");
  });

  it("gives up with DeviceHeld while a live older writer stays inside a write", async () => {
    const dir = runDir();
    await DeviceFence.raise(device, 1, { runDir: dir });
    const name = announce(dir, 1, parent());
    expect(await codeOf(DeviceFence.raise(device, 2, { runDir: dir, waitInMs: 50, pollInMs: 5 }))).toBe("DeviceHeld");
    // Nothing was given up: the writer's announcement stays, and the new token stays raised.
    expect(readdirSync(fenceDir(dir, device))).toContain(name);
  });

  it("removes the announcement of a writer that died inside a write, and goes on", async () => {
    const dir = runDir();
    await DeviceFence.raise(device, 1, { runDir: dir });
    const name = announce(dir, 1, gone());
    const newer = await DeviceFence.raise(device, 2, { runDir: dir, waitInMs: 50 });
    expect(newer.fence).toBe(2);
    expect(readdirSync(fenceDir(dir, device))).not.toContain(name);
  });

  it("waits for a zeroing command a dead writer left running on the device", async () => {
    const dir = runDir();
    const proc = runDir();
    mkdirSync(join(proc, "4242"));
    const argv = ["/usr/bin/blkdiscard", "--zeroout", "--offset", "0", "--length", "4096", device];
    writeFileSync(join(proc, "4242", "cmdline"), `${argv.join("\0")}\0`);
    mkdirSync(join(proc, "4243"));
    writeFileSync(join(proc, "4243", "cmdline"), `fallocate\0--punch-hole\0/dev/sdy\0`);
    const held = DeviceFence.raise(device, 1, { runDir: dir, procRoot: proc, waitInMs: 50, pollInMs: 5 });
    expect(await codeOf(held)).toBe("DeviceHeld");
    rmSync(join(proc, "4242"), { recursive: true });
    expect((await DeviceFence.raise(device, 2, { runDir: dir, procRoot: proc })).fence).toBe(2);
  });

  it("leaves no announcement behind once the writes of a token have ended", async () => {
    const dir = runDir();
    const fence = await DeviceFence.raise(device, 1, { runDir: dir });
    await Promise.all([1, 2, 3].map((i) => fence.guard(() => new Promise((r) => setTimeout(r, i * 5)))));
    await fence.close();
    expect(readdirSync(fenceDir(dir, device)).filter((n) => n.startsWith("writing-"))).toEqual([]);
  });
});

describe("instance lock", () => {
  const options = (dir: string, command = "run") => ({
    runDir: dir,
    instanceId: "appliance-1",
    deviceDir: "/dev",
    command,
  });

  it("refuses while another live process of the instance is registered, naming it", async () => {
    const dir = runDir();
    const held = await acquireInstanceLock(options(dir));
    const [entry] = readdirSync(dir).filter((n) => n.startsWith("instance-"));
    await held.release();
    // The other process: registered as `ferry-sync run`.
    const other = parent();
    writeFileSync(
      join(dir, entry!, identityName(other)),
      JSON.stringify({ ...other, command: "run", instanceId: "appliance-1", startedAt: "2026-01-01T00:00:00.000Z" }),
    );
    let error: unknown;
    await acquireInstanceLock({ ...options(dir, "once"), attempts: 2 }).catch((e: unknown) => (error = e));
    expect(isFerryError(error) && error.code).toBe("InstanceBusy");
    expect((error as Error).message).toMatch(new RegExp(`pid ${other.pid} \\(\`ferry-sync run\``));
  });

  it("takes over the registration of a process that died", async () => {
    const dir = runDir();
    await (await acquireInstanceLock(options(dir))).release();
    const [entry] = readdirSync(dir).filter((n) => n.startsWith("instance-"));
    writeFileSync(join(dir, entry!, identityName(gone())), JSON.stringify({ ...gone(), command: "run" }));
    const lock = await acquireInstanceLock(options(dir, "once"));
    expect(readdirSync(join(dir, entry!))).toEqual([identityName(currentProcess())]);
    await lock.release();
  });

  it("does not conflict with the same instance on other staging disks", async () => {
    const dir = runDir();
    const one = await acquireInstanceLock(options(dir));
    const other = mkdtempSync(join(tmpdir(), "ferry-devices-"));
    expect(readdirSync(dir).filter((n) => n.startsWith("instance-"))).toHaveLength(1);
    const two = await acquireInstanceLock({ ...options(dir), deviceDir: other });
    expect(readdirSync(dir).filter((n) => n.startsWith("instance-"))).toHaveLength(2);
    await one.release();
    await two.release();
  });
});
