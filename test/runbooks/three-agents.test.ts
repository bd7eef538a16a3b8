import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { currentMode } from "../../runbooks/mode";
import { EXIT } from "../../runbooks/commands/common";
import { DR, PRIMARY, useDrWorld, type DrWorld } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";
import { waitFor } from "../helpers/processes";

// Three pipeline runs on three throwaway agents, locally: a failover, a failback and a cleanup, each
// a separate process in its own fresh copy of the repository. What they share is what pipelines
// share: the state store (Azurite), the local Azure, and the deployer's state folder (standing in for
// a shared azblob:// Pulumi backend). Nothing an agent records may need its working tree.

const env = useDrWorld();
const f = env.f;
let world: DrWorld;
const root = resolve(import.meta.dirname, "../..");

beforeAll(() => {
  world = env.world;
});

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=agent", "-c", "user.email=agent@example.invalid", ...args], {
    cwd,
    encoding: "utf8",
  });

/** A fresh clone of the repository as it stands (tracked and new files), its dependencies installed. */
function freshClone(name: string): string {
  const dir = tempDir(`ferry-agent-${name}-`);
  const files = git(root, "ls-files", "-co", "--exclude-standard", "-z").split("\0").filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(join(root, file), join(dir, file));
  }
  // `npm ci` on an agent; here the same packages, linked.
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  git(dir, "init", "-q");
  writeFileSync(join(dir, ".git", "info", "exclude"), "/node_modules\n");
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "checkout");
  return dir;
}

