import { randomUUID } from "node:crypto";
import { sendEmpty, sendJson, type Ctx } from "../context";
import { EmulatorError, badRequest, resourceNotFound } from "../errors";
import type { Router } from "../http/router";
import type { PrivateDnsLink, PrivateDnsRecordSet, PrivateDnsZoneRecord } from "../model";
import {
  answerAccepted,
  answerPut,
  envelope,
  findResource,
  listBody,
  NETWORK,
  registerLists,
  requireResource,
  requireResourceGroup,
  resourceId,
  type ResourceKind,
} from "./common";
import { get, invalid, missing, optBoolean, optInteger, optString, optTags, reqString } from "./input";
import { parseIp } from "./ipv4";

/**
 * Azure Private DNS (`Microsoft.Network/privateDnsZones`): zones, their A record sets and virtual network
 * links, as the Private DNS specification (2024-06-01) describes them. Zones and links are global resources
 * (`location: global`) written by long-running operations; record sets are written synchronously (200/201)
 * under their ETag. See emulator/README.md, "Microsoft.Network — Private DNS", for the sources.
 */

const BASE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network";
const ZONE = `${BASE}/privateDnsZones/{privateZoneName}`;
const LINK = `${ZONE}/virtualNetworkLinks/{linkName}`;
const RECORD = `${ZONE}/{recordType}/{relativeRecordSetName}`;

const ZONE_TYPE = "Microsoft.Network/privateDnsZones";
const ZONES: ResourceKind<"privateDnsZone"> = {
  provider: NETWORK,
  type: "privateDnsZones",
  kind: "privateDnsZone",
  nameParam: "privateZoneName",
};

/** Limits a zone reports (the specification's example of a new zone). */
const MAX_RECORD_SETS = 25_000;
const MAX_LINKS = 1_000;
const MAX_REGISTRATION_LINKS = 100;
/** The record types of the specification; the emulator writes A record sets only and reads the SOA. */
const RECORD_TYPES = ["A", "AAAA", "CNAME", "MX", "PTR", "SOA", "SRV", "TXT"];
/** TTL of a record set whose request gives none, and of the zone's SOA record set. */
const DEFAULT_TTL = 3600;

const newEtag = () => randomUUID();

/** Azure's answer to a write whose If-Match or If-None-Match does not hold. */
function preconditionFailed(what: string): EmulatorError {
  return new EmulatorError(
    412,
    "PreconditionFailed",
    `The condition in the If-Match or If-None-Match header was not met for ${what}: it was changed, created or ` +
      "deleted since it was read. Read it again and retry.",
  );
}

