import type { Ctx } from "./context";
import { canonicalRegion } from "./regions";

/**
 * Request throttling as Azure Resource Manager and the Compute resource provider do it: token buckets that
 * refill at a steady rate, a 429 with `Retry-After` when one is empty, and the remaining counts on every
 * answer. The numbers and where they come from are in emulator/README.md ("Throttling"); keep them together.
 */
export type ThrottlingMode = "azure" | "off";

/** One token bucket's size: how many requests it holds when full, and how fast it refills. */
export interface BucketLimit {
  /** Tokens when full (requests that can be sent at once). */
  capacity: number;
  /** Tokens added per minute of Azure's time (the emulator multiplies this by its speed-up). */
  refillPerMinute: number;
}

/** The buckets a policy charges: per subscription and region, and (for some) per resource. */
interface Policy {
  /** The provider the policy belongs to, as it names itself in `x-ms-ratelimit-remaining-resource`. */
  provider: "Microsoft.Compute";
  /** The policy's category as Azure's documentation names it, without spaces (`PutVM`, `CreateUpdateDisks`). */
  name: string;
  /** Buckets, each charged one token; the suffix names it in the header (`PutVMResource`). */
  buckets: { suffix: string; scope: "subscription" | "resource"; limit: BucketLimit }[];
}

/** ARM's own buckets, per subscription (Azure: per subscription, principal and region). */
export type ArmBucket = "reads" | "writes" | "deletes";

/** The limits the emulator enforces with throttling `azure`: Azure's published numbers. */
export const AZURE_ARM_LIMITS: Record<ArmBucket, BucketLimit> = {
  reads: { capacity: 250, refillPerMinute: 25 * 60 },
  writes: { capacity: 200, refillPerMinute: 10 * 60 },
  deletes: { capacity: 200, refillPerMinute: 10 * 60 },
};

const vmPolicy = (name: string, resource: BucketLimit | undefined, subscription: BucketLimit): Policy => ({
  provider: "Microsoft.Compute",
  name,
  buckets: [
    ...(resource ? [{ suffix: "Resource", scope: "resource" as const, limit: resource }] : []),
    { suffix: "Subscription", scope: "subscription", limit: subscription },
  ],
});

// DiskRP publishes no token buckets; its answers name two windows per policy (`CreateUpdateDisks3Min;999`,
// `…30Min;7999`): a bucket of each window's count, refilled over the window.
const diskPolicy = (name: string): Policy => ({
  provider: "Microsoft.Compute",
  name,
  buckets: [
    { suffix: "3Min", scope: "subscription", limit: { capacity: 1000, refillPerMinute: 1000 / 3 } },
    { suffix: "30Min", scope: "subscription", limit: { capacity: 8000, refillPerMinute: 8000 / 30 } },
  ],
});

const PUT_VM = vmPolicy("PutVM", { capacity: 12, refillPerMinute: 4 }, { capacity: 1500, refillPerMinute: 500 });
const UPDATE_VM = vmPolicy("UpdateVM", { capacity: 12, refillPerMinute: 4 }, { capacity: 1500, refillPerMinute: 500 });
const DELETE_VM = vmPolicy("DeleteVM", { capacity: 12, refillPerMinute: 4 }, { capacity: 1500, refillPerMinute: 500 });
const LOW_COST_GET = vmPolicy(
  "LowCostGetVM",
  { capacity: 36, refillPerMinute: 12 },
  { capacity: 24_000, refillPerMinute: 8_000 },
);
const HIGH_COST_GET = vmPolicy("HighCostGetVM", undefined, { capacity: 900, refillPerMinute: 300 });
const GET_OPERATION = vmPolicy(
  "GetOperation",
  { capacity: 45, refillPerMinute: 15 },
  { capacity: 15_000, refillPerMinute: 5_000 },
);
const CREATE_UPDATE_DISKS = diskPolicy("CreateUpdateDisks");
const DELETE_DISKS = diskPolicy("DeleteDisks");

