import { normalizeResourceId, parseResourceId, sameResourceId } from "../core/resource-id";
import { FerryError, UserError, isFerryError } from "../core/errors";
import { redactSecrets } from "../core/redact";
import { holdPoints, releaseHolds, requestSyncs, setPaused } from "../adapters/state/admin";
import { packConfigFromFacts } from "../policies/pack";
import { planBlueprint } from "../stacks/plan";
import { detachFromAppliance } from "./appliance";
import { diskLabel, landingZone, loadBlueprint, sourceDisks } from "./blueprints";
import { finalSyncShortfall } from "./final-sync";
import type { RunbookContext } from "./context";
import { pauseAtApplyBoundary, waitFor } from "./wait";
import type { ResourceEvent } from "./deployers/deployer";
import { failoverPhaseOf, failoverPhaseReached, failoverToResume, type FailoverPhase } from "./failover-phase";
import type { Operation } from "./journal";
import { withNextStep } from "./next-step";
import { currentMode, modeRecord, recordDiskProgress, recordMode, restoreMode, type ModeRecord } from "./mode";
import { formatPrecheck, precheck } from "./precheck";
import { waitUntilReady } from "./readiness";
import { settleAll } from "../core/settle";
import {
  formatPointRequest,
  parsePointRequest,
  recordPointRequest,
  samePointRequest,
  spreadOf,
  type PointRequest,
} from "../core/point-choice";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import type { DiskProgress } from "../core/schemas/blueprint-state";
import type { Source } from "../core/schemas/source";
import type { StoredSource } from "../adapters/state/store";
import { rowDiskIds } from "../stacks/plan";
import type { ListedPoint } from "../core/point-choice";
import {
  asRecoveryPoint,
  holdFailbackBridges,
  latestDrPoints,
  matchApplied,
  recordedDrPoints,
  recordedPointsOf,
  type FailbackBridge,
  type RecordedPoints,
  releaseDrPoints,
  resolvePoints,
} from "./recovery-points";

export type FailoverKind = "planned" | "unplanned" | "test";

export interface FailoverOptions {
  kind: FailoverKind;
  /**
   * `latest` (default), an ISO 8601 time (each disk at its newest DR-side point at or before it), or an id (a row's
   * point group, or a DR-side snapshot): see core/point-choice.ts. A point older than what a staging disk holds is
   * recovered from its DR-side snapshot: its row behaves as from-snapshot.
   */
  recoveryPoint?: string;
  /**
   * Fail over even from recovery points older than the blueprint's `rpoTargetSeconds` (the precheck warns instead
   * of failing; the operation records what was accepted, and on which host). Default false.
   */
  acceptOlderPoint?: boolean;
}

/**
 * How long the program of a failover's `up` may wait for the runbook's detach of a staging disk before it refuses
 * the VM on it, in milliseconds. Azure's attachDetachDataDisks takes seconds; a runbook that died mid-way leaves the
 * record behind, and a bare `pulumi up` after it refuses once this has passed.
 */
const DETACH_WINDOW_MS = 10 * 60_000;

/**
 * Fails a blueprint over to the DR region — planned (source VMs powered off, a final sync: no data
 * lost), unplanned (from the last applied point, with no call to the primary region at all), or
 * test (a drill: copies in the isolated network while replication goes on). The sync stops at an
 * apply boundary first; attach-as-is staging disks leave the appliance; the stack goes to its mode
 * in one `up`, judged by the policy pack on the precheck's facts. Every step is journaled with its
 * timing, and each row's RTO (VM created) recorded. A failed run can be run again: it converges.
 */