/** Checks If-Match (an ETag, or `*`: must exist) and If-None-Match (`*`: must not exist) against `etag`. */
function checkPreconditions(ctx: Ctx, etag: string | undefined, what: string, ifNoneMatch = true): void {
  const ifMatch = ctx.req.headers["if-match"];
  if (ifMatch !== undefined) {
    const wanted = String(ifMatch).replace(/^W\//, "").replace(/"/g, "");
    if (etag === undefined || (wanted !== "*" && wanted !== etag)) throw preconditionFailed(what);
  }
  if (ifNoneMatch && ctx.req.headers["if-none-match"] === "*" && etag !== undefined) throw preconditionFailed(what);
}

function requireGlobal(body: unknown, resourceType: string): void {
  const raw = reqString(body, "location");
  if (raw.toLowerCase() !== "global") {
    throw new EmulatorError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location '${raw}' is not available for resource type '${resourceType}'. List of available ` +
        "regions for the resource type is 'global'.",
    );
  }
}

/** A zone name: two or more DNS labels (Azure does not take single-label private zones). */
function validateZoneName(name: string): void {
  const labels = name.split(".");
  const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
  if (name.length > 253 || labels.length < 2 || !labels.every((l) => label.test(l) || l === "_")) {
    throw badRequest(
      "BadRequest",
      `The zone name '${name}' is invalid: a private DNS zone name has two or more labels of letters, digits and ` +
        "hyphens (e.g. contoso.internal).",
    );
  }
}

function zoneOp(ctx: Ctx, zone: PrivateDnsZoneRecord, done: boolean) {
  return ctx.emu.startOperation(ctx, {
    provider: "Microsoft.Network",
    location: "global",
    completion: done ? { kind: "none" } : { kind: "provisioned", resourceId: zone.id },
  });
}

function serializeZone(zone: PrivateDnsZoneRecord) {
  return {
    ...envelope(zone, ZONE_TYPE),
    etag: zone.etag,
    properties: {
      maxNumberOfRecordSets: MAX_RECORD_SETS,
      maxNumberOfVirtualNetworkLinks: MAX_LINKS,
      maxNumberOfVirtualNetworkLinksWithRegistration: MAX_REGISTRATION_LINKS,
      // The SOA record set is one of them.
      numberOfRecordSets: zone.recordSets.length + 1,
      numberOfVirtualNetworkLinks: zone.links.length,
      numberOfVirtualNetworkLinksWithRegistration: zone.links.filter((l) => l.registrationEnabled).length,
      provisioningState: zone.provisioningState,
      internalId: zone.internalId,
    },
  };
}

function fqdn(zone: PrivateDnsZoneRecord, name: string): string {
  return name === "@" ? `${zone.name}.` : `${name}.${zone.name}.`;
}

function serializeRecordSet(zone: PrivateDnsZoneRecord, r: PrivateDnsRecordSet) {
  return {
    id: `${zone.id}/A/${r.name}`,
    name: r.name,
    type: `${ZONE_TYPE}/A`,
    etag: r.etag,
    properties: {
      ...(r.metadata ? { metadata: r.metadata } : {}),
      ttl: r.ttl,
      fqdn: fqdn(zone, r.name),
      isAutoRegistered: false,
      aRecords: r.ipv4Addresses.map((ipv4Address) => ({ ipv4Address })),
    },
  };
}

/** The zone's SOA record set, which Azure makes with the zone and keeps while it exists. */
function serializeSoa(zone: PrivateDnsZoneRecord) {
  return {
    id: `${zone.id}/SOA/@`,
    name: "@",
    type: `${ZONE_TYPE}/SOA`,
    etag: zone.internalId,
    properties: {
      ttl: DEFAULT_TTL,
      fqdn: `${zone.name}.`,
      isAutoRegistered: false,
      soaRecord: {
        email: "azureprivatedns-host.microsoft.com",
        expireTime: 2419200,
        host: "azureprivatedns.net",
        minimumTtl: 10,
        refreshTime: 3600,
        retryTime: 300,
        serialNumber: 1,
      },
    },
  };
}

/**
 * A link as the request's api-version has it: `resolutionPolicy` came with 2024-06-01, and Azure answers each
 * version with that version's schema, so a 2020-06-01 client never reads it.
 */
function serializeLink(ctx: Ctx, zone: PrivateDnsZoneRecord, l: PrivateDnsLink) {
  const withPolicy = (ctx.url.searchParams.get("api-version") ?? "") >= "2024-06-01";
  return {
    id: `${zone.id}/virtualNetworkLinks/${l.name}`,
    name: l.name,
    type: `${ZONE_TYPE}/virtualNetworkLinks`,
    etag: l.etag,
    location: "global",
    tags: l.tags,
    properties: {
      virtualNetwork: { id: l.virtualNetworkId },
      registrationEnabled: l.registrationEnabled,
      ...(withPolicy ? { resolutionPolicy: l.resolutionPolicy } : {}),
      virtualNetworkLinkState: "Completed",
      provisioningState: "Succeeded",
    },
  };
}

/** The record type of a path, canonical; only `A` is written, `SOA` read. */
function recordType(ctx: Ctx, raw: string, write: boolean): "A" | "SOA" {
  const type = RECORD_TYPES.find((t) => t.toLowerCase() === raw.toLowerCase());
  if (!type) {
    throw badRequest("BadRequest", `The record type '${raw}' is invalid. Record types: ${RECORD_TYPES.join(", ")}.`);
  }
  if (type === "A" || (type === "SOA" && !write)) return type;
  throw new EmulatorError(
    400,
    "InvalidResourceType",
    `${ctx.req.method} of ${type} record sets is not served by the ferry emulator (A record sets only; see ` +
      "emulator/README.md).",
  );
}

/** The A records of a request body: `properties.aRecords[].ipv4Address`, each an IPv4 address. */
function readARecords(body: unknown): string[] {
  const list = get(body, "properties.aRecords");
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalid("properties.aRecords", "An array is expected.");
  return list.map((item, i) => {
    const ip = optString(item, "ipv4Address");
    if (ip === undefined) throw missing(`properties.aRecords[${i}].ipv4Address`);
    if (parseIp(ip) === undefined) throw invalid(`properties.aRecords[${i}].ipv4Address`, `'${ip}' is not IPv4.`);
    return ip;
  });
}

function readMetadata(body: unknown): Record<string, string> | undefined {
  const m = get(body, "properties.metadata");
  if (m === undefined || m === null) return undefined;
  if (typeof m !== "object" || Array.isArray(m)) throw invalid("properties.metadata", "An object is expected.");
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
}

function readTtl(body: unknown): number | undefined {
  const ttl = optInteger(body, "properties.ttl");
  if (ttl !== undefined && (ttl < 0 || ttl > 2_147_483_647)) throw invalid("properties.ttl", "0 to 2147483647.");
  return ttl;
}

function findRecordSet(zone: PrivateDnsZoneRecord, name: string): PrivateDnsRecordSet | undefined {
  return zone.recordSets.find((r) => r.name === name.toLowerCase());
}

function recordNotFound(zone: PrivateDnsZoneRecord, name: string, type: string): EmulatorError {
  return new EmulatorError(
    404,
    "NotFound",
    `The resource record '${name}' of type '${type}' does not exist in private DNS zone '${zone.name}'.`,
  );
}

export function registerPrivateDns(router: Router<Ctx>): void {
  // Zones.
  router.add("PUT", ZONE, "PrivateZones_CreateOrUpdate", (ctx, p) => {
    const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
    validateZoneName(p.privateZoneName!);
    const id = resourceId(ctx, rg.name, NETWORK, "privateDnsZones", p.privateZoneName!);
    const existing = ctx.emu.state.get(id, "privateDnsZone");
    checkPreconditions(ctx, existing?.etag, `private DNS zone '${p.privateZoneName}'`);
    requireGlobal(ctx.body, ZONE_TYPE);
    const zone: PrivateDnsZoneRecord = {
      kind: "privateDnsZone",
      id: existing?.id ?? id,
      name: existing?.name ?? p.privateZoneName!,
      resourceGroup: rg.name,
      location: "global",
      tags: optTags(ctx.body) ?? {},
      provisioningState: "Updating",
      etag: newEtag(),
      internalId: existing?.internalId ?? randomUUID(),
      // A zone's PUT never changes its record sets or links.
      recordSets: existing?.recordSets ?? [],
      links: existing?.links ?? [],
    };
    ctx.emu.state.put(zone);
    const op = zoneOp(ctx, zone, false);
    answerPut(ctx, op, !existing, serializeZone(zone));
  });
  router.add("PATCH", ZONE, "PrivateZones_Update", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    checkPreconditions(ctx, zone.etag, `private DNS zone '${zone.name}'`, false);
    const tags = optTags(ctx.body);
    if (tags !== undefined) zone.tags = tags;
    zone.etag = newEtag();
    ctx.mutated = true;
    answerPut(ctx, zoneOp(ctx, zone, true), false, serializeZone(zone));
  });
  router.add("GET", ZONE, "PrivateZones_Get", (ctx, p) =>
    sendJson(ctx, 200, serializeZone(requireResource(ctx, p, ZONES))),
  );
  router.add("DELETE", ZONE, "PrivateZones_Delete", (ctx, p) => {
    const zone = findResource(ctx, p, ZONES);
    if (!zone) return sendEmpty(ctx, 204);
    checkPreconditions(ctx, zone.etag, `private DNS zone '${zone.name}'`, false);
    if (zone.links.length > 0) {
      throw new EmulatorError(
        409,
        "Conflict",
        `The private DNS zone '${zone.name}' cannot be deleted while it has virtual network links ` +
          `(${zone.links.map((l) => l.name).join(", ")}). Delete the links first.`,
      );
    }
    ctx.emu.state.delete(zone.id);
    ctx.mutated = true;
    answerAccepted(ctx, zoneOp(ctx, zone, true));
  });
  registerLists(router, {
    provider: NETWORK,
    type: "privateDnsZones",
    kind: "privateDnsZone",
    byGroup: "PrivateZones_ListByResourceGroup",
    bySubscription: "PrivateZones_List",
    serialize: (_emu, zone) => serializeZone(zone),
  });

  // Record sets: every type (`ALL`) and by type; listed before the routes with a `{recordType}` segment.
  router.add("GET", `${ZONE}/ALL`, "RecordSets_List", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    sendJson(ctx, 200, listBody([serializeSoa(zone), ...zone.recordSets.map((r) => serializeRecordSet(zone, r))]));
  });

  // Virtual network links (before `{recordType}/{relativeRecordSetName}`, which their paths would match too).
  router.add("GET", `${ZONE}/virtualNetworkLinks`, "VirtualNetworkLinks_List", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    sendJson(ctx, 200, listBody(zone.links.map((l) => serializeLink(ctx, zone, l))));
  });
  router.add("PUT", LINK, "VirtualNetworkLinks_CreateOrUpdate", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    const existing = zone.links.find((l) => l.name.toLowerCase() === p.linkName!.toLowerCase());
    checkPreconditions(ctx, existing?.etag, `virtual network link '${p.linkName}'`);
    requireGlobal(ctx.body, `${ZONE_TYPE}/virtualNetworkLinks`);
    const vnetId = reqString(ctx.body, "properties.virtualNetwork.id");
    const vnet = ctx.emu.state.get(vnetId, "vnet");
    if (!vnet) {
      throw badRequest(
        "BadRequest",
        `The virtual network '${vnetId}' of link '${p.linkName}' does not exist. Link an existing virtual network.`,
      );
    }
    const other = zone.links.find((l) => l !== existing && l.virtualNetworkId.toLowerCase() === vnet.id.toLowerCase());
    if (other) {
      throw new EmulatorError(
        409,
        "Conflict",
        `The virtual network '${vnet.id}' is already linked to private DNS zone '${zone.name}' by link ` +
          `'${other.name}': a zone has one link per virtual network.`,
      );
    }
    const policy = optString(ctx.body, "properties.resolutionPolicy") ?? "Default";
    if (policy !== "Default" && policy !== "NxDomainRedirect") {
      throw invalid("properties.resolutionPolicy", "Default or NxDomainRedirect.");
    }
    const link: PrivateDnsLink = {
      name: existing?.name ?? p.linkName!,
      etag: newEtag(),
      virtualNetworkId: vnet.id,
      registrationEnabled: optBoolean(ctx.body, "properties.registrationEnabled") ?? false,
      resolutionPolicy: policy,
      tags: optTags(ctx.body) ?? {},
    };
    zone.links = [...zone.links.filter((l) => l !== existing), link];
    ctx.mutated = true;
    answerPut(ctx, zoneOp(ctx, zone, true), !existing, serializeLink(ctx, zone, link));
  });
  router.add("GET", LINK, "VirtualNetworkLinks_Get", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    const link = zone.links.find((l) => l.name.toLowerCase() === p.linkName!.toLowerCase());
    if (!link) throw resourceNotFound(`${ZONE_TYPE}/virtualNetworkLinks`, p.linkName!, p.resourceGroupName!);
    sendJson(ctx, 200, serializeLink(ctx, zone, link));
  });
  router.add("DELETE", LINK, "VirtualNetworkLinks_Delete", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    const link = zone.links.find((l) => l.name.toLowerCase() === p.linkName!.toLowerCase());
    if (!link) return sendEmpty(ctx, 204);
    checkPreconditions(ctx, link.etag, `virtual network link '${link.name}'`, false);
    zone.links = zone.links.filter((l) => l !== link);
    ctx.mutated = true;
    answerAccepted(ctx, zoneOp(ctx, zone, true));
  });

  router.add("GET", `${ZONE}/{recordType}`, "RecordSets_ListByType", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    const type = recordType(ctx, p.recordType!, false);
    const items: unknown[] =
      type === "SOA" ? [serializeSoa(zone)] : zone.recordSets.map((r) => serializeRecordSet(zone, r));
    sendJson(ctx, 200, listBody(items));
  });
  router.add("GET", RECORD, "RecordSets_Get", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    const type = recordType(ctx, p.recordType!, false);
    const name = p.relativeRecordSetName!;
    if (type === "SOA") {
      if (name !== "@") throw recordNotFound(zone, name, type);
      return sendJson(ctx, 200, serializeSoa(zone));
    }
    const r = findRecordSet(zone, name);
    if (!r) throw recordNotFound(zone, name, type);
    sendJson(ctx, 200, serializeRecordSet(zone, r));
  });
  router.add("PUT", RECORD, "RecordSets_CreateOrUpdate", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    recordType(ctx, p.recordType!, true);
    const name = p.relativeRecordSetName!.toLowerCase();
    const existing = findRecordSet(zone, name);
    checkPreconditions(ctx, existing?.etag, `record set '${name}' of type 'A'`);
    if (!existing && zone.recordSets.length + 1 >= MAX_RECORD_SETS) {
      throw badRequest("BadRequest", `The private DNS zone '${zone.name}' has ${MAX_RECORD_SETS} record sets.`);
    }
    const metadata = readMetadata(ctx.body);
    const record: PrivateDnsRecordSet = {
      name,
      etag: newEtag(),
      ttl: readTtl(ctx.body) ?? DEFAULT_TTL,
      ipv4Addresses: readARecords(ctx.body),
      ...(metadata ? { metadata } : {}),
    };
    zone.recordSets = [...zone.recordSets.filter((r) => r !== existing), record];
    ctx.mutated = true;
    sendJson(ctx, existing ? 200 : 201, serializeRecordSet(zone, record));
  });
  router.add("PATCH", RECORD, "RecordSets_Update", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    const type = recordType(ctx, p.recordType!, true);
    const r = findRecordSet(zone, p.relativeRecordSetName!);
    if (!r) throw recordNotFound(zone, p.relativeRecordSetName!, type);
    checkPreconditions(ctx, r.etag, `record set '${r.name}' of type 'A'`, false);
    // A PATCH changes what it names and keeps the rest.
    if (get(ctx.body, "properties.aRecords") !== undefined) r.ipv4Addresses = readARecords(ctx.body);
    const ttl = readTtl(ctx.body);
    if (ttl !== undefined) r.ttl = ttl;
    const metadata = readMetadata(ctx.body);
    if (metadata !== undefined) r.metadata = metadata;
    r.etag = newEtag();
    ctx.mutated = true;
    sendJson(ctx, 200, serializeRecordSet(zone, r));
  });
  router.add("DELETE", RECORD, "RecordSets_Delete", (ctx, p) => {
    const zone = requireResource(ctx, p, ZONES);
    recordType(ctx, p.recordType!, true);
    const r = findRecordSet(zone, p.relativeRecordSetName!);
    if (!r) return sendEmpty(ctx, 204);
    checkPreconditions(ctx, r.etag, `record set '${r.name}' of type 'A'`, false);
    zone.recordSets = zone.recordSets.filter((x) => x !== r);
    ctx.mutated = true;
    sendEmpty(ctx, 200);
  });
}
