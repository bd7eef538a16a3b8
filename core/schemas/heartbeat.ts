import { z } from "zod";
import { isoDateTime } from "./fields";
import { virtualMachineId } from "./ids";

/**
 * What a sync daemon writes to the state store to say it is alive: one row per instance, rewritten every
 * `intervalSeconds` while it runs (and once more, with `stoppedAt`, when it stops). It outlives the process, so a
 * runbook on another host tells a dead daemon (its `at` grows old) from a live one whose sources lag.
 */
export const DaemonHeartbeatSchema = z.strictObject({
  /** The daemon's `instanceId`. */
  instanceId: z.string().min(1),
  /** ARM id of the sync appliance whose sources it keeps. */
  applianceId: virtualMachineId,
  host: z.string(),
  pid: z.int().min(1),
  /** ferry-sync's version. */
  version: z.string(),
  /** When the process started (ISO 8601). */
  startedAt: isoDateTime,
  /** When this heartbeat was written (ISO 8601, the daemon's clock). */
  at: isoDateTime,
  /** How often the daemon writes it, in seconds. */
  intervalSeconds: z.number().positive(),
  /** When the daemon last read its sources (a tick); absent before the first (ISO 8601). */
  lastTickAt: isoDateTime.optional(),
  /** Set when the daemon stopped cleanly (ISO 8601): it is not running, however recent `at` is. */
  stoppedAt: isoDateTime.optional(),
});
export type DaemonHeartbeat = z.infer<typeof DaemonHeartbeatSchema>;
