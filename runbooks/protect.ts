import { FerryError, isUserError, UserError } from "../core/errors";
import { nameOf, sameResourceId } from "../core/resource-id";
import type { PrepareMode, Source, SourceProtection } from "../core/schemas/source";
import { setDrSnapshotResourceGroup, setProtection } from "../adapters/state/admin";
import { diskRole, landingZone, loadBlueprint, sourceDisks } from "./blueprints";
import type { RunbookContext } from "./context";
import type { ResourceChanges } from "./deployers/deployer";
import { modeRecord } from "./mode";
import { checkSourceVm, drSnapshotGroupOf, enableDr, snapshotGroupOf } from "./sources";

// `ferry protect <blueprint>`: the blueprint's protection brought up to date with its stack file, in one run a
// pipeline repeats on every change of a stack file. Everything it writes is derived from the stack file and the
// store as they are, so a second run finds nothing to do, and a run that failed half-way is finished by the next.

/** What `ferry protect` did to one source disk of the blueprint. */
export type ProtectAction =
  /** Newly protected: its staging disk attached to the appliance, its source registered. */
  | "enabled"
  /** Protected already; its record now carries the blueprint's RPO target, retention, row or DR snapshot group. */
  | "updated"
  /** Protected already, its record as the blueprint says. */
  | "unchanged"
  /** Disabled by `ferry sources disable`: left so, since that was somebody's decision. */
  | "disabled";

/** One source disk in the result of {@link protect}. */
export interface ProtectedDisk {
  disk: string;
  sourceDiskId: string;
  row: string;
  /** `os`, or `lun-<n>`. */
  role: string;
  action: ProtectAction;
  /**
   * For `enabled`: `empty` when this run's update created its staging disk, `keep` when the staging disk existed
   * (the daemon zeroes what the source does not hold; nothing is wiped).
   */
  prepare?: PrepareMode;
  /** For `updated`: the fields of its record that changed. */
  changed?: string[];
  stagingDisk?: string;
  lun?: number;
  state?: Source["state"];
}

/** The result of {@link protect} (an element of `ferry protect --json`). */
export interface ProtectResult {
  stack: string;
  blueprint: string;
  /** The journal's operation of this run. */
  operation: string;
  /** Whether the stack was updated (its preview showed changes), with the update's changes and version. */
  update: { ran: boolean; changes: ResourceChanges; version?: number };
  disks: ProtectedDisk[];
  /**
   * Staging disks no row of the blueprint has any more (their sources disabled): the update took them out of the
   * stack, and Azure keeps them (the program retains staging disks), for the operator to delete.
   */
  released: { sourceDiskId: string; stagingDiskId: string }[];
}

/** A staging disk as the blueprint stack's outputs list it. */
interface StagingOutput {
  id: string;
  sourceDiskId: string;
}

function stagingOutputs(outputs: Record<string, unknown>): StagingOutput[] {
  return ((outputs.stagingDisks ?? []) as StagingOutput[]).filter(
    (d) => typeof d.id === "string" && typeof d.sourceDiskId === "string",
  );
}

/**
 * Refuses a blueprint that is not in standby: only standby's update declares nothing but the staging disks. In any
 * other mode the stack holds recovered VMs that a runbook is driving, and the message names the one to finish.
 */
export async function assertStandby(ctx: Pick<RunbookContext, "runState">, stack: string, blueprint: string) {
  const record = await modeRecord(ctx, blueprint);
  if (!record || record.mode === "standby") return;
  const by = `operation ${record.operation}`;
  const finish = {
    failover:
      `it was failed over (${by}). Protection is set up again by the failback: \`ferry failback prepare ${stack}\`, ` +
      "`failback sync`, `failback complete` (pipelines/failback.yml) bring it back to standby",
    test: `a drill's test failover is up (${by}). End it with \`ferry cleanup ${stack}\` (pipelines/cleanup.yml)`,
    failback: `a failback runs (${by}). Finish it with \`ferry failback complete ${stack}\``,
  }[record.mode];
  throw new UserError(
    `Blueprint ${stack} is in ${record.mode} mode: ${finish}; then run \`ferry protect ${stack}\` again. ` +
      "Nothing was changed: ferry protect updates a blueprint stack only in standby.",
    { code: "NotInStandby", details: { mode: record.mode, operation: record.operation } },
  );
}

