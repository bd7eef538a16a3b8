// One process per instance identity on an appliance: `run`, `once` and `verify` register in
// `<runDir>/instance-…/` before they touch a staging disk, and refuse to start while another live
// process of the same instanceId and device folder is registered there. Entries are named after
// their process (pid and start time), so a dead process's entry is told apart and removed, and no
// lock ever has to be broken while someone else may be taking it.
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, realpath, unlink, writeFile } from "node:fs/promises";
import { unlinkSync } from "node:fs";
import { join } from "node:path";
import { FerryError } from "../core/errors";
import { currentProcess, identityName, isRunning, type ProcessIdentity } from "./process-identity";

/** Options of {@link acquireInstanceLock}. */
export interface InstanceLockOptions {
  /** Folder shared by every ferry-sync process of this appliance (config `runDir`). */
  runDir: string;
  instanceId: string;
  /** The device folder of the config: processes of one instanceId on other disks do not conflict. */
  deviceDir: string;
  /** What this process runs (`run`, `once`, `verify`), shown to the one refused. */
  command: string;
  /** Tries when two processes register at the same moment (both step back, then try again). Default 5. */
  attempts?: number;
}

/** What a registered process wrote about itself. */
export interface InstanceHolder extends ProcessIdentity {
  command: string;
  instanceId: string;
  startedAt: string;
}

/** A held registration; `release()` ends it (process exit ends it too). */
export interface InstanceLock {
  release(): Promise<void>;
}

/**
 * Registers this process as the one process of `instanceId` on `deviceDir`. Throws
 * {@link FerryError} "InstanceBusy" (with the other process's pid and command) while another live
 * process holds the registration.
 */
export async function acquireInstanceLock(options: InstanceLockOptions): Promise<InstanceLock> {
  const devices = await realpath(options.deviceDir).catch(() => options.deviceDir);
  const hash = createHash("sha256").update(`${options.instanceId}\0${devices}`).digest("hex").slice(0, 16);
  const dir = join(options.runDir, `instance-${options.instanceId.replace(/[^A-Za-z0-9_.-]/g, "_")}-${hash}`);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const self = currentProcess();
  const mine = join(dir, identityName(self));
  const holder: InstanceHolder = {
    ...self,
    command: options.command,
    instanceId: options.instanceId,
    startedAt: new Date().toISOString(),
  };
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    await writeFile(mine, JSON.stringify(holder), { mode: 0o640 });
    const others: InstanceHolder[] = [];
    for (const name of await readdir(dir)) {
      if (name === identityName(self)) continue;
      const other = await readHolder(dir, name, self.bootId);
      if (other === undefined) continue;
      if (isRunning(other)) others.push(other);
      else await unlink(join(dir, name)).catch(() => undefined);
    }
    if (others.length === 0) {
      const onExit = () => {
        try {
          unlinkSync(mine);
        } catch {
          // Gone already.
        }
      };
      process.once("exit", onExit);
      return {
        release: async () => {
          process.off("exit", onExit);
          await unlink(mine).catch(() => undefined);
        },
      };
    }
    // Both stepped in at once, or the other really runs: step back, and look again a little later.
    await unlink(mine).catch(() => undefined);
    if (attempt >= attempts) {
      const o = others[0]!;
      throw new FerryError(
        `Another ferry-sync process runs as instance "${options.instanceId}" on this appliance: pid ${o.pid} ` +
          `(\`ferry-sync ${o.command}\`, since ${o.startedAt}). Two processes of one instance would write the same ` +
          "staging disks; this one does nothing.",
        { code: "InstanceBusy", details: { pid: o.pid, command: o.command, instanceId: options.instanceId } },
      );
    }
    await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 80)));
  }
}

async function readHolder(dir: string, name: string, bootId: string): Promise<InstanceHolder | undefined> {
  const m = /^(\d+)-(\d+)$/.exec(name);
  if (!m) return undefined;
  try {
    return JSON.parse(await readFile(join(dir, name), "utf8")) as InstanceHolder;
  } catch {
    // Being written this instant (its writer is alive), or removed meanwhile: the name says who.
    return {
      pid: Number(m[1]),
      startTime: m[2] === "0" ? "" : m[2]!,
      bootId,
      command: "(starting)",
      instanceId: "",
      startedAt: "",
    };
  }
}