/** Runs `ferry …` (the local CLI) as a process in `clone`, with this agent's config, while the appliance syncs. */
async function agent(
  clone: string,
  args: string[],
  options: { host?: string } = {},
): Promise<{ code: number | null; stderr: string }> {
  const configPath = join(tempDir("ferry-agent-config-"), "ferry.json");
  // The agent's own local folder for caches; the deployer's state folder is the shared backend.
  writeFileSync(configPath, JSON.stringify({ ...world.config, journalDir: join(clone, ".ferry", "journal") }));
  return world.whileSyncing(
    () =>
      new Promise((done) => {
        const child = spawn(process.execPath, ["--import", "tsx", "local/ferry.ts", ...args, "--config", configPath], {
          cwd: clone,
          env: { ...world.env, FERRY_LOG_LEVEL: "warn", ...(options.host ? { FERRY_HOST: options.host } : {}) },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        child.once("exit", (code) => done({ code, stderr }));
      }),
  );
}

describe("three pipeline runs on three agents", () => {
  it("a failover, a failback and a cleanup, each from its own fresh clone, see one another's state", async () => {
    const w = await world.workload("agents", {
      dataLuns: [0],
      osStrategy: "attachAsIs",
      dataStrategy: "fromSnapshot",
    });
    await world.protect(w);
    const tracked = JSON.stringify((await world.ctx.deployer.getConfig(w.stack)).blueprint);

    // Agent 1: the failover.
    const one = freshClone("one");
    const failover = await agent(one, ["failover", w.stack, "--unplanned", "--yes"]);
    expect(failover, failover.stderr).toMatchObject({ code: EXIT.ok });
    expect(git(one, "status", "--porcelain")).toBe("");
    expect((await f.azure.compute.virtualMachines.get(DR.rg, "agents")).provisioningState).toBe("Succeeded");

    // Agent 2, a fresh checkout: it sees the failover (cleanup refuses to end it), then fails back.
    const two = freshClone("two");
    const refused = await agent(two, ["cleanup", w.stack, "--yes"]);
    expect(refused.code).not.toBe(EXIT.ok);
    expect(refused.stderr).toContain(`Blueprint ${w.stack} is in failover: cleanup ends a drill`);
    expect((await f.azure.compute.virtualMachines.get(DR.rg, "agents")).provisioningState).toBe("Succeeded");
    for (const step of [
      ["failback", "prepare", w.stack],
      ["failback", "sync", w.stack],
      ["failback", "complete", w.stack, "--yes"],
    ]) {
      const run = await agent(two, step);
      expect(run, `${step.join(" ")}: ${run.stderr}`).toMatchObject({ code: EXIT.ok });
    }
    // No tracked file changed, and the stack's own config still holds the tracked blueprint: the
    // returned disks are in the state store.
    expect(git(two, "status", "--porcelain")).toBe("");
    expect(JSON.stringify((await world.ctx.deployer.getConfig(w.stack)).blueprint)).toBe(tracked);
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    await expect(f.azure.compute.virtualMachines.get(DR.rg, "agents")).rejects.toMatchObject({ statusCode: 404 });
    const primary = await f.azure.compute.virtualMachines.get(PRIMARY.rg, "agents");
    const returnedOs = primary.storageProfile!.osDisk!.managedDisk!.id!;
    expect(returnedOs.toLowerCase()).not.toBe(w.osDiskId.toLowerCase());

    // Agent 3, another fresh checkout: the cleanup passes its guard (standby) and its `up` changes
    // nothing, since the program reads the returned disks through the store as the runbooks do.
    const three = freshClone("three");
    const cleanup = await agent(three, ["cleanup", w.stack, "--yes"]);
    expect(cleanup, cleanup.stderr).toMatchObject({ code: EXIT.ok });
    expect(git(three, "status", "--porcelain")).toBe("");
    const last = (await world.ctx.deployer.history(w.stack))[0]!;
    expect(last).toMatchObject({ result: "succeeded", resourceChanges: { create: 0, update: 0, delete: 0 } });
    const staging = await f.azure.compute.disks.get(DR.rg, "agents-os-staging");
    expect(staging.tags?.["ferry-source-disk"]).toBe(returnedOs.toLowerCase());
    expect((await world.ctx.store.get(returnedOs))?.source.sourceDiskId.toLowerCase()).toBe(returnedOs.toLowerCase());
    // Six processes, each starting the CLI from sources.
  }, 300_000);

  it("two failovers of one blueprint from two hosts: one operation, the other refused naming it", async () => {
    const w = await world.workload("twohosts");
    await world.protect(w);
    const clone = freshClone("hosts");
    // agent-a's detach from the appliance hangs two minutes: agent-b starts while agent-a holds the
    // blueprint, however slowly either process starts on a loaded machine (30 s was not enough at a load of 20).
    const slow = f.emu.faults.add({
      match: {
        operation: [
          "VirtualMachines_AttachDetachDataDisks",
          "VirtualMachines_CreateOrUpdate",
          "VirtualMachines_Update",
        ],
        pathIncludes: "/virtualMachines/ferry-appliance",
      },
      action: { kind: "delay", ms: 120_000 },
    });
    let b: Awaited<ReturnType<typeof agent>>;
    const a = agent(clone, ["failover", w.stack, "--unplanned", "--yes"], { host: "agent-a" });
    try {
      await waitFor(
        async () =>
          (await world.ctx.journal.list(w.stack)).find((o) => o.status === "running" && o.phase === "stagingDetached"),
        "agent-a's failover detaching its staging disks",
        90_000,
      );
      b = await agent(clone, ["failover", w.stack, "--unplanned", "--yes"], { host: "agent-b" });
    } finally {
      f.emu.faults.remove(slow);
    }
    const won = await a;
    const ops = await world.ctx.journal.list(w.stack);
    const seen = JSON.stringify(ops.map((o) => [o.host, o.status, o.startedAt, o.endedAt]));
    expect(
      ops.map((o) => o.status),
      `operations: ${seen}; b: ${b.stderr}`,
    ).toEqual(["succeeded"]);
    const op = ops[0]!;
    expect(op.host).toBe("agent-a");
    expect(won, won.stderr).toMatchObject({ code: EXIT.ok });
    expect(b.code).not.toBe(EXIT.ok);
    expect(b.stderr).toContain(`A failover-unplanned of ${w.stack} is running: operation ${op.id} on host agent-a`);
  }, 300_000);
});
