import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_REGIONAL_CORES } from "./arm/quotas";
import type { Ctx } from "./context";
import type { Faults } from "./faults";
import { operationDurationInMs, type LatencyProfile } from "./latency";
import type { Completion, OperationRecord, PowerState } from "./model";
import type { State } from "./state";
import type { ChunkStore } from "./storage/chunks";
import type { Manifest } from "./storage/manifest";
import type { Guest } from "./guest";
import { Throttling } from "./throttling";

/** One line of the request log. Paths carry no query string, so no SAS signature is ever kept. */
export interface RequestLogEntry {
  at: string;
  method: string;
  path: string;
  operationId: string;
  plane: "arm" | "data" | "admin";
  regions: string[];
  status: number;
  /** The caller's User-Agent (ferry's clients put `ferry` or `ferry-sync` first). */
  userAgent: string;
}

export interface LroSpec {
  provider: "Microsoft.Compute" | "Microsoft.Network" | "Microsoft.Resources";
  location: string;
  /** Refines the latency key, e.g. `Copy` for `Disks_CreateOrUpdate:Copy`. */
  variant?: string;
  /** A duration to use instead of the profile's (e.g. a cross-region copy sized by its data). */
  durationInMs?: number;
  completion: Completion;
  /** Result served by the Location URL once the operation succeeded (POST actions). */
  output?: unknown;
}

const LOG_LIMIT = 20_000;

/** The running emulator's shared parts, handed to every handler through `Ctx.emu`. */
export class Emulator {
  readonly requestLog: RequestLogEntry[] = [];
  /** Per disk: when its file was last read into a snapshot, so an unchanged disk is not read again. */
  readonly ingestCache = new Map<
    string,
    { snapshotId: string; mtimeNs: bigint; sizeBytes: number; readStartedAt: number }
  >();
  /** Snapshot manifests by file, newest last (see loadManifest). */
  readonly manifests = new Map<string, Manifest>();
  /** Azure's 5-minute window for the snapshot rate limit, shortened by the profile's speed-up. */
  snapshotWindowInMs = 5 * 60_000;
  /**
   * How long a finished operation's status stays readable. Azure's guidelines ask for at least 24 hours after the
   * operation completes (microsoft/api-guidelines, azure/Guidelines.md, "lro-status-monitor-retention"); shortened by
   * the profile's speed-up, as every other duration. Older ones are dropped, so state does not grow without bound.
   */
  operationRetentionInMs = 24 * 3_600_000;
  /** When settleDue next looks for operations past their retention (a scan of them all: at most once a minute). */
  private nextPruneAt = 0;
  /** What the profile's durations were divided by (1: the profile's own pace); `GET /_emulator/latency` says it. */
  speedup = 1;
  /** ARM's and Compute's request throttling (off unless asked for). */
  throttling = new Throttling();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Operations still in progress: every request settles the due ones, so this stays small. */
  private readonly pending = new Set<OperationRecord>();
  endpoint = "";
  /** Regional vCPU quotas set by tests or drills (region → vCPUs); others have the default. */
  private readonly coreQuotas = new Map<string, number>();

  constructor(
    readonly state: State,
    readonly chunks: ChunkStore,
    readonly profile: LatencyProfile,
    readonly faults: Faults,
    readonly guest: Guest,
    readonly now: () => number = Date.now,
  ) {
    mkdirSync(join(state.dataDir, "disks"), { recursive: true });
    mkdirSync(join(state.dataDir, "snapshots"), { recursive: true });
  }

  coresQuota(region: string): number {
    return this.coreQuotas.get(region.toLowerCase()) ?? DEFAULT_REGIONAL_CORES;
  }

  setCoresQuota(region: string, limit: number): void {
    this.coreQuotas.set(region.toLowerCase(), limit);
  }

  get subscriptionId(): string {
    return this.state.subscriptionId;
  }

