import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import type { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll } from "vitest";
import { startAzurite, type RunningAzurite } from "../../local/azurite";
import { SourceStore, sourceStoreClient } from "../../adapters/state/store";
import { tempDir } from "./emulator";

export interface AzuriteFixture {
  azurite: RunningAzurite;
  dataDir: string;
  /** A fresh table name (letters and digits, unique per call). */
  newTableName(): string;
  /** A raw client of a table, to read or tamper with rows behind the store's back. */
  tableClient(tableName: string): TableClient;
  /** Opens a store on a fresh table, or on `tableName` (a second writer of the same table). */
  newStore(tableName?: string): Promise<SourceStore>;
}

/** Starts Azurite's Table service for a test file, on a temp folder removed afterwards. */
export function useAzurite(): AzuriteFixture {
  const fixture = {
    newTableName: () => `src${randomUUID().replaceAll("-", "")}`,
    tableClient: (tableName: string) =>
      sourceStoreClient({ connectionString: fixture.azurite.connectionString, tableName }),
    newStore: (tableName?: string) =>
      SourceStore.open({ client: fixture.tableClient(tableName ?? fixture.newTableName()), createTable: true }),
  } as AzuriteFixture;
  beforeAll(async () => {
    fixture.dataDir = tempDir("ferry-azurite-");
    fixture.azurite = await startAzurite({ dataDir: fixture.dataDir });
  });
  afterAll(async () => {
    await fixture.azurite?.close();
    if (fixture.dataDir !== undefined) rmSync(fixture.dataDir, { recursive: true, force: true });
  });
  return fixture;
}
