import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { z } from "zod";
import { UserError } from "../core/errors";
import { AzureConnectionSchema, StateStoreConnectionSchema } from "../core/schemas/connection";
import { virtualMachineId } from "../core/schemas/ids";
import { parseWith } from "../core/validate";

/**
 * Azure allows 7 incremental snapshots per disk per 5 minutes: one every 300/7 ≈ 43 s at most.
 * A shorter interval cannot be sustained, so the config refuses it (but against the local
 * emulator, see `sync.minIntervalInSeconds`).
 */
export const MIN_SYNC_INTERVAL_SECONDS = 43;
const AZURE_LIMIT = `is below Azure's limit of 7 incremental snapshots per disk per 5 minutes. Use ${MIN_SYNC_INTERVAL_SECONDS} or more`;

export const SyncConfigSchema = z
  .strictObject({
    /** This daemon instance: the owner of the leases it takes. Default: the host name. */
    instanceId: z
      .string()
      .min(1)
      .default(() => hostname()),
    /** The appliance VM this daemon runs on; it syncs the sources whose `applianceId` is this. */
    applianceId: virtualMachineId,
    /** Folder where the staging disks appear by LUN. Default the Azure VM's `/dev/disk/azure/scsi1`. */
    deviceDir: z.string().min(1).default("/dev/disk/azure/scsi1"),
    azure: AzureConnectionSchema,
    stateStore: StateStoreConnectionSchema,
    sync: z
      .strictObject({
        /** Seconds between two syncs of a source. Default 60; at least `minIntervalInSeconds`. */
        intervalInSeconds: z.number().positive().default(60),
        /**
         * The shortest `intervalInSeconds` accepted, in seconds. Default 43, Azure's snapshot limit.
         * Lower only with the local emulator (`azure.credential.kind` "emulator"), whose zero-latency
         * profile has no such limit (its Azure-like profile enforces Azure's).
         */
        minIntervalInSeconds: z.number().positive().default(MIN_SYNC_INTERVAL_SECONDS),
        /** Hours between two scheduled verifications of a healthy source. Default 24; 0 turns them off. */
        verifyIntervalInHours: z.number().min(0).default(24),
        /** Sources synced at the same time. Default 4. */
        maxParallelSources: z.int().min(1).max(64).default(4),
        /** Bytes in flight across all sources, in MiB: the daemon's memory bound. Default 64. */
        maxInFlightMiB: z.int().min(4).max(4096).default(64),
        /** Largest single read, in MiB. Default 4. */
        readSizeMiB: z.int().min(1).max(64).default(4),
        /** Reads in flight per source. Default 16 (diffs are many small ranges; the byte budget bounds memory). */
        readConcurrency: z.int().min(1).max(64).default(16),
        /** Lifetime of a read SAS, in seconds. Default 3600. */
        sasDurationInSeconds: z.int().min(60).default(3600),
        /** Window of one page-range query, in GiB. Default 4. */
        diffSegmentGiB: z.number().positive().default(4),
        /**
         * Lease on a source, in seconds; renewed every third of it while a cycle runs, given up when
         * the cycle ends. Default 30. Safety does not rest on it (fencing does); it bounds how long
         * another daemon waits to take over from one that died or froze mid-cycle.
         */
        leaseSeconds: z.number().min(2).default(30),
        /** Bytes of each applied delta read back and compared with its recovery point, in MiB. Default 8; 0 none. */
        sampleCheckMiB: z.number().min(0).max(1024).default(8),
        /** How often the daemon looks for due sources and new rows, in seconds. Default 5. */
        tickSeconds: z.number().positive().default(5),
        /**
         * How often the daemon writes its heartbeat to the state store, in seconds. Default 15. `ferry sources list`
         * shows a daemon's sources `stale` once its heartbeat is older than ferry.json's
         * `sources.staleDaemonSeconds` (default 120) or three of these intervals, whichever is longer.
         */
        heartbeatSeconds: z.number().positive().default(15),
        /**
         * How old a recovery point's snapshot in the DR region must be before the daemon deletes it for having no
         * record (a crash between the snapshot and its record), in seconds. Default 900.
         */
        pointSweepGraceSeconds: z.number().min(0).default(900),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /** Interface for /healthz and /metrics. Default loopback only. */
        host: z.string().default("127.0.0.1"),
        /** Port; 0 picks a free one. Default 9464. */
        port: z.int().min(0).max(65535).default(9464),
        enabled: z.boolean().default(true),
      })
      .prefault({}),
    /**
     * Folder shared by every ferry-sync process of this appliance (the systemd unit's
     * RuntimeDirectory): the one-process-per-instance registration and each staging disk's fence.
     * Every process that may write the staging disks must use the same one. Default /run/ferry-sync.
     */
    runDir: z.string().min(1).default("/run/ferry-sync"),
    /** Seconds SIGTERM waits for copies to stop at a checkpoint before the daemon exits. Default 30. */
    shutdownTimeoutInSeconds: z.number().positive().default(30),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine(checkInterval, { when: () => true });

/**
 * The interval against its floor: reported with the config's other problems (so it reads values
 * that may not have parsed).
 */
function checkInterval(config: unknown, ctx: z.RefinementCtx): void {
  const c = config as { sync?: Record<string, unknown>; azure?: { credential?: { kind?: unknown } } } | undefined;
  const interval = c?.sync?.intervalInSeconds ?? 60;
  const floor = c?.sync?.minIntervalInSeconds ?? MIN_SYNC_INTERVAL_SECONDS;
  if (typeof interval !== "number" || typeof floor !== "number") return;
  const emulator = c?.azure?.credential?.kind === "emulator";
  if (floor < MIN_SYNC_INTERVAL_SECONDS && !emulator) {
    ctx.addIssue({
      code: "custom",
      path: ["sync", "minIntervalInSeconds"],
      message: `${AZURE_LIMIT}; only the local emulator (azure.credential.kind "emulator") takes less`,
    });
    return;
  }
  if (interval < floor) {
    ctx.addIssue({
      code: "custom",
      path: ["sync", "intervalInSeconds"],
      message:
        floor === MIN_SYNC_INTERVAL_SECONDS
          ? AZURE_LIMIT
          : `is below sync.minIntervalInSeconds (${floor}). Use ${floor} or more`,
    });
  }
}

export type SyncConfig = z.output<typeof SyncConfigSchema>;

/** Reads and validates a config file; every problem is reported with its path and fix. */
export function loadSyncConfig(path: string): SyncConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(
      `Cannot read the sync config ${path}: ${(e as Error).message}. It must be a JSON file (see sync/README.md).`,
      { code: "InvalidConfig", cause: e },
    );
  }
  return parseWith(SyncConfigSchema, raw, { what: `sync config ${path}` });
}