/**
 * Brings the protection of blueprint `stack` up to date with its stack config: validates it, updates the stack in
 * standby (new rows get their staging disks), enables DR for disks not protected yet (`empty` for the staging disks
 * this run created, `keep` for ones that existed: never a wipe), and writes the RPO target, retention and row of
 * every protected disk into its record, which the sync daemon reads. Refused, before anything changes, in any mode
 * but standby and while a row the stack file dropped still has a protected disk (`ferry sources disable` it first:
 * a staging disk is never dropped from under a running sync).
 */
export async function protect(ctx: RunbookContext, stack: string): Promise<ProtectResult> {
  const config = await loadBlueprint(ctx, stack);
  const b = config.blueprint;
  await assertStandby(ctx, stack, b.name);
  const zone = await landingZone(ctx);
  const disks = sourceDisks(b);
  const before = stagingOutputs(await ctx.deployer.outputs(stack));
  const rows = await ctx.store.list();
  const sourceOf = (id: string) => rows.find((r) => sameResourceId(r.source.sourceDiskId, id))?.source;
  const inBlueprint = (id: string) => disks.some((d) => sameResourceId(d.sourceDiskId, id));

  const orphans = rows
    .map((r) => r.source)
    .filter(
      (s) =>
        s.state !== "disabled" &&
        !inBlueprint(s.sourceDiskId) &&
        (s.protection?.blueprint === b.name || before.some((d) => sameResourceId(d.sourceDiskId, s.sourceDiskId))),
    );
  if (orphans.length > 0) throw removedWhileProtected(stack, orphans);

  // What a new disk's enable refuses is refused here, before the update creates its staging disk.
  const fresh = disks.filter((d) => sourceOf(d.sourceDiskId) === undefined);
  for (const d of fresh) await snapshotGroupOf(ctx, zone, d.sourceDiskId);
  for (const row of b.rows)
    if (fresh.some((d) => d.role === "os" && d.row === row.name)) await checkSourceVm(ctx, stack, row);

  const op = await ctx.journal.start("protect", b.name);
  try {
    // Checked again under the lease: a failover may have started in between.
    await assertStandby(ctx, stack, b.name);
    const update = await ctx.journal.step(op, "pulumi up (mode standby)", async () => {
      const preview = await ctx.deployer.preview(stack, {});
      const { create, update, delete: gone } = preview.changes;
      const mandatory = preview.violations.some((v) => v.enforcementLevel === "mandatory");
      // Nothing to change: no update, so the stack's history shows only runs that changed it.
      if (create + update + gone === 0 && !mandatory) return { ran: false, changes: preview.changes };
      const r = await ctx.deployer.up(stack, { message: `protect ${b.name} (${op.id}; mode standby)` });
      return { ran: true, changes: r.changes, version: r.version };
    });
    const after = stagingOutputs(await ctx.deployer.outputs(stack));
    const created = after.filter((d) => !before.some((x) => sameResourceId(x.sourceDiskId, d.sourceDiskId)));
    const released = before
      .filter((d) => !inBlueprint(d.sourceDiskId))
      .map((d) => ({ sourceDiskId: d.sourceDiskId, stagingDiskId: d.id }));

    const result: ProtectedDisk[] = [];
    const drGroup = drSnapshotGroupOf(zone);
    const empty: string[] = [];
    const keep: string[] = [];
    await ctx.journal.step(op, "records of protected disks", async () => {
      for (const d of disks) {
        const s = sourceOf(d.sourceDiskId);
        const place = { disk: nameOf(d.sourceDiskId), sourceDiskId: d.sourceDiskId, row: d.row, role: diskRole(d) };
        if (s?.state === "disabled") {
          result.push({ ...place, action: "disabled", stagingDisk: nameOf(s.stagingDiskId), state: s.state });
          continue;
        }
        if (s === undefined || s.snapshotResourceGroup === undefined) {
          // Never enabled; or enabled before snapshot groups, which enable moves to ferry's group.
          (s === undefined && created.some((c) => sameResourceId(c.sourceDiskId, d.sourceDiskId)) ? empty : keep).push(
            d.sourceDiskId,
          );
          continue;
        }
        const protection: SourceProtection = {
          blueprint: b.name,
          row: d.row,
          disk: diskRole(d),
          ...(b.rpoTargetSeconds !== undefined ? { rpoTargetSeconds: b.rpoTargetSeconds } : {}),
          ...(b.retention !== undefined ? { retention: b.retention } : {}),
        };
        const changed = changedFields(s, protection, drGroup);
        if (changed.length > 0) {
          await setDrSnapshotResourceGroup(ctx.store, d.sourceDiskId, drGroup, ctx.now());
          await setProtection(ctx.store, d.sourceDiskId, protection, ctx.now());
          ctx.logger.info({ sourceDiskId: d.sourceDiskId, changed }, "protection record updated from the blueprint");
        }
        result.push({
          ...place,
          action: changed.length > 0 ? "updated" : "unchanged",
          ...(changed.length > 0 ? { changed } : {}),
          stagingDisk: nameOf(s.stagingDiskId),
          lun: s.applianceLun,
          state: s.state,
        });
      }
    });
    for (const [prepare, ids] of [
      ["empty", empty],
      ["keep", keep],
    ] as const) {
      if (ids.length === 0) continue;
      const enabled = await ctx.journal.step(op, `enable ${ids.length} disk(s) (prepare ${prepare})`, () =>
        enableDr(ctx, stack, { prepare, sourceDiskIds: ids }),
      );
      for (const s of enabled) {
        const d = disks.find((x) => sameResourceId(x.sourceDiskId, s.sourceDiskId))!;
        // A disk enabled before snapshot groups only had its group moved: it was protected already.
        const wasActive = sourceOf(s.sourceDiskId) !== undefined;
        result.push({
          disk: nameOf(d.sourceDiskId),
          sourceDiskId: d.sourceDiskId,
          row: d.row,
          role: diskRole(d),
          action: wasActive ? "updated" : "enabled",
          ...(wasActive ? { changed: ["snapshotResourceGroup"] } : { prepare }),
          stagingDisk: nameOf(s.stagingDiskId),
          lun: s.applianceLun,
          state: s.state,
        });
      }
    }
    for (const r of released)
      ctx.logger.warn(
        r,
        "the staging disk of a row removed from the blueprint left the stack and is kept in Azure: delete it when " +
          "its data is no longer wanted",
      );
    await ctx.journal.end(op, "succeeded");
    const order = (x: ProtectedDisk) => disks.findIndex((d) => sameResourceId(d.sourceDiskId, x.sourceDiskId));
    return {
      stack,
      blueprint: b.name,
      operation: op.id,
      update,
      disks: result.sort((x, y) => order(x) - order(y)),
      released,
    };
  } catch (e) {
    await ctx.journal.end(op, "failed", e);
    throw e;
  }
}

