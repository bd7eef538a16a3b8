import { describe, expect, it } from "vitest";
import { AZURITE_ACCOUNT_KEY } from "../../local/azurite";
import { isFerryError, isUserError } from "../../core/errors";
import { SourceSchema, type Source } from "../../core/schemas/source";
import { parseWith } from "../../core/validate";
import { holdPoint, holdPoints, requestSync, requestSyncs, setPaused } from "../../adapters/state/admin";
import { normalizeResourceId } from "../../core/resource-id";
import { SourceStore, sourceRowKey, sourceStoreClient, type StoredSource } from "../../adapters/state/store";
import { useAzurite } from "../helpers/azurite";
import { thrownBy } from "../helpers/errors";
import { diskIdOf, snapshotIdOf, validRecoveryPoint, validSource, vmIdOf } from "../unit/core/fixtures";

const az = useAzurite();

/** A source without recovery points, whose disk id can be changed alone. */
function sourceWithoutPoints(name = "bare"): Source {
  const { desired: _d, applying: _a, applied: _p, applyingMode: _m, ...rest } = fullSource(name);
  return rest;
}

/** A source with every optional field set, so each column type is exercised. */
function fullSource(name = "os1"): Source {
  const raw = validSource();
  raw.sourceDiskId = diskIdOf(name);
  raw.stagingDiskId = diskIdOf(`${name}-staging`, "dr-rg");
  const point = (n: string) => ({
    ...validRecoveryPoint(),
    snapshotId: snapshotIdOf(`${name}-${n}`),
    sourceDiskId: raw.sourceDiskId,
  });
  raw.desired = point("0002");
  raw.applying = point("0002");
  raw.applied = point("0001");
  raw.applyingMode = "delta";
  raw.lastError = { code: "SnapshotFailed", message: 'quota "exceeded"\nline two', at: "2025-03-01T10:01:00+01:00" };
  raw.lease = { owner: "appliance-1/daemon-a", until: "2025-03-01T10:07:00.000Z" };
  raw.snapshotResourceGroup = "ferry-snapshots(prod)";
  raw.paused = true;
  raw.syncRequestedAt = "2025-03-01T10:03:00Z";
  raw.consecutiveFailures = 2;
  raw.lastVerifiedAt = "2025-02-28T23:59:59.999+05:30";
  return parseWith(SourceSchema, raw);
}

/**
 * Three sources as a runbook read them, then the daemon's write of `bytesCopied` on the one at `index`: the runbook's
 * rows are stale for it.
 */
async function readThenDaemonWrites(prefix: string, index: number, bytesCopied: number) {
  const runbook = await az.newStore();
  const daemon = await az.newStore(runbook.tableName);
  const sources = Array.from({ length: 3 }, (_, i) => sourceWithoutPoints(`${prefix}${i}`));
  for (const s of sources) await runbook.create(s);
  const stale = await runbook.getMany(sources.map((s) => s.sourceDiskId));
  const row = (await daemon.get(sources[index]!.sourceDiskId))!;
  await daemon.update(row, { ...row.source, bytesCopied, updatedAt: "2025-03-01T11:00:02Z" });
  return { runbook, sources, stale };
}

async function expectFerryError(
  call: PromiseLike<unknown>,
  code: string,
): Promise<{ message: string; details?: Record<string, unknown> }> {
  const e = await thrownBy(call);
  expect(isFerryError(e), `expected a FerryError ${code}, got ${String(e)}`).toBe(true);
  expect((e as unknown as { code: string }).code).toBe(code);
  // Connection strings hold the account key: it must never reach a message.
  expect(e.message).not.toContain(AZURITE_ACCOUNT_KEY);
  return e as { message: string; details?: Record<string, unknown> };
}

