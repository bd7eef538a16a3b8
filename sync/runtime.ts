import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { createAzureClients, type AzureClients } from "../core/azure/clients";
import { azureCredential, staticTokenCredential } from "../core/azure/credentials";
import { sameResourceId } from "../core/azure/resource-id";
import { UserError } from "../core/errors";
import { createLogger } from "../core/logger";
import type { Source } from "../core/schemas/source";
import { ByteBudget } from "./budget";
import type { SyncConfig } from "./config";
import type { SyncContext } from "./cycle";
import { SyncDaemon } from "./daemon";
import { openDevice, type Device } from "./device";
import { wipeSignatures } from "./signatures";
import { SourceStore, sourceStoreClient } from "./store";
import { checkTarget, type TargetCheckContext } from "./target-check";
import { SnapshotService } from "./snapshots";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Side effects a test (or an unusual host) replaces. */
export interface SyncRuntimeOptions {
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Where mounts are read for the enable checks. Default /proc/self/mounts. */
  readMounts?: TargetCheckContext["readMounts"];
  onProgress?: SyncContext["onProgress"];
}

export interface SyncRuntime {
  config: SyncConfig;
  azure: AzureClients;
  store: SourceStore;
  ctx: SyncContext;
  daemon: SyncDaemon;
  logger: Logger;
}

/** Builds everything the daemon needs from its config: clients, state store, device access. */
export async function createSyncRuntime(config: SyncConfig, options: SyncRuntimeOptions = {}): Promise<SyncRuntime> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger({ name: "ferry-sync", level: config.logLevel, env });
  const caCertPem = config.azure.caCertPath ? readCa(config.azure.caCertPath) : undefined;
  const c = config.azure.credential;
  const credential = c.kind === "emulator" ? staticTokenCredential() : azureCredential(c);
  const azure = createAzureClients({
    subscriptionId: config.azure.subscriptionId,
    credential,
    ...(config.azure.armEndpoint ? { armEndpoint: config.azure.armEndpoint } : {}),
    ...(caCertPem ? { caCertPem } : {}),
  });
  const s = config.stateStore;
  let client;
  if (s.kind === "connectionStringEnv") {
    const connectionString = env[s.variable];
    if (!connectionString) {
      throw new UserError(`The state store's connection string is read from the environment variable ${s.variable}, which is not set. Set it, or use stateStore.kind "identity".`, {
        code: "InvalidConfig",
      });
    }
    client = sourceStoreClient({ connectionString, tableName: s.tableName });
  } else {
    client = sourceStoreClient({ url: s.url, tableName: s.tableName, credential });
  }
  const store = await SourceStore.open({ client });
  const snapshots = new SnapshotService(azure, {
    pollIntervalInMs: config.azure.pollIntervalInMs,
    sasDurationInSeconds: config.sync.sasDurationInSeconds,
    applianceId: config.applianceId,
    ...(options.now ? { now: options.now } : {}),
  });
  const deviceLogger = logger.child({ component: "device" });
  const ctx: SyncContext = {
    store,
    snapshots,
    pageBlob: (url) => azure.pageBlob(url),
    owner: config.instanceId,
    devicePath: (source: Source) => join(config.deviceDir, `lun${source.applianceLun}`),
    openDevice: (path, o) => openDevice(path, { write: o.write, logger: deviceLogger }),
    checkTarget: async (source, devicePath) => {
      await checkTarget(
        {
          devicePath,
          sourceSizeBytes: source.sourceSizeBytes,
          prepare: source.prepare,
          stagingDiskId: source.stagingDiskId,
          sourceDiskId: source.sourceDiskId,
        },
        {
          ...(options.readMounts ? { readMounts: options.readMounts } : {}),
          assignedTo: async (stagingDiskId) => {
            const rows = await store.list();
            return rows.find((r) => sameResourceId(r.source.stagingDiskId, stagingDiskId) && !sameResourceId(r.source.sourceDiskId, source.sourceDiskId))?.source.sourceDiskId;
          },
        },
      );
    },
    wipe: async (device) => {
      await wipeSignatures(device as Device);
      await device.zero([{ start: 0, end: device.sizeBytes }]);
      await device.sync();
    },
    budget: new ByteBudget(config.sync.maxInFlightMiB * MiB),
    logger,
    now: options.now ?? (() => new Date()),
    tuning: {
      leaseMs: config.sync.leaseSeconds * 1000,
      readSizeInBytes: config.sync.readSizeMiB * MiB,
      readConcurrency: config.sync.readConcurrency,
      diffSegmentBytes: Math.round(config.sync.diffSegmentGiB * GiB),
      verifyChunkBytes: 4 * MiB,
    },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const daemon = new SyncDaemon(ctx, {
    applianceId: config.applianceId,
    intervalInMs: config.sync.intervalInSeconds * 1000,
    verifyIntervalInMs: config.sync.verifyIntervalInHours * 3_600_000,
    maxParallelSources: config.sync.maxParallelSources,
    tickInMs: config.sync.tickSeconds * 1000,
  });
  return { config, azure, store, ctx, daemon, logger };
}

function readCa(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(`Cannot read azure.caCertPath ${path}: ${(e as Error).message}. Point it at the emulator's ca.pem, or remove it for real Azure.`, { code: "InvalidConfig", cause: e });
  }
}