/** Every Compute policy the emulator enforces, by name (the keys of `ThrottlingOptions.limits`). */
export const COMPUTE_POLICIES: readonly Policy[] = [
  PUT_VM,
  UPDATE_VM,
  DELETE_VM,
  LOW_COST_GET,
  HIGH_COST_GET,
  GET_OPERATION,
  CREATE_UPDATE_DISKS,
  DELETE_DISKS,
];

/** The Compute policy an operation is charged to, or undefined (not throttled by the provider). */
function computePolicy(ctx: Ctx, resourceId: string | undefined): Policy | undefined {
  switch (ctx.operationId) {
    case "VirtualMachines_CreateOrUpdate":
      return resourceId && ctx.emu.state.get(resourceId, "vm") ? UPDATE_VM : PUT_VM;
    case "VirtualMachines_Update":
    case "VirtualMachines_AttachDetachDataDisks":
    case "VirtualMachines_Start":
    case "VirtualMachines_PowerOff":
    case "VirtualMachines_Restart":
      return UPDATE_VM;
    case "VirtualMachines_Delete":
    case "VirtualMachines_Deallocate":
      return DELETE_VM;
    case "VirtualMachines_Get":
    case "VirtualMachines_InstanceView":
      return LOW_COST_GET;
    case "VirtualMachines_List":
    case "VirtualMachines_ListAll":
      return HIGH_COST_GET;
    case "Disks_CreateOrUpdate":
    case "Disks_Update":
    case "Snapshots_CreateOrUpdate":
    case "Snapshots_Update":
      return CREATE_UPDATE_DISKS;
    case "Disks_Delete":
    case "Snapshots_Delete":
      return DELETE_DISKS;
    case "Operations_Get":
    case "Operations_GetResult":
      return /\/providers\/microsoft\.compute\//i.test(ctx.url.pathname) ? GET_OPERATION : undefined;
    default:
      return undefined;
  }
}

/** Options of throttling (`startEmulator({ throttling, throttlingLimits })`). */
export interface ThrottlingOptions {
  /** `azure`: Azure's limits (below); `off`: nothing is throttled. Default `off`. */
  mode?: ThrottlingMode;
  /**
   * Limits to use instead of Azure's, by bucket: `arm.reads`, `arm.writes`, `arm.deletes`, or a Compute policy
   * and bucket (`PutVM.Resource`, `PutVM.Subscription`, `CreateUpdateDisks.3Min`, …). Tests set them low. Default
   * none: Azure's.
   */
  limits?: Record<string, BucketLimit>;
  /** Multiplies every refill rate (the emulator's speed-up, ≥ 1). Default 1. */
  speedup?: number;
}

/** What the emulator counted: every 429 it answered because a bucket was empty. */
export interface ThrottlingStats {
  mode: ThrottlingMode;
  speedup: number;
  /** 429s answered by throttling (not by fault rules). */
  throttled: number;
  /** 429s by the bucket that was empty (`arm.writes`, `PutVM.Resource`, …). */
  byBucket: Record<string, number>;
  /** 429s by operation id. */
  byOperation: Record<string, number>;
}

interface Bucket {
  tokens: number;
  at: number;
  /** Requests refused since the bucket last had a token (the measured count of Azure's refusal). */
  refusedInARow: number;
}

/** A request the buckets refused: the answer's status, headers and body. */
export interface Refusal {
  status: 429;
  headers: Record<string, string>;
  body: unknown;
}

interface Charge {
  key: string;
  label: string;
  limit: BucketLimit;
  bucket: Bucket;
}

/** Token buckets of one emulator: checked before each ARM request is handled. */
export class Throttling {
  mode: ThrottlingMode;
  readonly speedup: number;
  private readonly limits: Record<string, BucketLimit>;
  private readonly buckets = new Map<string, Bucket>();
  private readonly stats = {
    throttled: 0,
    byBucket: {} as Record<string, number>,
    byOperation: {} as Record<string, number>,
  };