  log(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > LOG_LIMIT) this.requestLog.splice(0, this.requestLog.length - LOG_LIMIT);
  }

  /**
   * Starts a long-running operation whose effects the handler has already applied; only its status
   * (provisioningState, a transitional power state) waits for the profile's duration. Returns the
   * operation, already settled when its duration is zero.
   */
  startOperation(ctx: Ctx, spec: LroSpec): OperationRecord {
    const durationInMs = spec.durationInMs ?? operationDurationInMs(this.profile, ctx.operationId, spec.variant);
    const now = this.now();
    const startedAt = Math.min(now, ctx.handlingStartedAt ?? now);
    const op: OperationRecord = {
      id: randomUUID(),
      provider: spec.provider,
      location: spec.location,
      status: "InProgress",
      startTime: new Date(startedAt).toISOString(),
      endsAt: startedAt + durationInMs,
      completion: spec.completion,
      ...(spec.output !== undefined ? { output: spec.output } : {}),
      ...(ctx.lroFault ? { error: ctx.lroFault } : {}),
    };
    this.state.operations.set(op.id, op);
    this.pending.add(op);
    ctx.mutated = true;
    if (op.endsAt <= now) this.settle(op);
    else {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.settle(op);
        this.state.saveInBackground();
      }, op.endsAt - now);
      timer.unref();
      this.timers.add(timer);
    }
    return op;
  }

  /**
   * Settles every operation whose time has come (timers can lag; requests call this first), and drops finished ones
   * past their retention. Returns whether the state changed.
   */
  settleDue(): boolean {
    const now = this.now();
    let any = false;
    for (const op of this.pending) {
      if (op.endsAt <= now) {
        this.settle(op);
        any = true;
      }
    }
    if (now >= this.nextPruneAt) {
      this.nextPruneAt = now + Math.min(60_000, this.operationRetentionInMs / 10);
      if (this.pruneOperations(now)) any = true;
    }
    return any;
  }

  /** Settles every operation at once (after a restart: the timers are gone). */
  settleAll(): void {
    for (const op of this.state.operations.values()) if (op.status === "InProgress") this.settle(op);
    this.pruneOperations(this.now());
  }

  /** Drops finished operations older than the retention; returns whether it dropped any. */
  private pruneOperations(now: number): boolean {
    const cutoff = now - this.operationRetentionInMs;
    let any = false;
    for (const [id, op] of this.state.operations) {
      if (op.status !== "InProgress" && op.endsAt < cutoff) {
        this.state.operations.delete(id);
        any = true;
      }
    }
    return any;
  }

  private settle(op: OperationRecord): void {
    this.pending.delete(op);
    if (op.status !== "InProgress") return;
    const failed = op.error !== undefined;
    op.status = failed ? "Failed" : "Succeeded";
    op.endTime = new Date(this.now()).toISOString();
    const c = op.completion;
    switch (c.kind) {
      case "provisioned": {
        const r = this.state.resources.get(c.resourceId.toLowerCase());
        if (r) r.provisioningState = failed ? "Failed" : "Succeeded";
        // A new VM boots once it is provisioned.
        if (r?.kind === "vm" && r.power === "starting") {
          r.power = failed ? "stopped" : "running";
          if (failed) r.neverBooted = true;
          else {
            delete r.neverBooted;
            r.runningSince = this.now();
          }
          this.guest.sync(r);
        }
        break;
      }
      case "power": {
        const vm = this.state.get(c.vmId, "vm");
        if (vm && vm.power === transitional(c.to)) {
          vm.power = failed ? c.from : c.to;
          delete vm.shuttingDown;
          if (vm.power === "running") vm.runningSince = this.now();
          else delete vm.runningSince;
          this.guest.sync(vm);
        }
        break;
      }
      case "resourceGroupDeleted":
        if (!failed) this.state.resourceGroups.delete(c.name.toLowerCase());
        break;
      case "none":
        break;
    }
  }

  /** The polling URLs of an operation, as Azure's `Azure-AsyncOperation` and `Location` headers. */
  operationUrls(op: OperationRecord, apiVersion: string): { asyncOperation: string; location: string } {
    const base = `${this.endpoint}/subscriptions/${this.subscriptionId}/providers/${op.provider}/locations/${op.location}`;
    return {
      asyncOperation: `${base}/operations/${op.id}?api-version=${apiVersion}`,
      location: `${base}/operationResults/${op.id}?api-version=${apiVersion}`,
    };
  }

  /** Response headers for an operation in flight: the polling URLs and, for long waits, Retry-After. */
  operationHeaders(ctx: Ctx, op: OperationRecord, withLocation: boolean): Record<string, string> {
    const urls = this.operationUrls(op, ctx.url.searchParams.get("api-version") ?? "2024-01-01");
    const headers: Record<string, string> = { "azure-asyncoperation": urls.asyncOperation };
    if (withLocation) headers.location = urls.location;
    const retry = this.retryAfterSeconds(op);
    if (retry !== undefined) headers["retry-after"] = String(retry);
    return headers;
  }

  /** Retry-After only when the wait is long; shorter waits use the client's own polling interval. */
  retryAfterSeconds(op: OperationRecord): number | undefined {
    if (op.status !== "InProgress") return undefined;
    const remaining = op.endsAt - this.now();
    return remaining >= 2_000 ? Math.min(30, Math.ceil(remaining / 1_000)) : undefined;
  }

  diskPath(file: string): string {
    return join(this.state.dataDir, file);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.settleAll();
    await this.state.save();
    await this.chunks.close();
  }
}

/** The power state shown while moving to `to`. */
export function transitional(to: PowerState): PowerState {
  switch (to) {
    case "running":
      return "starting";
    case "stopped":
      return "stopping";
    case "deallocated":
      return "deallocating";
    default:
      return to;
  }
}
