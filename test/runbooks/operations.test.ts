import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { TableClient } from "@azure/data-tables";
import { beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger";
import { isUserError } from "../../core/errors";
import { localDeployer } from "../../local/deployer/local-deployer";
import { FerryConfigSchema } from "../../runbooks/config";
import { createContext, type RunbookContext } from "../../runbooks/context";
import { cleanup, failover } from "../../runbooks/failover";
import { formatHistory, history } from "../../runbooks/history";
import { currentMode } from "../../runbooks/mode";
import { useDrWorld, type DrWorld } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";
import { waitFor } from "../helpers/processes";

// Operations live in the state store: two hosts share one record and one lease per blueprint.

const env = useDrWorld();
const f = env.f;
let world: DrWorld;

beforeAll(() => {
  world = env.world;
});

/** A ferry context of another host: its own host name and an empty local folder, the same state store. */
async function otherHost(host: string, options: { leaseSeconds?: number } = {}): Promise<RunbookContext> {
  const dir = tempDir("ferry-host-");
  const config = FerryConfigSchema.parse({
    ...world.config,
    journalDir: join(dir, "journal"),
    ...(options.leaseSeconds ? { operations: { leaseSeconds: options.leaseSeconds } } : {}),
  });
  return createContext(config, {
    env: world.env,
    logger: createLogger({ level: "silent", env: {} }),
    localDeployer,
    host,
  });
}

describe("operations in the state store", () => {
  it("two failovers of one blueprint from two hosts: one operation runs, the other is refused naming it", async () => {
    const w = await world.workload("two");
    await world.protect(w);
    const b = await otherHost("agent-b");
    const results = await world.whileSyncing(
      () =>
        Promise.allSettled([
          failover(world.ctx, w.stack, { kind: "unplanned" }),
          failover(b, w.stack, { kind: "unplanned" }),
        ]),
      world.sourcesOf(w),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const refusal = lost[0]!.reason as Error;
    expect(isUserError(refusal) && refusal.code).toBe("OperationRunning");
    const op = won[0]!.value;
    const winner = results[0]!.status === "fulfilled" ? hostname() : "agent-b";
    expect(refusal.message).toContain(
      `A failover-unplanned of ${w.stack} is running: operation ${op.id} on host ${winner}`,
    );
    expect(refusal.message).toContain(`since ${op.startedAt}`);
    const ops = await b.journal.list(w.stack);
    expect(ops.map((o) => [o.id, o.status, o.phase])).toEqual([[op.id, "succeeded", "succeeded"]]);
    expect(op.host).toBe(winner);
  });

  it("history from a fresh context with an empty local folder shows an operation another host ran", async () => {
    const w = await world.workload("hist");
    await world.protect(w);
    const op = await world.unplannedFailover(w);
    const fresh = await otherHost("agent-fresh");
    expect(readdirSync(dirname(fresh.config.journalDir))).toEqual([]);
    const lines = await history(fresh, w.stack);
    const line = lines.find((l) => l.source === "runbook" && l.message === op.id);
    expect(line).toMatchObject({ kind: "failover-unplanned", status: "succeeded", rpoSeconds: op.rpoSeconds });
    expect(formatHistory(lines)).toContain(op.id);
    // The mode a fresh agent reads is the store's: the failover, not the stack file's standby.
    expect(await currentMode(fresh, w.stack)).toBe("failover");
    await expect(cleanup(fresh, w.stack)).rejects.toMatchObject({ code: "NotADrill" });
  });

  it("a failover whose process dies holds the blueprint until its lease lapses; the next run resumes it", async () => {
    const w = await world.workload("dead", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    const dir = tempDir("ferry-dead-");
    const configPath = join(dir, "ferry.json");
    const leaseSeconds = 3;
    writeFileSync(
      configPath,
      JSON.stringify({ ...world.config, journalDir: join(dir, "journal"), operations: { leaseSeconds } }),
    );
    // The detach of the attach-as-is disk hangs: the process is killed in that phase.
    const slow = f.emu.faults.add({
      match: {
        operation: ["VirtualMachines_AttachDetachDataDisks", "VirtualMachines_CreateOrUpdate"],
        pathIncludes: "/virtualMachines/ferry-appliance",
      },
      action: { kind: "delay", ms: 20_000 },
    });
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "local/ferry.ts", "failover", w.stack, "--unplanned", "--yes", "--config", configPath],
      { env: world.env, stdio: ["ignore", "ignore", "pipe"] },
    );
    const stderr: string[] = [];
    child.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_c, signal) => resolve(signal)));
    let dead;
    try {
      dead = await world.whileSyncing(
        () =>
          waitFor(
            async () =>
              (await world.ctx.journal.list(w.stack)).find(
                (o) => o.status === "running" && o.phase === "stagingDetached",
              ),
            `the failover in phase stagingDetached (child stderr: ${stderr.join("")})`,
            90_000,
          ),
        world.sourcesOf(w),
      );
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
    } finally {
      child.kill("SIGKILL");
      f.emu.faults.remove(slow);
    }

    // Refused while the dead process's lease is live, naming its operation, host and pid.
    const refused = await failover(world.ctx, w.stack, { kind: "unplanned" }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(refused?.message).toContain(
      `operation ${dead.id} on host ${hostname()} (pid ${child.pid}), since ${dead.startedAt}`,
    );
    await new Promise((r) => setTimeout(r, leaseSeconds * 1000 + 200));

    const again = await world.whileSyncing(
      () => failover(world.ctx, w.stack, { kind: "unplanned" }),
      world.sourcesOf(w),
    );
    expect(again.status).toBe("succeeded");
    expect(again.details).toMatchObject({ resumes: dead.id });
    // The resumed run skipped nothing it needed and did not hand the detached disk back to the sync.
    const abandoned = (await world.ctx.journal.list(w.stack)).find((o) => o.id === dead.id)!;
    expect(abandoned.status).toBe("failed");
    expect(abandoned.error).toMatch(new RegExp(`^abandoned: its host ${hostname()} stopped renewing`));
    expect((await world.ctx.store.get(w.osDiskId))!.source.paused).toBe(true);
  });

  it("an error with a SAS URL in it is stored redacted: nowhere on disk or in the store", async () => {
    const w = await world.workload("sas", { osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    const signature = "PlantedSig0123456789abcdef%3D";
    const sasUrl = `https://md-abc.z1.blob.storage.azure.net/xyz/abcd?sv=2022-11-02&sr=b&sp=r&sig=${signature}`;
    const fault = f.emu.faults.add({
      match: { operation: "VirtualMachines_CreateOrUpdate", pathIncludes: "/virtualMachines/sas" },
      action: { kind: "error", status: 500, code: "InternalError", message: `could not read ${sasUrl}` },
    });
    const b = await otherHost("agent-sas");
    try {
      await expect(
        world.whileSyncing(() => failover(b, w.stack, { kind: "unplanned" }), world.sourcesOf(w)),
      ).rejects.toThrow();
    } finally {
      f.emu.faults.remove(fault);
    }
    const failed = (await b.journal.list(w.stack))[0]!;
    expect(failed.error).toMatch(
      /could not read https:\/\/md-abc\.z1\.blob\.storage\.azure\.net\/xyz\/abcd\?<redacted>/,
    );

    // A source's lastError, as the daemon would write it.
    const s = (await world.ctx.store.get(w.osDiskId))!;
    await world.ctx.store.update(s, {
      ...s.source,
      lastError: { code: "ReadFailed", message: `GET ${sasUrl} failed`, at: new Date().toISOString() },
    });

    const onDisk = [dirname(world.config.journalDir), dirname(b.config.journalDir)].flatMap(filesUnder);
    expect(onDisk.length).toBeGreaterThan(0);
    for (const file of onDisk) expect(readFileSync(file, "latin1"), file).not.toContain(signature.slice(0, 12));
    const table = TableClient.fromConnectionString(world.env.FERRY_LOCAL_TABLE!, world.ctx.store.tableName, {
      allowInsecureConnection: true,
    });
    let rows = 0;
    for await (const entity of table.listEntities()) {
      rows++;
      expect(JSON.stringify(entity, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
        signature.slice(0, 12),
      );
    }
    expect(rows).toBeGreaterThan(0);
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((p) => join(dir, p))
    .filter((p) => statSync(p).isFile());
}