export async function failover(ctx: RunbookContext, stack: string, options: FailoverOptions): Promise<Operation> {
  // Bad input is refused before anything is recorded.
  const asked = parsePointRequest(options.recoveryPoint);
  let request = asked;
  const config = await loadBlueprint(ctx, stack);
  const b = config.blueprint;
  const mode = options.kind === "test" ? "test" : "failover";
  // Refused while another operation of the blueprint runs, on any host. Taking the lease records
  // an operation whose host died holding it as failed, so that it can be resumed below.
  const op = await ctx.journal.start(`failover-${options.kind}`, b.name);
  // A failed run of the same failover that got its staging disks off the appliance is continued.
  const resumes = failoverToResume(
    (await ctx.journal.list(b.name)).filter((o) => o.id !== op.id),
    options.kind,
  );
  // Phases only go forward: a resumed run is where the run it continues got to, and its re-run of
  // the pause and precheck does not take it back (were it to fail again, the next run resumes too).
  op.phase = "notStarted";
  const reached = async (phase: FailoverPhase) => {
    if (failoverPhaseReached(failoverPhaseOf(op), phase)) return;
    op.phase = phase;
    await ctx.journal.save(op);
  };
  // What the run it continues recovered: a resumed run recovers exactly that (recorded again, for a run after it).
  const recorded = resumes ? recordedPointsOf(resumes) : undefined;
  if (resumes)
    op.details = {
      resumes: resumes.id,
      ...(recorded ? { pointRequest: recorded.request, resolvedPoints: recorded.points } : {}),
    };
  op.phase = resumes ? failoverPhaseOf(resumes) : "notStarted";
  await ctx.journal.save(op);
  const started = Date.now();
  const log = ctx.logger.child({ blueprint: b.name, operation: op.id, kind: options.kind });
  const disks = sourceDisks(b);
  // The landing zone's outputs, read while the run does other things.
  const zoneRead = landingZone(ctx);
  zoneRead.catch(() => undefined);
  const attachAsIs = new Set<string>();
  if (mode === "failover") {
    for (const r of b.rows) {
      if (r.osStrategy === "attachAsIs") attachAsIs.add(r.osDisk.sourceDiskId.toLowerCase());
      if (r.dataStrategy === "attachAsIs") for (const d of r.dataDisks) attachAsIs.add(d.sourceDiskId.toLowerCase());
    }
  }
  const notEnabled = (id: string) =>
    new UserError(`DR is not enabled for ${id}. Run \`ferry sources enable ${stack}\`.`, { code: "NotEnabled" });
  // The rows of every disk, by normalized id, read together: one query per 14 disks.
  const readRows = async () => {
    const rows = await ctx.store.getMany(disks.map((d) => d.sourceDiskId));
    for (const d of disks) if (!rows.has(normalizeResourceId(d.sourceDiskId))) throw notEnabled(d.sourceDiskId);
    return rows;
  };
  // Until staging disks leave the appliance, a failed failover gives the disks back to the sync.
  let detached = resumes !== undefined;
  // The mode record this run replaced, until its `up` starts: put back if the run fails before any
  // detach or update.
  let previousMode: { record: ModeRecord | undefined } | undefined;
  // A planned failover's final sync: the time (Azure's, ms since the epoch) of each disk's point taken after the
  // power-off, by normalized id. Its from-snapshot disks are copied from a DR-side point of that point or a later one.
  let finalPoints: Map<string, number> | undefined;
  // Set when this run refuses to continue with another point: its message says how to go on.
  let refusedPoint = false;
  // This run's holds on the points it recovers (DR-side, by key, and on the source rows), given back if it fails
  // before a staging disk leaves the appliance: a run that gets no further needs none of them.
  let holding: Promise<unknown> | undefined;
  let heldDrPoints: { sourceDiskId: string; key: string }[] = [];
  try {
    if (recorded && !samePointRequest(asked, recorded.request)) {
      refusedPoint = true;
      throw pointChangedError(stack, options.kind, resumes!.id, asked, recorded);
    }
    if (resumes)
      log.info({ resumes: resumes.id }, "continuing the failed failover: its final sync and detach are done");
    if (options.kind === "planned" && !resumes) {
      await ctx.journal.step(op, "power off the source VMs", () =>
        Promise.all(
          b.rows.map(async (r) => {
            const vm = parseResourceId(r.sourceVmId);
            await ctx.azure.compute.virtualMachines.powerOff(vm.resourceGroup, vm.name, ctx.poll);
            log.info({ row: r.name, vm: r.sourceVmId }, "source VM powered off");
          }),
        ),
      );
      await reached("sourcesStopped");
      await ctx.journal.step(op, "final sync", async () => {
        // The final point of a disk is one whose snapshot the daemon asked for after it read this run's sync
        // request (the point carries the request it saw): written once the power-off ended, so the snapshot holds
        // every write the guest made. Causal, not a clock comparison: the daemon's, this machine's and Azure's
        // clocks may differ. Every row at once (one query per 14 disks, one write per 100), at every poll too.
        const ids = disks.map((d) => d.sourceDiskId);
        const requestedAt = ctx.now();
        await requestSyncs(ctx.store, ids, requestedAt, await readRows());
        // This very request, not any later in time: another host's request with a clock ahead may stand on a
        // row from before the power-off (a later request overwriting this one makes the run wait, never lose).
        const request = requestedAt.toISOString();
        let rows: Map<string, StoredSource> = new Map();
        const sourceOf = (id: string) => rows.get(normalizeResourceId(id))!.source;
        try {
          await waitFor(
            ctx,
            ctx.config.timeouts.finalSyncSeconds,
            "the final sync of every disk",
            "the failover",
            async () => {
              rows = await readRows();
              return ids.every((id) => finalSyncShortfall(sourceOf(id), request) === undefined);
            },
          );
        } catch (e) {
          if (!isFerryError(e) || e.code !== "Timeout") throw e;
          // Each disk short of its final point, and why.
          const short = disks.flatMap((d) => {
            const why = finalSyncShortfall(sourceOf(d.sourceDiskId), request);
            return why ? [`${d.row} ${diskLabel(d)}: ${why}`] : [];
          });
          throw new FerryError(
            `Timed out after ${ctx.config.timeouts.finalSyncSeconds} s waiting for the final sync (a recovery point ` +
              `of each disk taken after the power-off). The source VMs are off and replication goes on.\n` +
              short.map((l) => `  ${l}`).join("\n"),
            { code: "Timeout", cause: e },
          );
        }
        finalPoints = new Map(
          ids.map((id) => {
            const k = normalizeResourceId(id);
            return [k, Date.parse(rows.get(k)!.source.applied!.createdAt)];
          }),
        );
      });
      await reached("finalSynced");
    }

    // Which DR-side points the run recovers from (state store only: nothing is read from the primary region). A
    // disk recovered from one needs no pause: its staging disk is not read, and its sync goes on.
    const sources = new Map<string, Source>();
    // The rows as last read (by normalized id), with their ETags: the holds below are written on them without
    // another read.
    let stored: Map<string, StoredSource> = new Map();
    // Together: on the critical path, one query for up to 14 disks.
    const readSources = async () => {
      stored = await readRows();
      for (const d of disks) sources.set(d.sourceDiskId, stored.get(normalizeResourceId(d.sourceDiskId))!.source);
    };
    // A failover to the latest point lists the DR-side points beside that read (each is a round trip before the
    // `up`): a disk copied from a point (not attached as-is) takes its newest, with no pause; a planned failover's
    // no older than its final point, so that its final sync is in.
    const latestOf = () =>
      latestDrPoints(
        ctx,
        disks.filter((d) => !attachAsIs.has(d.sourceDiskId.toLowerCase())),
        finalPoints === undefined ? {} : { pointTimeAtLeast: finalPoints },
      );
    const listed = !recorded && mode === "failover" && request.kind === "latest" ? latestOf() : undefined;
    listed?.catch(() => undefined);
    await readSources();
    // The id of the source point a staging disk holds names the latest point (as before DR-side points existed).
    const named = request.kind === "id" ? request.id : undefined;
    if (named && [...sources.values()].some((s) => s.applied && sameResourceId(s.applied.snapshotId, named)))
      request = { kind: "latest" };
    const latestFailover = mode === "failover" && request.kind === "latest";
    let resolved = recorded
      ? await recordedDrPoints(ctx, disks, recorded.points)
      : latestFailover
        ? await (listed ?? latestOf())
        : await resolvePoints(ctx, disks, request, mode);
    // The newest point is never older than the staging disk for the plan, even where the sync applied a newer one
    // since (its DR-side point not yet recorded): the row keeps its strategies.
    // The point the resumed run recorded for a disk, if any: it wins over what is listed now.
    const recordedPoint = (id: string) =>
      recorded && Object.entries(recorded.points).find(([k]) => sameResourceId(k, id))?.[1];
    const pointOf = (id: string, c: ListedPoint) => {
      const was = recordedPoint(id);
      if (was) return was;
      const p = asRecoveryPoint(c, sources.get(id));
      if (latestFailover) delete p.older;
      return p;
    };
    const rowOlder = (row: string) =>
      disks
        .filter((d) => d.row === row)
        .some((d) => {
          const c = resolved.chosen[d.sourceDiskId];
          return c !== undefined && pointOf(d.sourceDiskId, c).older === true;
        });
    // Paused: disks with no DR-side point, and the disks of rows that attach their staging disks (a failover to
    // the latest point, or to a point the staging disks still hold).
    // A resumed run: its attach-as-is disks without a DR-side point are paused and detached already; nothing else is.
    const toPause = disks.filter((d) =>
      recorded
        ? !resolved.chosen[d.sourceDiskId] && attachAsIs.has(d.sourceDiskId.toLowerCase())
        : !resolved.chosen[d.sourceDiskId] ||
          (attachAsIs.has(d.sourceDiskId.toLowerCase()) && !rowOlder(d.row)) ||
          (mode === "failover" && request.kind !== "latest" && !rowOlder(d.row)),
    );
    if (toPause.length) {
      await ctx.journal.step(op, "pause the sync at an apply boundary", () =>
        pauseAtApplyBoundary(
          ctx,
          toPause.map((d) => d.sourceDiskId),
          "the failover",
        ),
      );
    } else {
      log.info("every disk is recovered from a DR-side point: the sync is not paused");
    }
    await reached("syncPaused");
    // Paused rows are read again: what each staging disk holds now is what a paused disk recovers.
    if (toPause.length) await readSources();
    if (!recorded && latestFailover && toPause.length) {
      // A paused disk's latest point is what its staging disk holds: its DR-side point, where the daemon took one,
      // spares the failover every snapshot (an attach-as-is disk has it as its failback base; a disk copied from a
      // point is copied from it).
      const applied: Record<string, RecoveryPoint> = {};
      for (const d of toPause) {
        const a = sources.get(d.sourceDiskId)?.applied;
        if (a) applied[d.sourceDiskId] = a;
      }
      const chosen = { ...resolved.chosen, ...(await matchApplied(ctx, toPause, applied)) };
      resolved = {
        deliberate: false,
        chosen,
        spreadInMs: spreadOf(
          disks.map((d) => ({ row: d.row, sourceDiskId: d.sourceDiskId, label: d.sourceDiskId })),
          chosen,
        ),
      };
    }
    const chosenPoints: Record<string, RecoveryPoint> = {};
    for (const d of disks) {
      const c = resolved.chosen[d.sourceDiskId];
      const was = recordedPoint(d.sourceDiskId);
      if (was) chosenPoints[d.sourceDiskId] = was;
      else if (c) chosenPoints[d.sourceDiskId] = pointOf(d.sourceDiskId, c);
    }
    // A row with an older point comes whole from its DR-side snapshots: none of its disks is attached as-is.
    for (const r of b.rows) {
      if (rowDiskIds(r).some((id) => chosenPoints[id]?.older))
        for (const id of rowDiskIds(r)) attachAsIs.delete(id.toLowerCase());
    }

    const check = await ctx.journal.step(op, "precheck", async () => {
      const r = await precheck(ctx, stack, {
        mode,
        operation: op.id,
        acceptOlderPoint: options.acceptOlderPoint ?? false,
        recoveryPoints: chosenPoints,
        deliberatePoint: resolved.deliberate,
      });
      if (!r.passed)
        throw new UserError(`The precheck failed; nothing was failed over.\n${formatPrecheck(r)}`, {
          code: "PrecheckFailed",
          details: { checks: r.checks },
        });
      return r;
    });
    if (check.acceptedOlderPoints.length) {
      // The journal knows the host and process that ran the failover, not the person: recorded with what was accepted.
      op.details = {
        ...op.details,
        acceptedOlderPoints: check.acceptedOlderPoints,
        acceptedOn: { host: op.host, pid: op.pid, at: check.checkedAt },
      };
      log.warn(
        { acceptedOlderPoints: check.acceptedOlderPoints },
        "recovery points older than the RPO target accepted (--accept-older-point)",
      );
      await ctx.journal.save(op);
    }
    op.recoveryPoints = check.facts!.recoveryPoints;
    op.rpoSeconds = Math.max(
      ...Object.values(check.recoveryPoints).map((p) => (ctx.now().getTime() - Date.parse(p.createdAt)) / 1000),
    );
    // The record this run replaces, read beside the holds (every store write here is on the critical path).
    const previousRecord = modeRecord(ctx, b.name);
    previousRecord.catch(() => undefined);
    const failbackBases: Record<string, string> = {};
    // A drill's points are kept for its verification; a failover's until the failback is done with
    // them (the base of both of its deltas), however long the primary is away.
    const holdUntil = new Date(
      ctx.now().getTime() +
        (options.kind === "test" ? ctx.config.failover.holdRecoveryPointsHours * 3_600_000 : 10 * 365 * 24 * 3_600_000),
    );
    // The DR-side points used are held for as long as this operation needs them (released by cleanup, or by the
    // failback's completion): retention never prunes them under it. A point pruned since it was listed is a
    // UserError here, before anything is changed. Given back if this run fails before a staging disk leaves the
    // appliance.
    const drHoldUntil = new Date(ctx.now().getTime() + 10 * 365 * 24 * 3_600_000);
    heldDrPoints = Object.entries(resolved.chosen).map(([id, p]) => ({ sourceDiskId: id, key: p.key }));
    holding = settleAll<unknown>([
      ...Object.entries(resolved.chosen).map(([id, p]) =>
        ctx.points.hold(id, p.key, op.id, drHoldUntil, ctx.now(), {
          ...(p.etag ? { read: { point: p.point, key: p.key, etag: p.etag } } : {}),
        }),
      ),
      // Kept for verification and inspection while the sync goes on (state store only: no primary-region call), all
      // in one write on the rows as read.
      options.kind !== "test" || ctx.config.failover.holdRecoveryPointsHours > 0
        ? holdPoints(
            ctx.store,
            disks.map((d) => ({
              sourceDiskId: d.sourceDiskId,
              snapshotId: check.recoveryPoints[d.sourceDiskId]!.snapshotId,
            })),
            op.id,
            holdUntil,
            ctx.now(),
            stored,
          )
        : Promise.resolve(),
    ]);
    await holding;
    for (const d of disks) {
      const point = check.recoveryPoints[d.sourceDiskId]!;
      const fromDr = point.drSnapshotId !== undefined;
      if (mode === "failover" && fromDr && attachAsIs.has(d.sourceDiskId.toLowerCase()))
        failbackBases[d.sourceDiskId.toLowerCase()] = point.drSnapshotId!;
      log.info(
        {
          row: d.row,
          sourceDiskId: d.sourceDiskId,
          recoveryPoint: point.snapshotId,
          createdAt: point.createdAt,
          ...(fromDr ? { drSnapshotId: point.drSnapshotId } : {}),
          ...(point.older ? { older: true } : {}),
          // One message for every source, so a log query finds them all; where it comes from is a field.
          from: point.older
            ? "an older point, recovered from its DR-side snapshot (the row behaves as from-snapshot)"
            : fromDr
              ? "its DR-side point"
              : "the staging disk",
        },
        "source selected",
      );
    }
    // A failback from an older point diffs it against the newest DR-side point of the same staging disk: held too.
    const failbackBridges =
      mode === "failover"
        ? await holdFailbackBridges(
            ctx,
            op.id,
            check.recoveryPoints,
            drHoldUntil,
            (op.details?.failbackBridges ?? {}) as Record<string, FailbackBridge>,
          )
        : {};
    for (const [row, spreadInMs] of Object.entries(resolved.spreadInMs))
      log.info({ row, spreadInMs }, `${row}: its disks' points are ${spreadInMs} ms apart (each crash-consistent)`);
    op.details = {
      ...op.details,
      ...(options.recoveryPoint && options.recoveryPoint !== "latest" ? { recoveryPoint: options.recoveryPoint } : {}),
      ...(Object.keys(resolved.spreadInMs).length ? { spreadInMs: resolved.spreadInMs } : {}),
      ...(Object.keys(resolved.chosen).length
        ? {
            drPoints: Object.fromEntries(
              Object.entries(chosenPoints).map(([id, p]) => [
                id,
                { drSnapshotId: p.drSnapshotId, pointTime: p.createdAt, ...(p.older ? { older: true } : {}) },
              ]),
            ),
            olderRows: b.rows.filter((r) => rowDiskIds(r).some((id) => chosenPoints[id]?.older)).map((r) => r.name),
          }
        : {}),
      ...(Object.keys(failbackBases).length ? { failbackBases } : {}),
      ...(Object.keys(failbackBridges).length ? { failbackBridges } : {}),
      // What a re-run that continues this one must recover: the request and the points it resolved to.
      pointRequest: recorded?.request ?? recordPointRequest(asked),
      resolvedPoints: check.recoveryPoints,
    };
    if (failoverPhaseReached(failoverPhaseOf(op), "prechecked")) await ctx.journal.save(op);
    else await reached("prechecked");
    // The mode, points and pause go to the store now, each true from here: the program (a runbook's
    // `up` or a bare `pulumi up`) recovers these points and nothing else. Put back if this run fails
    // before a staging disk leaves the appliance, as the sync is.
    previousMode = { record: await previousRecord };
    const paused = new Set(toPause.map((d) => d.sourceDiskId.toLowerCase()));
    // Disks copied from their DR-side point need their staging disk no more: recorded as not paused, and their sync
    // goes on (beside the detach: nothing waits for it).
    const fromPointPaused = disks.filter(
      (d) =>
        paused.has(d.sourceDiskId.toLowerCase()) &&
        !attachAsIs.has(d.sourceDiskId.toLowerCase()) &&
        check.recoveryPoints[d.sourceDiskId]!.drSnapshotId !== undefined,
    );
    for (const d of fromPointPaused) paused.delete(d.sourceDiskId.toLowerCase());
    // The attach-as-is disks are recorded as detaching with the mode (one write less on the critical path): the
    // detach follows, beside the `up`, and a run failing before it puts the previous record back.
    const detachingUntil = new Date(ctx.now().getTime() + DETACH_WINDOW_MS).toISOString();
    await recordMode(ctx, b.name, mode, op.id, {
      operationKind: op.kind,
      recoveryPoints: check.recoveryPoints,
      disks: Object.fromEntries(
        disks
          .filter((d) => paused.has(d.sourceDiskId.toLowerCase()) || attachAsIs.has(d.sourceDiskId.toLowerCase()))
          .map((d) => [
            d.sourceDiskId,
            {
              ...(paused.has(d.sourceDiskId.toLowerCase())
                ? { pausedAt: check.recoveryPoints[d.sourceDiskId]!.snapshotId }
                : {}),
              ...(attachAsIs.has(d.sourceDiskId.toLowerCase()) ? { detachingUntil } : {}),
            },
          ]),
      ),
    });
    const unpaused = settleAll(fromPointPaused.map((d) => setPaused(ctx.store, d.sourceDiskId, false, ctx.now())));
    unpaused.catch(() => undefined);

    const zone = await zoneRead;
    const plan = planBlueprint(b, zone, { mode, recoveryPoints: check.recoveryPoints, operationId: op.id });
    const rowOf = (name: string) =>
      plan.rows.find(
        (r) =>
          name === r.vmName ||
          name.startsWith(`${r.row}${mode === "test" ? "-test" : ""}-`) ||
          name === r.nic.logicalName,
      )?.row;
    const snapshotsLeft = new Set(
      plan.rows.flatMap((r) =>
        [r.osDisk, ...r.dataDisks].filter((d) => d.snapshot).map((d) => d.snapshot!.logicalName),
      ),
    );
    // Disks snapshotted at failover time (no DR-side point): their sync resumes once the snapshots exist.
    const resumeAfterSnapshots = disks.filter(
      (d) =>
        paused.has(d.sourceDiskId.toLowerCase()) &&
        !attachAsIs.has(d.sourceDiskId.toLowerCase()) &&
        check.recoveryPoints[d.sourceDiskId]!.drSnapshotId === undefined,
    );
    let resumed = false;
    const resume = async () => {
      if (resumed) return;
      resumed = true;
      if (!resumeAfterSnapshots.length) return;
      // Recorded before the sync moves on: a later `up` may then recreate nothing from the live disk,
      // and needs no pause for these disks.
      await recordDiskProgress(
        ctx,
        b.name,
        op.id,
        Object.fromEntries(
          resumeAfterSnapshots.map((d) => [d.sourceDiskId, { snapshotTaken: true, pausedAt: undefined }]),
        ),
      );
      await Promise.all(resumeAfterSnapshots.map((d) => setPaused(ctx.store, d.sourceDiskId, false, ctx.now())));
      log.info({ disks: resumeAfterSnapshots.length }, "sync resumed for the disks recovered from snapshots");
    };
    const pendingResume: Promise<void>[] = [];
    const onResource = (e: ResourceEvent) => {
      const row = rowOf(e.name);
      const seconds = (e.at.getTime() - started) / 1000;
      const atSeconds = Math.round(seconds * 10) / 10;
      log.info(
        { row, resource: e.type.split(":").pop(), name: e.name, action: e.action, ms: e.ms, atSeconds },
        `${row ?? "stack"}: ${kindOf(e.type)} ${e.action}`,
      );
      (op.events ??= []).push({
        ...(row ? { row } : {}),
        resource: kindOf(e.type),
        name: e.name,
        action: e.action,
        atSeconds,
        ...(e.ms !== undefined ? { ms: e.ms } : {}),
      });
      if (e.type === "azure-native:compute:VirtualMachine" && e.action === "created") {
        const r = plan.rows.find((x) => x.vmName === e.name);
        if (r)
          op.rto.push({
            row: r.row,
            vm: r.vmName,
            strategy: r.osDisk.strategy,
            vmCreatedSeconds: Math.round(seconds * 10) / 10,
          });
      }
      if (e.type === "azure-native:compute:Snapshot") {
        snapshotsLeft.delete(e.name);
        // Snapshots of the staging disks exist: replication of those disks may go on.
        if (snapshotsLeft.size === 0) pendingResume.push(resume());
      }
    };
    // The staging disks leave the appliance beside the `up`: the program declares the rows' NICs at once and holds
    // each VM on such a disk until the store records its detach (stacks/recovery-guard.ts, awaitDetached).
    let detach: Promise<void> | undefined;
    if (attachAsIs.size) {
      const staging = [...attachAsIs].map((id) => [...sources].find(([k]) => sameResourceId(k, id))![1].stagingDiskId);
      detached = true;
      // Recorded before the first detach: from here a re-run must go forward, not hand back to the sync.
      await reached("stagingDetached");
      const progress = (p: DiskProgress) => Object.fromEntries([...attachAsIs].map((id) => [id, p]));
      detach = ctx.journal.step(op, "detach attach-as-is staging disks from the appliance", async () => {
        try {
          const n = await detachFromAppliance(ctx, zone.applianceId, staging);
          log.info({ detached: n }, "staging disks detached");
        } catch (e) {
          // Withdrawn: the VMs waiting for it in the `up` fail at once instead of at the recorded time.
          await recordDiskProgress(ctx, b.name, op.id, progress({ detachingUntil: undefined })).catch(() => undefined);
          throw e;
        }
        await recordDiskProgress(ctx, b.name, op.id, progress({ detached: true, detachingUntil: undefined }));
      });
      detach.catch(() => undefined);
    }
    await unpaused;
    // From the `up` on, the stack may hold recovered resources: a failed run leaves the blueprint in
    // the new mode, for the guards of cleanup and failback, and for the next run to continue.
    previousMode = undefined;
    const up = ctx.journal.step(op, `pulumi up (mode ${mode})`, () =>
      ctx.deployer.up(stack, {
        message: `${options.kind} failover of ${b.name} (${op.id}; mode ${mode})`,
        policyConfig: packConfigFromFacts(check.facts!, { maxAgeMinutes: ctx.config.precheck.maxAgeMinutes }),
        onResource,
      }),
    );
    // Both settle before the run goes on or fails: the detach's failure is the cause of the `up`'s.
    const [detachDone, upDone] = await Promise.allSettled([detach, up]);
    if (detachDone.status === "rejected") throw detachDone.reason;
    if (upDone.status === "rejected") throw upDone.reason;
    await reached("up");
    await Promise.all(pendingResume);
    await resume();
    for (const r of op.rto)
      log.info({ row: r.row, vm: r.vm, strategy: r.strategy, rtoSeconds: r.vmCreatedSeconds }, `${r.row}: recovered`);

    // Rows with readiness checks: their RTO runs on to OS ready and app ready.
    const checked = plan.rows
      .map((pr) => ({ pr, readiness: b.rows.find((r) => r.name === pr.row)?.readiness }))
      .filter((x) => x.readiness && (x.readiness.os || x.readiness.app));
    if (checked.length) {
      await ctx.journal.step(op, "readiness checks (OS ready, app ready)", async () => {
        const results = await Promise.all(
          checked.map(({ pr, readiness }) => waitUntilReady(ctx, plan.resourceGroup, pr, readiness!, started)),
        );
        const problems: string[] = [];
        results.forEach((r, i) => {
          const rto = op.rto.find((x) => x.row === checked[i]!.pr.row);
          if (rto && r.osReadySeconds !== undefined) rto.osReadySeconds = r.osReadySeconds;
          if (rto && r.appReadySeconds !== undefined) rto.appReadySeconds = r.appReadySeconds;
          problems.push(...r.problems);
        });
        await ctx.journal.save(op);
        if (problems.length) {
          throw new FerryError(
            `The VMs are up, but not every one is ready:\n  ${problems.join("\n  ")}\nFix the cause and run the same failover again: it re-checks.`,
            { code: "NotReady" },
          );
        }
      });
    }
    op.phase = "succeeded";
    await ctx.journal.end(op, "succeeded");
    return op;
  } catch (e) {
    let stillPaused = 0;
    if (!detached) {
      if (previousMode) await restoreMode(ctx, b.name, op.id, previousMode.record).catch(() => undefined);
      if (holding) {
        // Once every hold is written or refused; a release that fails leaves a hold of an operation that failed.
        await holding.catch(() => undefined);
        await settleAll<unknown>([
          ...heldDrPoints.map((p) => ctx.points.release(p.sourceDiskId, p.key, op.id, ctx.now())),
          ...disks.map((d) => releaseHolds(ctx.store, d.sourceDiskId, (by) => by === op.id, ctx.now())),
        ]).catch((err: unknown) =>
          log.warn({ error: redactSecrets((err as Error).message) }, "the failed run's holds were not all released"),
        );
      }
      for (const d of disks)
        await setPaused(ctx.store, d.sourceDiskId, false, ctx.now()).catch(() => {
          stillPaused++;
        });
    }
    await ctx.journal.end(op, "failed", e);
    if (refusedPoint) {
      log.error({ error: (e as Error).message }, "failover refused");
      throw e;
    }
    const next = detached
      ? `The failover got past the detach of the staging disks: run the same failover again to continue it.`
      : stillPaused
        ? `The sync of ${stillPaused} disk(s) could not be given back (the state store did not answer): ` +
          `run the same failover again once it answers, or \`ferry cleanup ${stack}\` for a drill.`
        : "Nothing was failed over and the sync goes on: fix the cause and run the same failover again.";
    // The stack goes to the debug log: the operator reads the message and what to do next.
    log.debug({ err: e }, "failover failed");
    log.error({ error: redactSecrets((e as Error).message), resumable: detached }, `failover failed. ${next}`);
    throw withNextStep(e, next);
  }
}

