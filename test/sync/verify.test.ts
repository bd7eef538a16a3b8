import { describe, expect, it } from "vitest";
import { checkHealth } from "../../sync/cycle";
import { pattern, writeAt } from "../helpers/bytes";
import { useAzurite } from "../helpers/azurite";
import { useEmulator } from "../helpers/emulator";
import { spawnSync } from "../helpers/processes";
import { createSyncEnv, type SyncEnv } from "../helpers/sync-env";

const MiB = 1024 * 1024;

describe("sync: verify", () => {
  const f = useEmulator();
  const a = useAzurite();

  const row = async (env: SyncEnv) => (await env.store.get(env.sourceDiskId(0)))!;

  /** A source backfilled and verified in-process, with 2 MiB of data at offset 0. */
  async function backfilled(seed: number) {
    const env = await createSyncEnv(f, a, [{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 0, pattern(seed, 2 * MiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime();
    expect((await rt.daemon.tick()).get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect((await row(env)).source.state).toBe("healthy");
    return { env, rt };
  }

  it("exits 4 (busy), not 1, on a source whose point is being applied, and records nothing", async () => {
    const { env } = await backfilled(21);
    const before = await row(env);
    await env.store.update(before, { ...before.source, applying: before.source.applied! });
    const { path, env: procEnv } = env.configFile();
    const verify = spawnSync(["verify", env.sourceDiskId(0), "--config", path], procEnv);
    expect((await verify.exited).code, verify.stderr.join("")).toBe(4);
    expect(verify.stdout.join("\n")).toMatch(/not verified now: a recovery point is being applied/);
    const after = (await row(env)).source;
    expect(after.state).toBe("healthy");
    expect(after.lastError).toBeUndefined();
    expect(after.lastVerifiedAt).toBe(before.source.lastVerifiedAt);
  });

  it("exits 4 while another daemon holds the source, and records nothing", async () => {
    const { env } = await backfilled(22);
    const before = await row(env);
    const until = new Date(Date.now() + 60_000).toISOString();
    await env.store.update(before, { ...before.source, lease: { owner: "another-appliance", until } });
    const { path, env: procEnv } = env.configFile();
    const verify = spawnSync(["verify", env.sourceDiskId(0), "--config", path], procEnv);
    expect((await verify.exited).code, verify.stderr.join("")).toBe(4);
    expect(verify.stdout.join("\n")).toMatch(/leased by "another-appliance"/);
    const after = (await row(env)).source;
    expect(after.state).toBe("healthy");
    expect(after.lease?.owner).toBe("another-appliance");
  });

  it("--json prints one JSON document on stdout; the log lines go to stderr", async () => {
    const { env } = await backfilled(23);
    const { path, env: procEnv } = env.configFile();
    const verify = spawnSync(["verify", env.sourceDiskId(0), "--config", path, "--json"], procEnv);
    expect((await verify.exited).code, verify.stderr.join("")).toBe(0);
    expect(JSON.parse(verify.stdout.join("\n"))).toEqual({ kind: "verified", ok: true });
    expect(verify.stderr.join("")).toMatch(/staging disk verified against its recovery point/);
  });

  it("a passing verification clears the VerifyMismatch that `list` showed", async () => {
    const { env, rt } = await backfilled(24);
    const good = Buffer.from(pattern(24, 2 * MiB).subarray(MiB + 5, MiB + 6));
    writeAt(env.stagingDevice(0), MiB + 5, Buffer.from([good[0]! ^ 0xff]));
    expect(await checkHealth(await row(env), rt.ctx)).toMatchObject({ kind: "verified", ok: false });
    expect((await row(env)).source.lastError?.code).toBe("VerifyMismatch");
    // Repaired (as a retry-backfill would), the next verification passes.
    writeAt(env.stagingDevice(0), MiB + 5, good);
    expect(await checkHealth(await row(env), rt.ctx)).toEqual({ kind: "verified", ok: true });
    const { path, env: procEnv } = env.configFile();
    const list = spawnSync(["list", "--config", path, "--json"], procEnv);
    expect((await list.exited).code, list.stderr.join("")).toBe(0);
    const [shown] = JSON.parse(list.stdout.join("\n")) as { state: string; lastError: string | null }[];
    expect(shown).toMatchObject({ state: "healthy", lastError: null });
  });
});