  constructor(
    options: ThrottlingOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.mode = options.mode ?? "off";
    this.speedup = options.speedup ?? 1;
    this.limits = options.limits ?? {};
    for (const key of Object.keys(this.limits)) {
      if (!knownBucket(key)) {
        throw new Error(
          `Unknown throttling bucket '${key}': use arm.reads, arm.writes, arm.deletes or <policy>.<bucket> of ` +
            `${COMPUTE_POLICIES.map((p) => p.buckets.map((b) => `${p.name}.${b.suffix}`).join(", ")).join(", ")}.`,
        );
      }
      const l = this.limits[key]!;
      if (!(l.capacity >= 1) || !(l.refillPerMinute > 0))
        throw new Error(`Throttling bucket '${key}' needs capacity ≥ 1 and refillPerMinute > 0.`);
    }
  }

  /** Switches throttling on or off; buckets start full when it is switched on. */
  setMode(mode: ThrottlingMode): void {
    if (mode !== "azure" && mode !== "off") throw new Error(`throttling must be azure or off, got ${String(mode)}.`);
    if (mode !== this.mode) this.buckets.clear();
    this.mode = mode;
  }

  snapshot(): ThrottlingStats {
    return {
      mode: this.mode,
      speedup: this.speedup,
      throttled: this.stats.throttled,
      byBucket: { ...this.stats.byBucket },
      byOperation: { ...this.stats.byOperation },
    };
  }

  /**
   * Charges an ARM request to its buckets. Sets the remaining-count headers on the response and returns
   * undefined when every bucket had a token; otherwise charges nothing and returns the 429 to answer.
   */
  check(ctx: Ctx, params: Record<string, string>): Refusal | undefined {
    if (this.mode === "off") return undefined;
    const now = this.now();
    const method = ctx.req.method ?? "GET";
    const armBucket: ArmBucket =
      method === "GET" || method === "HEAD" ? "reads" : method === "DELETE" ? "deletes" : "writes";
    const charges: Charge[] = [this.charge(`arm.${armBucket}`, `arm.${armBucket}`, now)];
    const resourceId = resourceIdOf(ctx.url.pathname);
    const policy = computePolicy(ctx, resourceId);
    const region = policy ? regionOf(ctx, params, resourceId) : "";
    for (const b of policy?.buckets ?? []) {
      const name = `${policy!.name}.${b.suffix}`;
      const scope = b.scope === "resource" ? (params.operationId ?? resourceId ?? ctx.url.pathname).toLowerCase() : "";
      charges.push(this.charge(name, `${policy!.name}${b.suffix}`, now, `${region}|${scope}`, b.limit));
    }
    const empty = charges.find((c) => c.bucket.tokens < 1);
    if (empty) return this.refuse(ctx, empty, charges, armBucket, policy, now);
    for (const c of charges) {
      c.bucket.tokens -= 1;
      c.bucket.refusedInARow = 0;
    }
    for (const [k, v] of Object.entries(this.headers(charges, armBucket, policy))) ctx.res.setHeader(k, v);
    return undefined;
  }

