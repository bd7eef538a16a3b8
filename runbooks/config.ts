import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../core/errors";
import { AzureConnectionSchema, StateStoreConnectionSchema } from "../core/schemas/connection";
import { pulumiStackName } from "../core/schemas/fields";
import { parseWith } from "../core/validate";

/** The `ferry` CLI's config (`ferry.json`, or the file `--config` / `FERRY_CONFIG` names). */
export const FerryConfigSchema = z.strictObject({
  azure: AzureConnectionSchema,
  stateStore: StateStoreConnectionSchema,
  /** How stacks are applied: the Pulumi CLI (Automation API), or in-process against the local Azure. */
  deployer: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("pulumi"), workDir: z.string().default(".") }),
      z.strictObject({ kind: z.literal("local"), stateDir: z.string().default(".ferry/stacks") }),
    ])
    .default({ kind: "pulumi", workDir: "." }),
  /**
   * The landing-zone stack of the DR region (its outputs name the appliance, the DR group and the
   * networks). Every blueprint stack's ferry:landingZoneStack must name the same stack.
   */
  landingZoneStack: pulumiStackName,
  /**
   * A local copy of each operation as last written to the state store (for people and build
   * artifacts). A cache, never read by ferry: the state store is the record. Default `.ferry/journal`.
   */
  journalDir: z.string().default(".ferry/journal"),
  operations: z
    .strictObject({
      /**
       * How long a runbook operation's lease on its blueprint lasts unless renewed (it is renewed
       * every third of it while the operation runs), in seconds. A host that dies holding it blocks
       * other operations of the blueprint this long. Keep it well above the clock skew between hosts.
       * Default 120.
       */
      leaseSeconds: z.number().positive().default(120),
    })
    .prefault({}),
  plans: z
    .strictObject({
      /** Where recovery plans are (`<dir>/<plan>.yaml`), relative to the working directory. Default `plans`. */
      dir: z.string().min(1).default("plans"),
      /**
       * The repository a plan's hook scripts are named relative to (a hook must stay inside it), relative to the
       * working directory. Default `.` (ferry runs at the repository's root, as a pipeline does).
       */
      repoDir: z.string().min(1).default("."),
    })
    .prefault({}),
  precheck: z.strictObject({ maxAgeMinutes: z.number().positive().default(30) }).prefault({}),
  sources: z
    .strictObject({
      /**
       * `ferry sources list` shows a source `stale` (not its recorded state) once the last heartbeat of its
       * appliance's sync daemon is older than this, in seconds (or three of the daemon's heartbeat intervals, when
       * that is longer), or the daemon said it stopped. Default 120.
       */
      staleDaemonSeconds: z.number().positive().default(120),
    })
    .prefault({}),
  failover: z
    .strictObject({
      /**
       * How long a drill's (test failover's) recovery points are kept for verification and inspection, in hours (the
       * sync deletes them after). Default 24. A planned or unplanned failover's points are kept until its failback is
       * cleaned up: they are the base of its deltas.
       */
      holdRecoveryPointsHours: z
        .number()
        .min(0)
        .max(24 * 30)
        .default(24),
    })
    .prefault({}),
  failback: z
    .strictObject({
      /**
       * The sync appliance of each primary region, by region name: a VM there that the new primary
       * disks are attached to while `ferry failback sync` copies into them, and where its disks
       * appear as devices (`deviceDir`/lun<N>). ferry failback sync runs on that VM.
       */
      appliances: z
        .record(
          z.string().min(1),
          z.strictObject({ vmId: z.string().min(1), deviceDir: z.string().min(1).default("/dev/disk/azure/scsi1") }),
        )
        .default({}),
      /**
       * A pass that had less than this to copy, in MiB, ends failback sync's repeats (complete copies the rest).
       * Default 64.
       */
      smallDeltaMiB: z.number().min(0).default(64),
      /** At most this many passes per failback sync. Default 5. */
      maxPasses: z.int().min(1).max(100).default(5),
      /** How long failback complete waits for the DR sync to take up the returned disks, in seconds. Default 1800. */
      reprotectSeconds: z.number().positive().default(1800),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      /** How long a failover waits for the sync to stop at an apply boundary, in seconds. Default 600. */
      pauseSeconds: z.number().positive().default(600),
      /** How long a planned failover waits for the final sync, in seconds. Default 900. */
      finalSyncSeconds: z.number().positive().default(900),
    })
    .prefault({}),
});
export type FerryConfig = z.output<typeof FerryConfigSchema>;

/** Reads and validates the CLI's config; every problem is reported with its path and fix. */
export function loadFerryConfig(path = process.env.FERRY_CONFIG ?? "ferry.json"): FerryConfig {
  if (!existsSync(path)) {
    throw new UserError(
      `No ferry config at ${path}. Create it (see README "Against real Azure"), or point --config or FERRY_CONFIG at one.`,
      { code: "InvalidConfig" },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`Cannot read the ferry config ${path}: ${(e as Error).message}. It must be JSON.`, {
      code: "InvalidConfig",
      cause: e,
    });
  }
  return parseWith(FerryConfigSchema, raw, { what: `ferry config ${path}` });
}
