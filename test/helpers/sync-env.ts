import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger } from "../../core/logger";
import type { Source } from "../../core/schemas/source";
import { SyncConfigSchema, type SyncConfig } from "../../sync/config";
import { createSyncRuntime, type SyncRuntime, type SyncRuntimeOptions } from "../../sync/runtime";
import type { SourceStore } from "../../adapters/state/store";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "./azure-env";
import type { AzuriteFixture } from "./azurite";
import type { EmulatorFixture } from "./emulator";
import { tempDir } from "./emulator";

const GiB = 1024 ** 3;
export const PRIMARY = { rg: "prod", location: "eastus" };
export const DR = { rg: "dr", location: "westus" };

/** A primary VM whose data disks are protected, and a sync appliance in the DR region with staging disks. */
export interface SyncEnv {
  appVm: string;
  applianceId: string;
  /** The appliance's run folder, shared by every daemon of this env. */
  runDir: string;
  tableName: string;
  connectionString: string;
  /** Where the guest of the primary VM writes each source disk. */
  sourceDevice(lun: number): string;
  /** Where the appliance sees each staging disk. */
  stagingDevice(lun: number): string;
  sourceDiskId(lun: number): string;
  stagingDiskId(lun: number): string;
  /** A config for a daemon of this appliance (fast polls, short intervals allowed by Azure). */
  config(overrides?: Partial<Record<keyof SyncConfig, unknown>>): SyncConfig;
  /** Writes a config file for the `ferry-sync` command and returns its path, and the env it needs. */
  configFile(overrides?: Record<string, unknown>): { path: string; env: NodeJS.ProcessEnv };
  /** A pending source row for the data disk at `lun` (same LUN on both sides). */
  sourceRow(lun: number, overrides?: Partial<Source>): Source;
  runtime(
    options?: SyncRuntimeOptions & { overrides?: Partial<Record<keyof SyncConfig, unknown>> },
  ): Promise<SyncRuntime>;
  store: SourceStore;
  /** Every log line the runtimes of this env wrote. */
  logLines: string[];
}

let counter = 0;

export async function createSyncEnv(
  f: EmulatorFixture,
  a: AzuriteFixture,
  luns: { lun: number; sizeGB?: number; stagingSizeGB?: number }[],
): Promise<SyncEnv> {
  const n = ++counter;
  const appVm = `app${n}`;
  const applianceVm = `appliance${n}`;
  const az = f.azure;
  const groups = await az.resources.resourceGroups.get(PRIMARY.rg).catch(() => undefined);
  if (!groups) {
    await createGroup(az, PRIMARY.rg, PRIMARY.location);
    await createGroup(az, DR.rg, DR.location);
    await createSubnet(az, PRIMARY.rg, PRIMARY.location);
    await createSubnet(az, DR.rg, DR.location);
  }
  const subnet = (rg: string) =>
    `/subscriptions/${f.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default`;
  const appNic = await createNic(az, PRIMARY.rg, PRIMARY.location, `${appVm}-nic`, subnet(PRIMARY.rg));
  const appOs = await createEmptyDisk(az, PRIMARY.rg, PRIMARY.location, `${appVm}-os`, 1, { osType: "Linux" });
  const sources = new Map<number, string>();
  const stagings = new Map<number, string>();
  for (const l of luns) {
    sources.set(l.lun, await createEmptyDisk(az, PRIMARY.rg, PRIMARY.location, `${appVm}-data${l.lun}`, l.sizeGB ?? 1));
    stagings.set(
      l.lun,
      await createEmptyDisk(az, DR.rg, DR.location, `${appVm}-data${l.lun}-staging`, l.stagingSizeGB ?? l.sizeGB ?? 1),
    );
  }
  await createVm(az, PRIMARY.rg, PRIMARY.location, appVm, {
    osDiskId: appOs,
    nicId: appNic,
    dataDisks: luns.map((l) => ({ lun: l.lun, diskId: sources.get(l.lun)! })),
    vmSize: "Standard_D16s_v5",
  });
  const applianceNic = await createNic(az, DR.rg, DR.location, `${applianceVm}-nic`, subnet(DR.rg));
  const applianceOs = await createEmptyDisk(az, DR.rg, DR.location, `${applianceVm}-os`, 1, { osType: "Linux" });
  const appliance = await createVm(az, DR.rg, DR.location, applianceVm, {
    osDiskId: applianceOs,
    nicId: applianceNic,
    dataDisks: luns.map((l) => ({ lun: l.lun, diskId: stagings.get(l.lun)! })),
    vmSize: "Standard_D16s_v5",
  });
  const tableName = a.newTableName();
  const store = await a.newStore(tableName);
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  // One appliance: every daemon of this env shares its run folder (instance registrations, fences).
  const runDir = tempDir("ferry-sync-run-");
  const base = (overrides: Record<string, unknown> = {}) => ({
    instanceId: `daemon-${n}`,
    runDir,
    applianceId: appliance.id!,
    deviceDir: f.emu.deviceDir(DR.rg, applianceVm),
    azure: {
      subscriptionId: f.emu.subscriptionId,
      armEndpoint: f.emu.endpoint,
      caCertPath: f.emu.caCertPath,
      credential: { kind: "emulator" },
      pollIntervalInMs: 10,
    },
    stateStore: { kind: "connectionStringEnv", variable: "FERRY_TEST_TABLE", tableName },
    sync: { intervalInSeconds: 43, tickSeconds: 0.05, leaseSeconds: 10 },
    metrics: { enabled: false, port: 0 },
    logLevel: "debug",
    ...overrides,
  });
  const env = { ...process.env, FERRY_TEST_TABLE: a.azurite.connectionString };
  const self: SyncEnv = {
    appVm,
    runDir,
    applianceId: appliance.id!,
    tableName,
    connectionString: a.azurite.connectionString,
    sourceDevice: (lun) => f.emu.devicePath(PRIMARY.rg, appVm, lun),
    stagingDevice: (lun) => f.emu.devicePath(DR.rg, applianceVm, lun),
    sourceDiskId: (lun) => sources.get(lun)!,
    stagingDiskId: (lun) => stagings.get(lun)!,
    config: (overrides) => SyncConfigSchema.parse(base(overrides)),
    configFile: (overrides) => {
      const path = join(tempDir("ferry-sync-config-"), "sync.json");
      writeFileSync(path, JSON.stringify(base(overrides), null, 2));
      return { path, env };
    },
    sourceRow: (lun, overrides = {}) => ({
      sourceDiskId: sources.get(lun)!,
      stagingDiskId: stagings.get(lun)!,
      applianceLun: lun,
      applianceId: appliance.id!,
      state: "pending",
      prepare: "empty",
      bytesCopied: 0,
      sourceSizeBytes: (luns.find((l) => l.lun === lun)!.sizeGB ?? 1) * GiB,
      paused: false,
      consecutiveFailures: 0,
      updatedAt: new Date().toISOString(),
      ...overrides,
    }),
    runtime: (options = {}) =>
      createSyncRuntime(self.config(options.overrides), {
        env,
        logger: createLogger({ level: "debug", destination: sink, env: {} }),
        ...options,
      }),
    store,
    logLines,
  };
  return self;
}