  private charge(key: string, label: string, now: number, scope = "", fallback?: BucketLimit): Charge {
    const limit = this.limits[key] ?? fallback ?? AZURE_ARM_LIMITS[key.slice(4) as ArmBucket];
    const id = `${key}|${scope}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = { tokens: limit.capacity, at: now, refusedInARow: 0 };
      this.buckets.set(id, bucket);
    }
    const refill = ((now - bucket.at) * limit.refillPerMinute * this.speedup) / 60_000;
    bucket.tokens = Math.min(limit.capacity, bucket.tokens + refill);
    bucket.at = now;
    return { key, label, limit, bucket };
  }

  private headers(charges: Charge[], armBucket: ArmBucket, policy: Policy | undefined): Record<string, string> {
    const headers: Record<string, string> = {
      [`x-ms-ratelimit-remaining-subscription-${armBucket}`]: String(Math.floor(charges[0]!.bucket.tokens)),
    };
    if (policy) {
      headers["x-ms-ratelimit-remaining-resource"] = charges
        .slice(1)
        .map((c) => `${policy.provider}/${c.label};${Math.max(0, Math.floor(c.bucket.tokens))}`)
        .join(",");
      headers["x-ms-request-charge"] = "1";
    }
    return headers;
  }

  private refuse(
    ctx: Ctx,
    empty: Charge,
    charges: Charge[],
    armBucket: ArmBucket,
    policy: Policy | undefined,
    now: number,
  ): Refusal {
    empty.bucket.refusedInARow++;
    this.stats.throttled++;
    this.stats.byBucket[empty.key] = (this.stats.byBucket[empty.key] ?? 0) + 1;
    this.stats.byOperation[ctx.operationId] = (this.stats.byOperation[ctx.operationId] ?? 0) + 1;
    // Until the empty bucket holds one token again: a retry before then is refused again, as Azure's is.
    const waitInMs = Math.ceil(((1 - empty.bucket.tokens) * 60_000) / (empty.limit.refillPerMinute * this.speedup));
    const headers: Record<string, string> = {
      ...this.headers(charges, armBucket, policy),
      "retry-after": String(Math.max(1, Math.ceil(waitInMs / 1000))),
    };
    // Azure's Retry-After is whole seconds; sped up, waits are shorter than a second, so the emulator also
    // sends them in milliseconds (the SDKs' retry policies read `x-ms-retry-after-ms` first).
    if (this.speedup !== 1) headers["x-ms-retry-after-ms"] = String(waitInMs);
    if (empty.key.startsWith("arm.")) {
      return {
        status: 429,
        headers,
        body: {
          error: {
            code: "SubscriptionRequestsThrottled",
            message:
              `Number of '${armBucket.slice(0, -1)}' requests for subscription '${ctx.emu.subscriptionId}' exceeded. ` +
              `Please try again after '${headers["retry-after"]}' seconds after additional tokens are available. ` +
              "Refer to https://aka.ms/arm-throttling",
          },
        },
      };
    }
    const detail = {
      operationGroup: empty.label,
      startTime: new Date(now).toISOString(),
      endTime: new Date(now + waitInMs).toISOString(),
      allowedRequestCount: empty.limit.capacity,
      measuredRequestCount: empty.limit.capacity + empty.bucket.refusedInARow,
    };
    return {
      status: 429,
      headers,
      body: {
        error: {
          code: "OperationNotAllowed",
          message:
            "The server rejected the request because too many requests have been received for this subscription.",
          details: [{ code: "TooManyRequests", target: empty.label, message: JSON.stringify(detail) }],
        },
      },
    };
  }
}

function knownBucket(key: string): boolean {
  if (key.startsWith("arm.")) return key.slice(4) in AZURE_ARM_LIMITS;
  return COMPUTE_POLICIES.some((p) => p.buckets.some((b) => `${p.name}.${b.suffix}` === key));
}

/** The id of the resource a request addresses (`/subscriptions/…/providers/{ns}/{type}/{name}`), if any. */
function resourceIdOf(path: string): string | undefined {
  return /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+/i.exec(path)?.[0];
}

/** Compute throttles per region: the operation's, the body's, the resource's, else its group's. */
function regionOf(ctx: Ctx, params: Record<string, string>, resourceId: string | undefined): string {
  if (params.location) return canonicalRegion(params.location) ?? params.location.toLowerCase();
  const body = ctx.body as { location?: unknown } | undefined;
  if (typeof body?.location === "string") return canonicalRegion(body.location) ?? body.location.toLowerCase();
  const existing = resourceId ? ctx.emu.state.resources.get(resourceId.toLowerCase()) : undefined;
  if (existing) return existing.location;
  const group = params.resourceGroupName ? ctx.emu.state.resourceGroup(params.resourceGroupName) : undefined;
  return group?.location ?? "";
}