describe("SourceStore", () => {
  it("creates, reads, lists, updates and deletes a source", async () => {
    const store = await az.newStore();
    const source = fullSource();

    const created = await store.create(source);
    expect(created.source).toEqual(source);
    expect(created.etag).not.toBe("");

    const read = await store.get(source.sourceDiskId);
    expect(read).toEqual(created);
    // ARM ids are case-insensitive: any spelling finds the row.
    expect(await store.get(source.sourceDiskId.toUpperCase())).toEqual(created);
    expect(await store.list()).toEqual([created]);

    // Clearing optional fields removes them (Replace, not Merge).
    const { applying: _a, applyingMode: _m, lease: _l, lastError: _e, ...rest } = source;
    const next: Source = {
      ...rest,
      applied: source.applying!,
      bytesCopied: source.bytesCopied + 4096,
      updatedAt: "2025-03-01T10:05:00Z",
    };
    const updated = await store.update(read!, next);
    expect(updated.etag).not.toBe(created.etag);
    const reread = await store.get(source.sourceDiskId);
    expect(reread).toEqual(updated);
    expect(reread!.source).toEqual(next);
    expect(reread!.source.applying).toBeUndefined();
    expect(reread!.source.lease).toBeUndefined();

    await store.delete(reread!);
    expect(await store.get(source.sourceDiskId)).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it("fills schema defaults and keeps a minimal source minimal", async () => {
    const store = await az.newStore();
    const raw = validSource();
    delete raw.desired;
    delete raw.applied;
    delete raw.lagInMs;
    const source = parseWith(SourceSchema, raw);
    await store.create(source);
    const read = await store.get(source.sourceDiskId);
    expect(read!.source).toEqual({ ...raw, paused: false, consecutiveFailures: 0 });
  });

  it("lists the sources of one appliance, matching its id in any case", async () => {
    const store = await az.newStore();
    const a1 = { ...fullSource("a1"), applianceId: vmIdOf("appliance-a", "dr-rg") };
    const a2 = { ...fullSource("a2"), applianceId: vmIdOf("appliance-a", "dr-rg") };
    const b1 = { ...fullSource("b1"), applianceId: vmIdOf("appliance-b", "dr-rg") };
    for (const s of [a1, b1, a2]) await store.create(s);

    const ofA = await store.list({ applianceId: vmIdOf("APPLIANCE-A", "DR-RG") });
    expect(ofA.map((s) => s.source.sourceDiskId).sort()).toEqual([a1.sourceDiskId, a2.sourceDiskId].sort());
    expect((await store.list({ applianceId: b1.applianceId })).map((s) => s.source)).toEqual([b1]);
    expect(await store.list({ applianceId: vmIdOf("appliance-c", "dr-rg") })).toEqual([]);
    expect(await store.list()).toHaveLength(3);
  });

  it("round-trips numbers beyond 2^31 exactly, stored as Int64 and Double", async () => {
    const store = await az.newStore();
    const cases: [number, number, number][] = [
      [2 ** 31, 2 ** 31 + 1, 2 ** 31 + 0.25],
      [2 ** 50, 32 * 1024 ** 4 + 512, 2 ** 40 + 0.5],
      [Number.MAX_SAFE_INTEGER, 2 ** 50 + 1, 0.1],
    ];
    let stored: StoredSource | undefined;
    for (const [bytesCopied, sourceSizeBytes, lagInMs] of cases) {
      const next = { ...fullSource(), bytesCopied, sourceSizeBytes, lagInMs, consecutiveFailures: 2 ** 32 };
      stored = stored === undefined ? await store.create(next) : await store.update(stored, next);
      const read = await store.get(next.sourceDiskId);
      expect(read!.source).toEqual(next);
    }

    // On the wire: typed columns, not untyped JSON numbers a service may read as Int32.
    const raw = await az
      .tableClient(store.tableName)
      .getEntity("source", sourceRowKey(fullSource().sourceDiskId), { disableTypeConversion: true });
    expect(raw["bytesCopied"]).toEqual({ value: String(Number.MAX_SAFE_INTEGER), type: "Int64" });
    expect(raw["sourceSizeBytes"]).toEqual({ value: String(2 ** 50 + 1), type: "Int64" });
    expect(raw["lagInMs"]).toEqual({ value: "0.1", type: "Double" });
    expect(raw["desired"]).toMatchObject({ type: "String" });
  });

  it("refuses to create a source twice, whatever the case of its id", async () => {
    const store = await az.newStore();
    const source = fullSource();
    await store.create(source);
    const e = await expectFerryError(store.create(source), "SourceExists");
    expect(e.message).toContain(source.sourceDiskId);
    const upper = { ...source, sourceDiskId: source.sourceDiskId.toUpperCase() };
    await expectFerryError(store.create(upper), "SourceExists");
  });

  it("lets only the first of two writers of the same row win", async () => {
    const first = await az.newStore();
    const second = await az.newStore(first.tableName);
    const source = fullSource();
    await first.create(source);

    const readByFirst = (await first.get(source.sourceDiskId))!;
    const readBySecond = (await second.get(source.sourceDiskId))!;
    expect(readBySecond.etag).toBe(readByFirst.etag);

    await first.update(readByFirst, { ...source, state: "degraded", updatedAt: "2025-03-01T11:00:00Z" });
    const e = await expectFerryError(
      second.update(readBySecond, { ...source, bytesCopied: 1, updatedAt: "2025-03-01T11:00:01Z" }),
      "ConcurrentUpdate",
    );
    expect(e.message).toContain(source.sourceDiskId);
    expect(e.details).toMatchObject({ reason: "changed", operation: "update" });

    const now = (await second.get(source.sourceDiskId))!.source;
    expect(now.state).toBe("degraded");
    expect(now.bytesCopied).toBe(source.bytesCopied);
  });

  it("re-applies a runbook's change (pause, sync request, hold) on a row the daemon wrote meanwhile, keeping the daemon's write", async () => {
    const runbook = await az.newStore();
    const daemon = await az.newStore(runbook.tableName);
    const source = sourceWithoutPoints("raced");
    await runbook.create(source);
    // Between each of the runbook's reads and its write, the daemon writes the row once.
    let races = 0;
    const racing = new Proxy(runbook, {
      get(target, prop, receiver) {
        if (prop !== "update") return Reflect.get(target, prop, receiver) as unknown;
        return async (read: StoredSource, next: Source) => {
          if (races < 3) {
            races++;
            const now = (await daemon.get(source.sourceDiskId))!;
            await daemon.update(now, {
              ...now.source,
              bytesCopied: now.source.bytesCopied + 1000,
              updatedAt: "2025-03-01T11:00:00Z",
            });
          }
          return target.update(read, next);
        };
      },
    });
    await setPaused(racing, source.sourceDiskId, true, new Date("2025-03-01T11:00:01Z"));
    await requestSync(racing, source.sourceDiskId, new Date("2025-03-01T11:00:02Z"));
    await holdPoint(
      racing,
      source.sourceDiskId,
      snapshotIdOf("raced-0001"),
      "failover-unplanned-1",
      new Date("2025-03-02T11:00:00Z"),
      new Date("2025-03-01T11:00:03Z"),
    );
    expect(races).toBe(3);
    const after = (await runbook.get(source.sourceDiskId))!.source;
    expect(after).toMatchObject({
      paused: true,
      syncRequestedAt: "2025-03-01T11:00:02.000Z",
      bytesCopied: source.bytesCopied + 3000,
    });
    expect(after.holds).toEqual([
      { snapshotId: snapshotIdOf("raced-0001"), by: "failover-unplanned-1", until: "2025-03-02T11:00:00.000Z" },
    ]);
  });

  it("pauses a source from the row the caller read, and reads it again when the daemon wrote it since", async () => {
    const runbook = await az.newStore();
    const daemon = await az.newStore(runbook.tableName);
    const source = sourceWithoutPoints("listed");
    await runbook.create(source);
    const listed = (await runbook.list())[0]!;
    const fresh = await setPaused(runbook, source.sourceDiskId, true, new Date("2025-03-01T11:00:01Z"), listed);
    expect(fresh.source.paused).toBe(true);

    // Read before the daemon's write: the pause is written on the daemon's row, not over it.
    const stale = (await runbook.get(source.sourceDiskId))!;
    await daemon.update((await daemon.get(source.sourceDiskId))!, {
      ...stale.source,
      paused: false,
      bytesCopied: stale.source.bytesCopied + 1000,
      updatedAt: "2025-03-01T11:00:02Z",
    });
    const after = await setPaused(runbook, source.sourceDiskId, true, new Date("2025-03-01T11:00:03Z"), stale);
    expect(after.source).toMatchObject({ paused: true, bytesCopied: source.bytesCopied + 1000 });
    expect((await runbook.get(source.sourceDiskId))!.source).toEqual(after.source);
  });

  it("holds a point from the row the caller read, and reads it again when the daemon wrote it since", async () => {
    const runbook = await az.newStore();
    const daemon = await az.newStore(runbook.tableName);
    const source = sourceWithoutPoints("held");
    await runbook.create(source);
    const stale = (await runbook.get(source.sourceDiskId))!;
    await daemon.update((await daemon.get(source.sourceDiskId))!, {
      ...stale.source,
      bytesCopied: stale.source.bytesCopied + 1000,
      updatedAt: "2025-03-01T11:00:02Z",
    });
    const until = new Date("2025-03-02T11:00:00Z");
    const after = await holdPoint(
      runbook,
      source.sourceDiskId,
      snapshotIdOf("held-0001"),
      "failover-unplanned-2",
      until,
      new Date("2025-03-01T11:00:03Z"),
      { read: stale },
    );
    expect(after.source).toMatchObject({
      bytesCopied: source.bytesCopied + 1000,
      holds: [{ snapshotId: snapshotIdOf("held-0001"), by: "failover-unplanned-2", until: until.toISOString() }],
    });
    expect((await runbook.get(source.sourceDiskId))!.source).toEqual(after.source);
  });

  it("reads the rows of many disks at once, named in any case, leaving out a disk with no row", async () => {
    const store = await az.newStore();
    const sources = Array.from({ length: 31 }, (_, i) => sourceWithoutPoints(`many${i}`));
    for (const s of sources) await store.create(s);
    const missing = diskIdOf("never-enabled");
    const read = await store.getMany([...sources.map((s) => s.sourceDiskId.toUpperCase()), missing]);
    expect(read.size).toBe(31);
    for (const s of sources)
      expect(read.get(normalizeResourceId(s.sourceDiskId))).toEqual(await store.get(s.sourceDiskId));
    expect(read.has(normalizeResourceId(missing))).toBe(false);
  });

  it("never names more than 15 comparisons in one query, the most Table storage allows", async () => {
    const store = await az.newStore();
    const filters: string[] = [];
    const client = az.tableClient(store.tableName);
    const listEntities = client.listEntities.bind(client);
    client.listEntities = ((options?: { queryOptions?: { filter?: string } }) => {
      filters.push(options?.queryOptions?.filter ?? "");
      return listEntities(options);
    }) as typeof client.listEntities;
    await SourceStore.existing(client).getMany(Array.from({ length: 40 }, (_, i) => diskIdOf(`cmp${i}`)));
    expect(filters.length).toBe(3);
    for (const f of filters) expect(f.split(/ (?:and|or) /).length).toBeLessThanOrEqual(15);
  });

  it("writes many rows in one transaction, and none of them when one changed since it was read", async () => {
    const runbook = await az.newStore();
    const daemon = await az.newStore(runbook.tableName);
    const sources = Array.from({ length: 3 }, (_, i) => sourceWithoutPoints(`tx${i}`));
    for (const s of sources) await runbook.create(s);
    const read = await runbook.getMany(sources.map((s) => s.sourceDiskId));
    const change = (r: StoredSource) => ({ current: r, next: { ...r.source, paused: true } });
    const written = await runbook.updateMany([...read.values()].map(change));
    expect(written.map((w) => w.source.paused)).toEqual([true, true, true]);
    for (const w of written) expect(await runbook.get(w.source.sourceDiskId)).toEqual(w);

    // The daemon writes the second row: a transaction from rows read before that writes nothing.
    const stale = await runbook.getMany(sources.map((s) => s.sourceDiskId));
    const second = (await daemon.get(sources[1]!.sourceDiskId))!;
    await daemon.update(second, { ...second.source, bytesCopied: 4096, updatedAt: "2025-03-01T11:00:02Z" });
    await expectFerryError(
      runbook.updateMany([...stale.values()].map((r) => ({ current: r, next: { ...r.source, paused: false } }))),
      "ConcurrentUpdate",
    );
    for (const s of sources) expect((await runbook.get(s.sourceDiskId))!.source.paused).toBe(true);
  });

  it("holds points of many sources from the rows the caller read, and reads them again when the daemon wrote one since", async () => {
    const { runbook, sources, stale } = await readThenDaemonWrites("mheld", 0, 1000);
    const until = new Date("2025-03-02T11:00:00Z");
    const held = await holdPoints(
      runbook,
      sources.map((s, i) => ({ sourceDiskId: s.sourceDiskId, snapshotId: snapshotIdOf(`mheld-${i}`) })),
      "failover-unplanned-3",
      until,
      new Date("2025-03-01T11:00:03Z"),
      stale,
    );
    expect(held[0]!.source.bytesCopied).toBe(1000);
    for (const [i, s] of sources.entries()) {
      const now = (await runbook.get(s.sourceDiskId))!.source;
      expect(now.holds).toEqual([
        { snapshotId: snapshotIdOf(`mheld-${i}`), by: "failover-unplanned-3", until: until.toISOString() },
      ]);
      expect(now).toEqual(held[i]!.source);
    }
  });

  it("asks for a sync of many sources in one write, keeping what the daemon wrote since the caller read them", async () => {
    const { runbook, sources, stale } = await readThenDaemonWrites("msync", 2, 2048);
    const now = new Date("2025-03-01T11:00:05Z");
    const asked = await requestSyncs(
      runbook,
      sources.map((s) => s.sourceDiskId),
      now,
      stale,
    );
    expect(asked.map((a) => a.source.syncRequestedAt)).toEqual(sources.map(() => now.toISOString()));
    expect(asked[2]!.source.bytesCopied).toBe(2048);
    for (const [i, s] of sources.entries()) expect(await runbook.get(s.sourceDiskId)).toEqual(asked[i]);
  });

  it("refuses a stale delete, and an update or delete of a row deleted since", async () => {
    const store = await az.newStore();
    const source = fullSource();
    const created = await store.create(source);
    const updated = await store.update(created, { ...source, state: "verifying" });

    await expectFerryError(store.delete(created), "ConcurrentUpdate");
    expect((await store.get(source.sourceDiskId))!.source.state).toBe("verifying");

    await store.delete(updated);
    const e = await expectFerryError(store.update(updated, source), "ConcurrentUpdate");
    expect(e.details).toMatchObject({ reason: "deleted" });
    await expectFerryError(store.delete(updated), "ConcurrentUpdate");
  });

  it("gives each read a source of its own: a caller's change to one is not in the next read", async () => {
    const store = await az.newStore();
    const source = fullSource();
    await store.create(source);
    // The first read parses the row, the second finds it unchanged: each one's source is changed by its caller.
    for (const read of [await store.get(source.sourceDiskId), await store.get(source.sourceDiskId)]) {
      read!.source.state = "degraded";
      read!.source.applied!.snapshotId = snapshotIdOf("changed");
    }
    const [listed] = await store.list();
    expect(listed!.source).toEqual(source);
    expect((await store.get(source.sourceDiskId))!.source).toEqual(source);
  });

  describe("a row edited behind the store's back", () => {
    const tamper = async (changes: Record<string, unknown>, source = fullSource()) => {
      const store = await az.newStore();
      await store.create(source);
      await az
        .tableClient(store.tableName)
        .updateEntity({ partitionKey: "source", rowKey: sourceRowKey(source.sourceDiskId), ...changes }, "Merge");
      return { store, source };
    };

    const cases: [string, Record<string, unknown>, string, string, Source?][] = [
      ["a negative byte count", { bytesCopied: -5 }, "bytesCopied", "too small"],
      ["an unknown state", { state: "sleeping" }, "state", "is not allowed"],
      ["a recovery point that is not JSON", { desired: "{not json" }, "desired", "not valid JSON"],
      [
        "a recovery point of the wrong kind",
        { applied: JSON.stringify({ ...validRecoveryPoint(), snapshotId: diskIdOf("x") }) },
        "applied.snapshotId",
        "snapshots",
      ],
      ["a column the schema does not know", { colour: "blue" }, "colour", "not a recognised key"],
      [
        "an id that no longer matches the row key",
        { sourceDiskId: diskIdOf("other") },
        "sourceDiskId",
        "row key",
        sourceWithoutPoints(),
      ],
    ];
    it.each(cases)("is reported as CorruptSourceRow: %s", async (_, changes, field, hint, base) => {
      const { store, source } = await tamper(changes, base);
      for (const read of [() => store.get(source.sourceDiskId), () => store.list()]) {
        const e = await expectFerryError(read(), "CorruptSourceRow");
        expect(isUserError(e)).toBe(true);
        expect(e.message).toContain(sourceRowKey(source.sourceDiskId));
        expect(e.message).toContain(store.tableName);
        expect(e.message).toContain(`${field}: `);
        expect(e.message).toContain(hint);
        expect((e.details!["issues"] as { path: string }[]).map((i) => i.path)).toContain(field);
      }
    });

    it("is refused after the same store read it intact: no read is answered from an earlier one", async () => {
      const store = await az.newStore();
      const source = fullSource();
      await store.create(source);
      expect((await store.list())[0]!.source).toEqual(source);
      await az
        .tableClient(store.tableName)
        .updateEntity(
          { partitionKey: "source", rowKey: sourceRowKey(source.sourceDiskId), state: "sleeping" },
          "Merge",
        );
      await expectFerryError(store.get(source.sourceDiskId), "CorruptSourceRow");
      await expectFerryError(store.list(), "CorruptSourceRow");
    });

    it("still reads a row whose numbers were rewritten as Int32", async () => {
      const { store, source } = await tamper({ bytesCopied: 7, consecutiveFailures: 0 });
      expect((await store.get(source.sourceDiskId))!.source).toMatchObject({ bytesCopied: 7, consecutiveFailures: 0 });
    });
  });

  it("refuses an invalid source before writing anything", async () => {
    const store = await az.newStore();
    const source = fullSource();

    const bad = { ...source, applianceLun: 99 } as Source;
    const e = await expectFerryError(store.create(bad), "InvalidSource");
    expect(e.message).toContain("applianceLun");
    expect(await store.list()).toEqual([]);

    const created = await store.create(source);
    await expectFerryError(store.update(created, { ...source, bytesCopied: -1 }), "InvalidSource");
    await expectFerryError(store.update(created, { ...source, extra: 1 } as Source), "InvalidSource");
    const other = await expectFerryError(
      store.update(created, { ...source, sourceDiskId: diskIdOf("other") }),
      "InvalidSource",
    );
    expect(other.message).toContain("applied.sourceDiskId");
    const minimal = await store.create(sourceWithoutPoints());
    const moved = await expectFerryError(
      store.update(minimal, { ...minimal.source, sourceDiskId: diskIdOf("other") }),
      "InvalidSource",
    );
    expect(moved.message).toContain("cannot change its sourceDiskId");
    // Nothing was written: the row is as created, and its ETag still lets the first writer in.
    expect(await store.get(source.sourceDiskId)).toEqual(created);
    expect(await store.get(diskIdOf("other"))).toBeUndefined();
    await store.update(created, { ...source, sourceDiskId: source.sourceDiskId.toUpperCase() });
  });

  it("reports a table deleted under it instead of saying the source is missing", async () => {
    const store = await az.newStore();
    await az.tableClient(store.tableName).deleteTable();
    const e = await thrownBy(store.get(fullSource().sourceDiskId));
    expect(e).toMatchObject({ statusCode: 404 });
  });

  it("opens the table the landing zone made without creating anything", async () => {
    const made = await az.newStore();
    await made.create(fullSource());
    const opened = await SourceStore.open({ client: az.tableClient(made.tableName) });
    expect(await opened.list()).toHaveLength(1);
  });

  it("refuses to open a missing table, naming the landing zone, and does not create it", async () => {
    const tableName = az.newTableName();
    const e = await thrownBy(SourceStore.open({ client: az.tableClient(tableName) }));
    expect(isUserError(e)).toBe(true);
    expect(e).toMatchObject({ code: "StateTableMissing" });
    expect(e.message).toMatch(new RegExp(`table "${tableName}" at .* does not exist\\. The landing zone creates it`));
    expect(e.message).toMatch(/pulumi up` on the landing-zone stack/);
    // Still missing: the refusal created nothing.
    const again = await thrownBy(SourceStore.open({ client: az.tableClient(tableName) }));
    expect(again).toMatchObject({ code: "StateTableMissing" });
  });

  it("opens an existing table, and refuses a bad table name or connection string without echoing the key", async () => {
    const store = await az.newStore();
    await store.create(fullSource());
    const again = await az.newStore(store.tableName);
    expect(await again.list()).toHaveLength(1);

    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(isUserError(e)).toBe(true);
        expect((e as Error).message).not.toContain(AZURITE_ACCOUNT_KEY);
        return (e as { code: string }).code;
      }
      throw new Error("expected a refusal");
    };
    expect(
      bad(() => sourceStoreClient({ connectionString: az.azurite.connectionString, tableName: "no-dashes" })),
    ).toBe("InvalidSourceStoreConfig");
    expect(bad(() => sourceStoreClient({ connectionString: `AccountKey=${AZURITE_ACCOUNT_KEY};Nonsense=1` }))).toBe(
      "InvalidSourceStoreConfig",
    );
  });

  it("does not send shared-key requests over http to anything but loopback", async () => {
    const remote = az.azurite.connectionString.replace("127.0.0.1", "192.0.2.1");
    const store = sourceStoreClient({
      connectionString: remote,
      tableName: "anything",
      retryOptions: { maxRetries: 0 },
    });
    const e = await thrownBy(store.createTable());
    expect(e.message).not.toContain(AZURITE_ACCOUNT_KEY);
    expect(e.message).toMatch(/insecure|https/i);
  });
});
