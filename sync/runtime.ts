import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../core/errors";
import type { Logger } from "pino";
import type { AzureClients } from "../adapters/azure/clients";
import { sameResourceId } from "../core/resource-id";
import { createLogger } from "../core/logger";
import type { Source } from "../core/schemas/source";
import { ByteBudget } from "./budget";
import type { SyncConfig } from "./config";
import type { SyncContext } from "./cycle";
import { SyncDaemon } from "./daemon";
import { openDevice, type Device } from "./device";
import { DeviceFence, fencedDevice } from "./fence";
import { wipeSignatures } from "./signatures";
import { hostname } from "node:os";
import { connectAzure, stateStoreClient } from "../adapters/state/connect";
import { HeartbeatStore } from "../adapters/state/heartbeat";
import { SourceStore } from "../adapters/state/store";
import { BUILD_INFO } from "../core/version";
import { checkTarget, type TargetCheckContext } from "./target-check";
import { SnapshotService } from "./snapshots";
import { DrPointStore } from "../adapters/state/points";
import { DrPointService } from "./points";

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
  await prepareRunDir(config.runDir);
  const logger = options.logger ?? createLogger({ name: "ferry-sync", level: config.logLevel, env });
  const { azure, credential } = connectAzure(config.azure, "ferry-sync");
  // The sources and the daemons' heartbeats share the state store's table.
  const client = stateStoreClient(config.stateStore, credential, env);
  const store = await SourceStore.open({ client });
  const snapshots = new SnapshotService(azure, {
    pollIntervalInMs: config.azure.pollIntervalInMs,
    sasDurationInSeconds: config.sync.sasDurationInSeconds,
    applianceId: config.applianceId,
    ...(options.now ? { now: options.now } : {}),
  });
  const points = new DrPointService(azure, new DrPointStore(client), {
    applianceId: config.applianceId,
    pollIntervalInMs: config.azure.pollIntervalInMs,
    sweepGraceInMs: config.sync.pointSweepGraceSeconds * 1000,
    ...(options.now ? { now: options.now } : {}),
  });
  const deviceLogger = logger.child({ component: "device" });
  const ctx: SyncContext = {
    store,
    snapshots,
    pageBlob: (url) => azure.pageBlob(url),
    owner: config.instanceId,
    devicePath: (source: Source) => join(config.deviceDir, `lun${source.applianceLun}`),
    openDevice: async (path, o) => {
      const device = await openDevice(path, { write: o.write, logger: deviceLogger });
      try {
        const fence = await DeviceFence.raise(device.realPath, o.fence, {
          runDir: config.runDir,
          logger: deviceLogger,
          ...(o.abortSignal ? { abortSignal: o.abortSignal } : {}),
        });
        return fencedDevice(device, fence, o.beforeWrite ? { beforeWrite: o.beforeWrite } : {});
      } catch (e) {
        await device.close();
        throw e;
      }
    },
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
            return rows.find(
              (r) =>
                sameResourceId(r.source.stagingDiskId, stagingDiskId) &&
                !sameResourceId(r.source.sourceDiskId, source.sourceDiskId),
            )?.source.sourceDiskId;
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
      sampleBytes: Math.round(config.sync.sampleCheckMiB * MiB),
    },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    points,
  };
  const daemon = new SyncDaemon(ctx, {
    applianceId: config.applianceId,
    intervalInMs: config.sync.intervalInSeconds * 1000,
    verifyIntervalInMs: config.sync.verifyIntervalInHours * 3_600_000,
    maxParallelSources: config.sync.maxParallelSources,
    tickInMs: config.sync.tickSeconds * 1000,
    heartbeat: {
      store: new HeartbeatStore(client),
      intervalInMs: config.sync.heartbeatSeconds * 1000,
      instanceId: config.instanceId,
      host: hostname(),
      pid: process.pid,
      version: BUILD_INFO.version,
    },
  });
  points.metrics = daemon.metrics;
  return { config, azure, store, ctx, daemon, logger };
}

/** Creates the shared run folder, or says what to do when this process may not. */
async function prepareRunDir(runDir: string): Promise<void> {
  try {
    await mkdir(runDir, { recursive: true, mode: 0o750 });
    await access(runDir, constants.W_OK);
  } catch (e) {
    throw new UserError(
      `Cannot use ${runDir} as the sync's run folder: ${(e as Error).message}. The systemd unit creates it ` +
        "(RuntimeDirectory=ferry-sync); run ferry-sync as the unit's user, or set runDir in the config to a folder " +
        "every ferry-sync process of this appliance can write.",
      { code: "InvalidConfig", cause: e },
    );
  }
}