/** The fields of a source's record that differ from what the blueprint says now. */
function changedFields(s: Source, protection: SourceProtection, drGroup: string | undefined): string[] {
  const was: Partial<SourceProtection> = s.protection ?? {};
  const differs = (k: keyof SourceProtection) =>
    JSON.stringify(was[k] ?? null) !== JSON.stringify(protection[k] ?? null);
  const fields = (["blueprint", "row", "disk", "rpoTargetSeconds", "retention"] as const).filter(differs);
  return s.drSnapshotResourceGroup === drGroup ? fields : [...fields, "drSnapshotResourceGroup"];
}

/** The refusal for rows dropped from the stack file while their disks are protected: what to disable first. */
function removedWhileProtected(stack: string, orphans: Source[]): UserError {
  const lines = orphans.map(
    (s) =>
      `  ${nameOf(s.sourceDiskId)}${s.protection ? ` (row ${s.protection.row}, ${s.protection.disk})` : ""}: ` +
      `ferry sources disable ${s.sourceDiskId} --yes`,
  );
  return new UserError(
    `Stack ${stack} no longer has the row(s) of ${orphans.length} protected disk(s), and their sync still runs. ` +
      "Nothing was changed. To stop protecting them, disable each first (the staging disk leaves the appliance and " +
      `is kept), then run \`ferry protect ${stack}\` again; or put the row back in the stack file.\n${lines.join("\n")}`,
    { code: "RowRemovedWhileProtected", details: { disks: orphans.map((s) => s.sourceDiskId) } },
  );
}