/** Ends a drill: the stack back to standby (the test VMs and their disks go), replication untouched. */
export async function cleanup(ctx: RunbookContext, stack: string): Promise<Operation> {
  const config = await loadBlueprint(ctx, stack);
  // The store's mode, not the stack file's: a failover run on another host shows here. Checked
  // again under the lease, in case a failover started in between.
  const assertDrill = async () => {
    const mode = await currentMode(ctx, config.blueprint.name);
    if (mode !== "test" && mode !== "standby") {
      throw new UserError(
        `Blueprint ${stack} is in ${mode}: cleanup ends a drill. To end a failover, fail back (ferry failback).`,
        { code: "NotADrill" },
      );
    }
  };
  await assertDrill();
  const op = await ctx.journal.start("cleanup", config.blueprint.name);
  try {
    await assertDrill();
    // The drill's DR-side points, read before the record goes back to standby: their holds end below.
    const drill = await modeRecord(ctx, config.blueprint.name);
    await recordMode(ctx, config.blueprint.name, "standby", op.id, { operationKind: op.kind });
    await ctx.journal.step(op, "pulumi up (mode standby)", () =>
      ctx.deployer.up(stack, { message: `cleanup of ${config.blueprint.name} (${op.id}; mode standby)` }),
    );
    for (const d of sourceDisks(config.blueprint)) {
      const s = await ctx.store.get(d.sourceDiskId);
      if (!s) continue;
      if (s.source.paused) await setPaused(ctx.store, d.sourceDiskId, false, ctx.now());
      // The drill's recovery points may go now.
      if (s.source.holds?.length)
        await releaseHolds(ctx.store, d.sourceDiskId, (by) => by.startsWith("failover-test-"), ctx.now());
    }
    if (drill?.mode === "test") await releaseDrPoints(ctx, drill.operation, Object.values(drill.recoveryPoints));
    await ctx.journal.end(op, "succeeded");
    return op;
  } catch (e) {
    await ctx.journal.end(op, "failed", e);
    // Replication was never paused by a drill's cleanup: a re-run takes the stack on to standby.
    throw withNextStep(e, `The drill is not cleaned up yet: run \`ferry cleanup ${stack}\` again.`);
  }
}

