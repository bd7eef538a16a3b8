import type { CommandModule } from "yargs";
import { UserError } from "../../core/errors";
import { nameOf } from "../../core/resource-id";
import type { FailoverKind } from "../failover";
import type { Operation } from "../journal";
import type { AcceptedOlderPoint } from "../precheck";
import { contextFor, emit, seconds, table, type CliIo, type GlobalArgs } from "./common";
import { blueprintOrPlan, planOption, runPlanCommand } from "./plan";

type Args = GlobalArgs & {
  blueprint?: string;
  plan?: string;
  planned: boolean;
  unplanned: boolean;
  test: boolean;
  "recovery-point"?: string;
  "accept-older-point": boolean;
  yes: boolean;
};

const WHAT: Record<FailoverKind, string> = {
  planned: "power off the source VMs, sync their last writes and bring them up in the DR region (no data lost)",
  unplanned:
    "bring the VMs up in the DR region from the last applied recovery point, without touching the primary region",
  test: "bring copies up in the isolated test network while replication goes on (end it with ferry cleanup)",
};

export function formatOperation(op: Operation): string {
  const steps = table(
    ["STEP", "STATUS", "TIME"],
    op.steps.map((s) => [
      s.name,
      s.status,
      s.endedAt ? seconds((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000) : undefined,
    ]),
  );
  const ready = op.rto.some((r) => r.osReadySeconds !== undefined || r.appReadySeconds !== undefined);
  const rto = op.rto.length
    ? `\n\n${table(
        ["ROW", "VM", "STRATEGY", "RTO (VM CREATED)", ...(ready ? ["OS READY", "APP READY"] : [])],
        op.rto.map((r) => [
          r.row,
          r.vm,
          r.strategy,
          seconds(r.vmCreatedSeconds),
          ...(ready ? [seconds(r.osReadySeconds), seconds(r.appReadySeconds)] : []),
        ]),
      )}`
    : "";
  const rpo = op.rpoSeconds !== undefined ? `\nRPO at failover: ${op.rpoSeconds.toFixed(1)} s` : "";
  const accepted = (op.details?.acceptedOlderPoints ?? []) as AcceptedOlderPoint[];
  const older = accepted.length
    ? `\nAccepted older than the RPO target (--accept-older-point): ${accepted
        .map((p) => `${p.row} ${p.disk} ${p.ageSeconds} s / ${p.targetSeconds} s`)
        .join(", ")}`
    : "";
  const spread = (op.details?.spreadInMs ?? {}) as Record<string, number>;
  const point = op.details?.recoveryPoint as string | undefined;
  const olderRows = (op.details?.olderRows ?? []) as string[];
  const points =
    (point && point !== "latest" ? `\nRecovery point: ${point}` : "") +
    (olderRows.length
      ? `\nRecovered from DR-side snapshots (older points, as from-snapshot): ${olderRows.join(", ")}`
      : "") +
    (Object.keys(spread).length
      ? `\nSpread of each row's disk points: ${Object.entries(spread)
          .map(([row, ms]) => `${row} ${ms} ms`)
          .join(", ")}`
      : "");
  return `${op.kind} of ${op.blueprint}: ${op.status} (${op.id})\n\n${steps}${rto}${rpo}${points}${older}`;
}

export function failoverCommand(io: CliIo): CommandModule<GlobalArgs, Args> {
  return {
    command: "failover [blueprint]",
    describe: "Fail a blueprint (or a recovery plan's, --plan) over to the DR region: --planned, --unplanned or --test",
    builder: (y) =>
      y
        .positional("blueprint", { type: "string", describe: "Blueprint stack" })
        .option("plan", planOption)
        .option("planned", {
          type: "boolean",
          default: false,
          describe: "Power off the sources, final sync, fail over: no data lost",
        })
        .option("unplanned", {
          type: "boolean",
          default: false,
          describe: "From the last applied point; no call to the primary region",
        })
        .option("test", {
          type: "boolean",
          default: false,
          describe: "A drill: copies in the test network, replication goes on",
        })
        .option("recovery-point", {
          type: "string",
          default: "latest",
          describe:
            "latest, an ISO 8601 time (each disk at its newest DR-side point at or before it; an older point " +
            "is recovered from its DR-side snapshot, from-snapshot) or a point id (ferry points <blueprint>)",
        })
        .option("accept-older-point", {
          type: "boolean",
          default: false,
          describe:
            "Fail over even from recovery points older than the blueprint's rpoTargetSeconds " +
            "(recorded in the operation)",
        })
        .option("yes", {
          type: "boolean",
          default: false,
          describe: "Do not ask for confirmation (pipelines: the approval gate asks)",
        })
        .check((a) => {
          const n = [a.planned, a.unplanned, a.test].filter(Boolean).length;
          if (n !== 1)
            throw new UserError("Say which failover: exactly one of --planned, --unplanned or --test.", {
              code: "Usage",
            });
          return blueprintOrPlan("failover", a);
        })
        .example("$0 failover web --test", "A drill in the test network")
        .example("$0 failover web --planned --yes", "A planned failover, from a pipeline")
        .example("$0 failover web --unplanned --yes", "The primary region is down")
        .example("$0 failover web --unplanned --yes  # again", "After a failure: continues where it stopped")
        .example(
          "$0 failover --plan shop --unplanned --yes",
          "Every blueprint of plan shop, group after group",
        ) as never,
    handler: async (a) => {
      const kind: FailoverKind = a.planned ? "planned" : a.unplanned ? "unplanned" : "test";
      if (a.plan !== undefined) {
        await runPlanCommand(io, a, `failover-${kind}`, `A ${kind} failover: ${WHAT[kind]},`, {
          acceptOlderPoint: a["accept-older-point"],
        });
        return;
      }
      const { loadBlueprint } = await import("../blueprints");
      const { failover } = await import("../failover");
      const ctx = await contextFor(a, io);
      const blueprint = a.blueprint!;
      const b = (await loadBlueprint(ctx, blueprint)).blueprint;
      if (
        !a.yes &&
        !(await ctx.confirm(
          `${kind} failover of ${b.name} (${b.rows.length} VM${b.rows.length === 1 ? "" : "s"}): ${WHAT[kind]}. Go on?`,
        ))
      ) {
        throw new UserError("Not confirmed: nothing was done. Add --yes where nobody can answer (pipelines).", {
          code: "NotConfirmed",
        });
      }
      const op = await failover(ctx, blueprint, {
        kind,
        recoveryPoint: a["recovery-point"] ?? "latest",
        acceptOlderPoint: a["accept-older-point"],
      });
      emit(io, a, op, () => formatOperation(op));
    },
  };
}

type CleanupArgs = GlobalArgs & { blueprint?: string; plan?: string; yes: boolean; failback: boolean };

export function cleanupCommand(io: CliIo): CommandModule<GlobalArgs, CleanupArgs> {
  return {
    command: "cleanup [blueprint]",
    describe:
      "End a test failover: remove the test VMs, NICs, disks and snapshots (replication is untouched); with --failback, remove the primary's previous disks after a failback",
    builder: (y) =>
      y
        .positional("blueprint", { type: "string", describe: "Blueprint stack" })
        .option("plan", {
          ...planOption,
          describe: "End the test failover of a recovery plan, groups in reverse order",
        })
        .option("yes", { type: "boolean", default: false, describe: "Do not ask" })
        .option("failback", {
          type: "boolean",
          default: false,
          describe: "After ferry failback complete: delete the primary's previous disks and the failback's snapshots",
        })
        .check((a) => {
          blueprintOrPlan("cleanup", a);
          if (a.plan !== undefined && a.failback)
            throw new UserError("--failback cleans up one blueprint: name it instead of --plan.", { code: "Usage" });
          return true;
        })
        .example("$0 cleanup web", "After ferry failover web --test")
        .example("$0 cleanup --plan shop --yes", "After ferry failover --plan shop --test")
        .example(
          "$0 cleanup web --failback",
          "After ferry failback complete web, once the primary is trusted",
        ) as never,
    handler: async (a) => {
      if (a.plan !== undefined) {
        await runPlanCommand(io, a, "cleanup", "Remove what the test failover created, group after group in reverse,");
        return;
      }
      const ctx = await contextFor(a, io);
      const blueprint = a.blueprint!;
      // A name that is no blueprint is said before a question about it.
      if (Object.keys(await ctx.deployer.getConfig(blueprint)).length === 0) {
        const { unknownBlueprint } = await import("../blueprints");
        throw await unknownBlueprint(ctx, blueprint);
      }
      if (a.failback) {
        if (
          !a.yes &&
          !(await ctx.confirm(`Delete the previous primary disks of ${blueprint} (replaced by the failback)?`))
        ) {
          throw new UserError("Not confirmed: nothing was removed. Add --yes in a pipeline.", { code: "NotConfirmed" });
        }
        const { cleanupFailback } = await import("../failback/cleanup");
        const { op, deleted } = await cleanupFailback(ctx, blueprint);
        emit(io, a, { ...op, deleted }, () =>
          [formatOperation(op), "", `deleted: ${deleted.map(nameOf).join(", ") || "nothing"}`].join("\n"),
        );
        return;
      }
      if (!a.yes && !(await ctx.confirm(`Remove what the test failover of ${blueprint} created?`))) {
        throw new UserError("Not confirmed: nothing was removed. Add --yes in a pipeline.", { code: "NotConfirmed" });
      }
      const { cleanup } = await import("../failover");
      const op = await cleanup(ctx, blueprint);
      emit(io, a, op, () => formatOperation(op));
    },
  };
}
