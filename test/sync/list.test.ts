import { describe, expect, it } from "vitest";
import { useAzurite } from "../helpers/azurite";
import { useEmulator } from "../helpers/emulator";
import { spawnSync } from "../helpers/processes";
import { createSyncEnv } from "../helpers/sync-env";

describe("ferry-sync list", () => {
  const f = useEmulator();
  const a = useAzurite();

  it("names each source's blueprint, row and disk role, as `ferry sources enable` recorded them", async () => {
    const env = await createSyncEnv(f, a, [{ lun: 0 }, { lun: 1 }]);
    await env.store.create({ ...env.sourceRow(0), protection: { blueprint: "erp", row: "db1", disk: "os" } });
    await env.store.create(env.sourceRow(1));
    const { path, env: procEnv } = env.configFile();
    const json = spawnSync(["list", "--config", path, "--json"], procEnv);
    expect((await json.exited).code, json.stderr.join("")).toBe(0);
    const rows = JSON.parse(json.stdout.join("\n")) as { lun: number; blueprint: string | null; row: string | null }[];
    expect(rows.map((r) => [r.lun, r.blueprint, r.row]).sort()).toEqual([
      [0, "erp", "db1"],
      [1, null, null],
    ]);
    const text = spawnSync(["list", "--config", path], procEnv);
    expect((await text.exited).code, text.stderr.join("")).toBe(0);
    expect(text.stdout.join("\n")).toMatch(/^erp\/db1\/os {2}\S+ {2}lun0 /m);
  });
});