/** `ferry protect` for people: what was done to each blueprint and each of its disks. */
export function formatProtect(results: ProtectResult[]): string {
  return results
    .map((r) => {
      const c = r.update.changes;
      const head = r.update.ran
        ? `${r.stack}: stack updated (version ${r.update.version ?? "?"}: ${c.create} created, ${c.update} updated, ` +
          `${c.delete} deleted)`
        : `${r.stack}: stack up to date`;
      const width = Math.max(r.released.length > 0 ? "released".length : 0, ...r.disks.map((d) => d.action.length));
      const lines = r.disks.map((d) => {
        const what =
          d.action === "enabled"
            ? `${d.stagingDisk} at appliance LUN ${d.lun} (${d.state}; prepare ${d.prepare})`
            : d.action === "updated"
              ? `${d.changed?.join(", ")}`
              : d.action === "disabled"
                ? `left disabled; protect it again with \`ferry sources enable ${r.stack} --disk ${d.disk} --prepare keep\``
                : `${d.state}`;
        return `  ${d.action.padEnd(width)}  ${d.disk} (${d.row}, ${d.role}): ${what}`;
      });
      const released = r.released.map(
        (x) =>
          `  ${"released".padEnd(width)}  ${nameOf(x.stagingDiskId)}: its row is gone; the staging disk left the stack and is kept in ` +
          "Azure (delete it when its data is no longer wanted)",
      );
      return [head, ...lines, ...released].join("\n");
    })
    .join("\n");
}

/** Protects each blueprint in turn; one that fails does not stop the others. Thrown at the end: every failure. */
export async function protectEach(
  ctx: RunbookContext,
  stacks: readonly string[],
): Promise<{ results: ProtectResult[]; failures: { stack: string; error: unknown }[] }> {
  const results: ProtectResult[] = [];
  const failures: { stack: string; error: unknown }[] = [];
  for (const stack of stacks) {
    try {
      results.push(await protect(ctx, stack));
    } catch (e) {
      ctx.logger.error({ stack, err: e }, `protect ${stack} failed`);
      failures.push({ stack, error: e });
    }
  }
  return { results, failures };
}

/** The error of a `ferry protect` over several blueprints: each one that failed, with its message. */
export function protectFailures(failures: { stack: string; error: unknown }[], of: number): Error {
  const lines = failures.map((f) => `${f.stack}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
  const message = `ferry protect failed for ${failures.length} of ${of} blueprint(s):\n${lines.join("\n")}`;
  const allUser = failures.every((f) => isUserError(f.error));
  // One blueprint: its own error (its code, its exit status). Several: bad input only when every one was.
  if (failures.length === 1 && of === 1 && failures[0]!.error instanceof Error) return failures[0]!.error;
  return allUser
    ? new UserError(message, { code: "ProtectFailed", details: { stacks: failures.map((f) => f.stack) } })
    : new FerryError(message, { code: "ProtectFailed", details: { stacks: failures.map((f) => f.stack) } });
}
