import { describe, expect, it } from "vitest";
import { readBlueprintRunState } from "../../adapters/state/blueprint-state";
import { RunStateStore } from "../../adapters/state/run-state";
import { SOURCES_RECORD_KEY, type SourcesRecord } from "../../core/schemas/blueprint-state";
import { SourceSchema } from "../../core/schemas/source";
import { parseWith } from "../../core/validate";
import { blueprint } from "../unit/stacks/fixtures";
import { diskIdOf, snapshotIdOf, validRecoveryPoint, validSource } from "../unit/core/fixtures";
import { useAzurite } from "../helpers/azurite";

const az = useAzurite();

/** A source row of `diskId` whose applied point is named after `label`. */
function sourceOf(diskId: string, label: string, paused = false) {
  const { desired: _d, applying: _a, ...raw } = validSource();
  raw.sourceDiskId = diskId;
  raw.stagingDiskId = diskIdOf(`${label}-staging`, "dr-rg");
  raw.applied = { ...validRecoveryPoint(), snapshotId: snapshotIdOf(label), sourceDiskId: diskId };
  raw.paused = paused;
  return parseWith(SourceSchema, raw);
}

describe("the run state the program reads", () => {
  it("gives the sync of each current source disk: a disk a failback returned in place of its tracked one", async () => {
    const b = blueprint();
    const tableName = az.newTableName();
    const store = await az.newStore(tableName);
    const ids = b.rows.flatMap((r) => [r.osDisk.sourceDiskId, ...r.dataDisks.map((d) => d.sourceDiskId)]);
    const [returnedFrom, ...others] = ids;
    const returned = diskIdOf("returned-os");
    for (const [i, id] of others.entries()) await store.create(sourceOf(id, `tracked-${i}`));
    await store.create(sourceOf(returned, "returned", true));
    const record: SourcesRecord = {
      replaced: { [returnedFrom!.toLowerCase()]: { by: returned, operation: "fb-1", at: "2026-12-01T00:00:00.000Z" } },
    };
    const client = az.tableClient(tableName);
    await new RunStateStore(client).create(b.name, SOURCES_RECORD_KEY, record);

    const state = await readBlueprintRunState(client, b);
    expect(state.sources).toEqual(record);
    expect(Object.keys(state.sync).sort()).toEqual([returned, ...others].map((id) => id.toLowerCase()).sort());
    expect(state.sync[returned.toLowerCase()]).toEqual({ paused: true, applied: snapshotIdOf("returned") });
    expect(state.sync[others[0]!.toLowerCase()]).toEqual({ paused: false, applied: snapshotIdOf("tracked-0") });
  });
});
