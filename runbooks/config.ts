import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../core/errors";
import { AzureConnectionSchema, StateStoreConnectionSchema } from "../core/schemas/connection";
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
  /** The landing-zone stack of the DR region (its outputs name the appliance and the networks). */
  landingZoneStack: z.string().min(1),
  /** Where runbooks keep their operation journal (history, RTO). Default `.ferry/journal`. */
  journalDir: z.string().default(".ferry/journal"),
  precheck: z.strictObject({ maxAgeMinutes: z.number().positive().default(30) }).prefault({}),
  failover: z
    .strictObject({
      /** How long a failover's recovery points are kept for verification and inspection, in hours (the sync deletes them after). Default 24. */
      holdRecoveryPointsHours: z.number().min(0).max(24 * 30).default(24),
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
    throw new UserError(`No ferry config at ${path}. Create it (see README "Against real Azure"), or point --config or FERRY_CONFIG at one.`, { code: "InvalidConfig" });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`Cannot read the ferry config ${path}: ${(e as Error).message}. It must be JSON.`, { code: "InvalidConfig", cause: e });
  }
  return parseWith(FerryConfigSchema, raw, { what: `ferry config ${path}` });
}
