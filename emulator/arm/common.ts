import { sendJson, type Ctx } from "../context";
import type { Emulator } from "../emulator";
import type { Router } from "../http/router";
import { EmulatorError, resourceGroupNotFound, resourceNotFound } from "../errors";
import type { OperationRecord, ResourceGroupRecord, ResourceRecord } from "../model";
import { canonicalRegion } from "../regions";
import { reqString } from "./input";

export const COMPUTE = "Microsoft.Compute";
export const NETWORK = "Microsoft.Network";

export function requireSubscription(ctx: Ctx, subscriptionId: string): void {
  if (subscriptionId.toLowerCase() !== ctx.emu.subscriptionId.toLowerCase()) {
    throw new EmulatorError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`);
  }
}

export function requireResourceGroup(ctx: Ctx, subscriptionId: string, name: string): ResourceGroupRecord {
  requireSubscription(ctx, subscriptionId);
  const rg = ctx.emu.state.resourceGroup(name);
  if (!rg) throw resourceGroupNotFound(name);
  return rg;
}

export function resourceId(ctx: Ctx, resourceGroup: string, provider: string, type: string, name: string): string {
  return `/subscriptions/${ctx.emu.subscriptionId}/resourceGroups/${resourceGroup}/providers/${provider}/${type}/${name}`;
}

/** The `location` of a create request, canonical, or Azure's error for an unknown one. */
export function requireLocation(body: unknown, resourceType: string): string {
  const raw = reqString(body, "location");
  const region = canonicalRegion(raw);
  if (!region) {
    throw new EmulatorError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location '${raw}' is not available for resource type '${resourceType}'.`,
    );
  }
  return region;
}

/** A create or update must not move a resource to another region. */
export function requireSameLocation(
  existing: { location: string; name: string; resourceGroup?: string },
  body: unknown,
): void {
  const raw = reqString(body, "location");
  if (canonicalRegion(raw) !== existing.location) {
    throw new EmulatorError(
      409,
      "InvalidResourceLocation",
      `The resource '${existing.name}' already exists in location '${existing.location}' in resource group '${existing.resourceGroup ?? existing.name}'. A resource with the same name cannot be created in location '${raw}'. Please select a new resource name.`,
    );
  }
}

/** Answers a PUT or PATCH that started a long-running operation: the resource now, and where to poll. */
export function answerPut(ctx: Ctx, op: OperationRecord, created: boolean, body: unknown): void {
  sendJson(ctx, created ? 201 : 200, body, ctx.emu.operationHeaders(ctx, op, false));
}

/**
 * Answers the PUT that creates a disk or snapshot: DiskRP documents 200 and 202 for it, never 201 (its
 * examples answer 202 with the resource), and a 202 says where to poll with both headers.
 */
export function answerCreateAccepted(ctx: Ctx, op: OperationRecord, body: unknown): void {
  sendJson(ctx, 202, body, ctx.emu.operationHeaders(ctx, op, true));
}

/** Answers a POST or DELETE that started a long-running operation. */
export function answerAccepted(ctx: Ctx, op: OperationRecord): void {
  ctx.res.writeHead(202, { "content-length": 0, ...ctx.emu.operationHeaders(ctx, op, true) });
  ctx.res.end();
}

export function listBody<T>(items: T[]): { value: T[] } {
  return { value: items };
}

/** Serialises the common envelope of a tracked resource. */
export function envelope(
  r: { id: string; name: string; location: string; tags: Record<string, string> },
  type: string,
) {
  return { id: r.id, name: r.name, type, location: r.location, tags: r.tags };
}

export function nowIso(ctx: Ctx): string {
  return new Date(ctx.emu.now()).toISOString();
}

/** Splits an ARM id into its parts, or undefined when it is not one. */
export function parseId(
  id: string,
): { subscriptionId: string; resourceGroup: string; provider: string; type: string; name: string } | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/([^/]+)\/([^/]+)$/i.exec(id);
  if (!m) return undefined;
  return { subscriptionId: m[1]!, resourceGroup: m[2]!, provider: m[3]!, type: m[4]!, name: m[5]! };
}

/**
 * The two list operations of a resource type: by resource group and by subscription. A list
 * touches the region of every item it returns, so it fails while one of them is down.
 */
export function registerLists<K extends ResourceRecord["kind"]>(
  router: Router<Ctx>,
  spec: {
    provider: string;
    type: string;
    kind: K;
    byGroup: string;
    bySubscription: string;
    serialize: (emu: Emulator, r: Extract<ResourceRecord, { kind: K }>) => unknown;
  },
): void {
  const answer = (ctx: Ctx, items: Extract<ResourceRecord, { kind: K }>[]) => {
    for (const r of items) ctx.touchRegion(r.location);
    sendJson(ctx, 200, listBody(items.map((r) => spec.serialize(ctx.emu, r))));
  };
  router.add(
    "GET",
    `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${spec.provider}/${spec.type}`,
    spec.byGroup,
    (ctx, p) => {
      requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
      answer(ctx, ctx.emu.state.list(spec.kind, p.resourceGroupName!));
    },
  );
  router.add(
    "GET",
    `/subscriptions/{subscriptionId}/providers/${spec.provider}/${spec.type}`,
    spec.bySubscription,
    (ctx, p) => {
      requireSubscription(ctx, p.subscriptionId!);
      answer(ctx, ctx.emu.state.list(spec.kind));
    },
  );
}

/** Where a resource type lives: its provider, type segment, record kind and the path parameter naming it. */
export interface ResourceKind<K extends ResourceRecord["kind"]> {
  provider: string;
  type: string;
  kind: K;
  nameParam: string;
}

/** The record a request path names, or undefined when there is none; touches its region when found. */
export function findResource<K extends ResourceRecord["kind"]>(
  ctx: Ctx,
  p: Record<string, string>,
  rk: ResourceKind<K>,
): Extract<ResourceRecord, { kind: K }> | undefined {
  const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
  const r = ctx.emu.state.get(resourceId(ctx, rg.name, rk.provider, rk.type, p[rk.nameParam]!), rk.kind);
  if (r) ctx.touchRegion(r.location);
  return r;
}

/** The record a request path names, or Azure's `ResourceNotFound`. */
export function requireResource<K extends ResourceRecord["kind"]>(
  ctx: Ctx,
  p: Record<string, string>,
  rk: ResourceKind<K>,
): Extract<ResourceRecord, { kind: K }> {
  const r = findResource(ctx, p, rk);
  if (!r) throw resourceNotFound(`${rk.provider}/${rk.type}`, p[rk.nameParam]!, p.resourceGroupName!);
  return r;
}
