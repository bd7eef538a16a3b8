import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { RunStateStore } from "../../adapters/state/run-state";
import { Journal, type Operation } from "../../runbooks/journal";
import { useAzurite } from "../helpers/azurite";
import { tempDir } from "../helpers/emulator";

// The journal's local copy of each operation: written in the background, never in the way of the store's record.

const az = useAzurite();

async function journalIn(cacheDir: string, lines: string[] = []): Promise<{ journal: Journal; store: RunStateStore }> {
  const table = await az.newStore();
  const store = new RunStateStore(az.tableClient(table.tableName));
  const logger = pino(
    { level: "warn" },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    }),
  );
  return { journal: new Journal({ store, host: "agent-a", leaseInMs: 60_000, cacheDir, logger }), store };
}

describe("the journal's local copy", () => {
  it("holds the operation as it ended once end() returns, with no temporary file left", async () => {
    const dir = tempDir("ferry-journal-copy-");
    const { journal, store } = await journalIn(dir);
    const op = await journal.start("failover-unplanned", "bp-copy");
    // Saves in a burst, as a plan's blueprints write: the copy keeps up with the last one.
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      op.details = { ...op.details, saved: i, sas: "https://md.blob.core.windows.net/x/abcd?sv=2024&sig=SECRET" };
      saves.push(journal.save(op));
    }
    await Promise.all(saves);
    await journal.end(op, "succeeded");
    const files = readdirSync(join(dir, "bp-copy"));
    expect(files).toEqual([`${op.id}.json`]);
    const copy = JSON.parse(readFileSync(join(dir, "bp-copy", files[0]!), "utf8")) as Operation;
    expect(copy.status).toBe("succeeded");
    expect(copy.details?.["saved"]).toBe(19);
    expect(JSON.stringify(copy)).not.toContain("SECRET");
    expect((await store.get<Operation>("bp-copy", `op/${op.id}`))!.doc.status).toBe("succeeded");
  });

  it("an operation whose copy cannot be written still runs and is recorded, with a warning", async () => {
    const dir = tempDir("ferry-journal-copy-");
    // A file where the blueprint's folder would be: every copy fails.
    writeFileSync(join(dir, "bp-nocopy"), "");
    const lines: string[] = [];
    const { journal, store } = await journalIn(dir, lines);
    const op = await journal.start("failover-unplanned", "bp-nocopy");
    await journal.step(op, "a step", () => Promise.resolve());
    await journal.end(op, "succeeded");
    expect((await store.get<Operation>("bp-nocopy", `op/${op.id}`))!.doc.steps.map((s) => s.status)).toEqual([
      "succeeded",
    ]);
    expect(lines.join("")).toContain("could not write the local copy of the operation");
  });
});