/**
 * The refusal of a re-run that asks for another point than the failed run it would continue: that run's attach-as-is
 * staging disks are off the appliance at its point, so it can only go on there.
 */
function pointChangedError(
  stack: string,
  kind: FailoverKind,
  failed: string,
  asked: PointRequest,
  recorded: RecordedPoints,
): UserError {
  const used = formatPointRequest(recorded.request);
  const times = [...new Set(Object.values(recorded.points).map((p) => p.createdAt))].sort();
  const at = times.length === 1 ? times[0]! : `${times[0]} to ${times.at(-1)}`;
  return new UserError(
    `Failover ${failed} of ${stack} failed after its staging disks left the appliance; it recovers recovery point ` +
      `${used} (points of ${at}), and this run asks for ${formatPointRequest(recordPointRequest(asked))}. A ` +
      `failover that got this far goes on only at the point it started with. Continue it with \`ferry failover ` +
      `${stack} --${kind} --recovery-point ${used}\`. To recover another point, finish it with that command, fail ` +
      `back (\`ferry failback prepare ${stack}\`), and fail over again to the point you want.`,
    {
      code: "RecoveryPointChanged",
      details: { resumes: failed, recoveryPoint: used, points: recorded.points },
    },
  );
}

function kindOf(type: string): string {
  const t = type.split(":").pop() ?? type;
  return { NetworkInterface: "NIC", VirtualMachine: "VM", Disk: "disk", Snapshot: "snapshot" }[t] ?? t;
}
