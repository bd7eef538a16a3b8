import { randomBytes, randomUUID } from "node:crypto";
import { sendEmpty, sendJson, type Ctx } from "../context";
import { EmulatorError, badRequest, resourceNotFound } from "../errors";
import type { Emulator } from "../emulator";
import type { Router } from "../http/router";
import type { NicIpConfig, NicRecord, NsgRecord, SubnetRecord, VnetRecord } from "../model";
import {
  answerAccepted,
  answerPut,
  envelope,
  findResource,
  listBody,
  NETWORK,
  registerLists,
  requireLocation,
  requireResourceGroup,
  requireSameLocation,
  resourceId,
  requireResource,
  type ResourceKind,
} from "./common";
import { invalid, missing, oneOf, optArray, optBoolean, optString, optTags, reqString, type Json } from "./input";
import { contains, formatIp, overlaps, parseCidr, parseIp, size, usable, type Cidr } from "./ipv4";
import { validateName } from "./names";
import { checkAcceleratedNetworking } from "./vm-nics";

const BASE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network";
const VNET = `${BASE}/virtualNetworks/{vnetName}`;
const SUBNET = `${VNET}/subnets/{subnetName}`;
const NSG = `${BASE}/networkSecurityGroups/{nsgName}`;
const NIC = `${BASE}/networkInterfaces/{nicName}`;

const etag = () => `W/"${randomUUID()}"`;

function nicsInSubnet(emu: Emulator, subnetId: string): NicRecord[] {
  return emu.state
    .list("nic")
    .filter((n) => n.ipConfigurations.some((c) => c.subnetId.toLowerCase() === subnetId.toLowerCase()));
}

function subnetId(vnet: VnetRecord, name: string): string {
  return `${vnet.id}/subnets/${name}`;
}

function serializeSubnet(emu: Emulator, vnet: VnetRecord, s: SubnetRecord) {
  const id = subnetId(vnet, s.name);
  const ipConfigurations = nicsInSubnet(emu, id).flatMap((n) =>
    n.ipConfigurations
      .filter((c) => c.subnetId.toLowerCase() === id.toLowerCase())
      .map((c) => ({ id: `${n.id}/ipConfigurations/${c.name}` })),
  );
  return {
    id,
    name: s.name,
    type: "Microsoft.Network/virtualNetworks/subnets",
    etag: etag(),
    properties: {
      provisioningState: s.provisioningState,
      addressPrefix: s.addressPrefix,
      ...(s.networkSecurityGroupId ? { networkSecurityGroup: { id: s.networkSecurityGroupId } } : {}),
      ...(ipConfigurations.length ? { ipConfigurations } : {}),
      privateEndpointNetworkPolicies: "Disabled",
      privateLinkServiceNetworkPolicies: "Enabled",
    },
  };
}

function serializeVnet(emu: Emulator, v: VnetRecord) {
  return {
    ...envelope(v, "Microsoft.Network/virtualNetworks"),
    etag: etag(),
    properties: {
      provisioningState: v.provisioningState,
      resourceGuid: v.resourceGuid,
      addressSpace: { addressPrefixes: v.addressPrefixes },
      subnets: v.subnets.map((s) => serializeSubnet(emu, v, s)),
      virtualNetworkPeerings: [],
      enableDdosProtection: false,
    },
  };
}

function serializeNsg(emu: Emulator, n: NsgRecord) {
  const subnets = emu.state
    .list("vnet")
    .flatMap((v) =>
      v.subnets
        .filter((s) => s.networkSecurityGroupId?.toLowerCase() === n.id.toLowerCase())
        .map((s) => ({ id: subnetId(v, s.name) })),
    );
  const nics = emu.state
    .list("nic")
    .filter((x) => x.networkSecurityGroupId?.toLowerCase() === n.id.toLowerCase())
    .map((x) => ({ id: x.id }));
  return {
    ...envelope(n, "Microsoft.Network/networkSecurityGroups"),
    etag: etag(),
    properties: {
      provisioningState: n.provisioningState,
      resourceGuid: n.resourceGuid,
      securityRules: n.securityRules,
      defaultSecurityRules: [],
      ...(subnets.length ? { subnets } : {}),
      ...(nics.length ? { networkInterfaces: nics } : {}),
    },
  };
}

/** Whether a NIC is its VM's primary: the VM's flag, or its only NIC. */
function isPrimaryNic(emu: Emulator, n: NicRecord): boolean | undefined {
  if (!n.virtualMachineId) return undefined;
  const vm = emu.state.get(n.virtualMachineId, "vm");
  const ref = vm?.nics.find((m) => m.id.toLowerCase() === n.id.toLowerCase());
  return ref ? (ref.primary ?? vm!.nics.length === 1) : undefined;
}

function serializeNic(emu: Emulator, n: NicRecord) {
  const primary = isPrimaryNic(emu, n);
  return {
    ...envelope(n, "Microsoft.Network/networkInterfaces"),
    etag: etag(),
    properties: {
      provisioningState: n.provisioningState,
      resourceGuid: n.resourceGuid,
      ipConfigurations: n.ipConfigurations.map((c) => ({
        id: `${n.id}/ipConfigurations/${c.name}`,
        name: c.name,
        type: "Microsoft.Network/networkInterfaces/ipConfigurations",
        properties: {
          provisioningState: n.provisioningState,
          privateIPAddress: c.privateIPAddress,
          privateIPAllocationMethod: c.privateIPAllocationMethod,
          privateIPAddressVersion: "IPv4",
          subnet: { id: c.subnetId },
          primary: c.primary,
          ...(c.publicIPAddressId ? { publicIPAddress: { id: c.publicIPAddressId } } : {}),
        },
      })),
      ...(n.networkSecurityGroupId ? { networkSecurityGroup: { id: n.networkSecurityGroupId } } : {}),
      ...(n.virtualMachineId ? { virtualMachine: { id: n.virtualMachineId } } : {}),
      macAddress: n.macAddress,
      enableAcceleratedNetworking: n.enableAcceleratedNetworking,
      enableIPForwarding: false,
      nicType: "Standard",
      ...(primary !== undefined ? { primary } : {}),
    },
  };
}

function requireCidr(text: unknown, path: string): Cidr {
  const c = typeof text === "string" ? parseCidr(text) : undefined;
  if (!c) throw invalid(path, `'${String(text)}' is not a valid IPv4 CIDR block such as 10.0.0.0/24.`);
  return c;
}

function requireNsgRef(ctx: Ctx, id: string | undefined, location: string): string | undefined {
  if (!id) return undefined;
  const nsg = ctx.emu.state.get(id, "nsg");
  if (!nsg)
    throw new EmulatorError(400, "InvalidResourceReference", `Resource ${id} referenced by the request was not found.`);
  if (nsg.location !== location) {
    throw new EmulatorError(
      400,
      "InvalidResourceReference",
      `Network security group ${id} is in '${nsg.location}', not '${location}'.`,
    );
  }
  return nsg.id;
}

/** Validates a vnet's subnets against its address space and each other. */
function checkSubnets(vnet: VnetRecord): void {
  const spaces = vnet.addressPrefixes.map((p, i) => requireCidr(p, `properties.addressSpace.addressPrefixes[${i}]`));
  const seen: { name: string; c: Cidr }[] = [];
  for (const s of vnet.subnets) {
    const c = requireCidr(s.addressPrefix, `subnets.${s.name}.addressPrefix`);
    if (!spaces.some((sp) => contains(sp, c))) {
      throw badRequest(
        "NetcfgSubnetRangeOutsideVnet",
        `Subnet '${s.name}' is not valid because its IP address range is outside the IP address range of virtual network '${vnet.name}'.`,
      );
    }
    const clash = seen.find((x) => overlaps(x.c, c));
    if (clash)
      throw badRequest(
        "NetcfgSubnetRangesOverlap",
        `Subnet '${s.name}' is not valid because its IP address range overlaps with that of subnet '${clash.name}' in the same virtual network.`,
      );
    if (seen.some((x) => x.name.toLowerCase() === s.name.toLowerCase()))
      throw badRequest("DuplicateResourceName", `Subnet '${s.name}' appears twice.`);
    seen.push({ name: s.name, c });
  }
}

function readSubnets(ctx: Ctx, body: unknown, location: string): SubnetRecord[] {
  return (optArray(body, "properties.subnets") ?? []).map((s, i) => {
    const name = optString(s, "name");
    if (!name) throw missing(`properties.subnets[${i}].name`);
    validateName("network", name);
    const addressPrefix = optString(s, "properties.addressPrefix");
    if (!addressPrefix) throw missing(`properties.subnets[${i}].properties.addressPrefix`);
    const nsg = requireNsgRef(ctx, optString(s, "properties.networkSecurityGroup.id"), location);
    return { name, addressPrefix, provisioningState: "Succeeded", ...(nsg ? { networkSecurityGroupId: nsg } : {}) };
  });
}

/** A subnet in use by a NIC may neither disappear nor change its range. */
function checkSubnetChanges(ctx: Ctx, vnet: VnetRecord, next: SubnetRecord[]): void {
  for (const old of vnet.subnets) {
    const users = nicsInSubnet(ctx.emu, subnetId(vnet, old.name));
    if (users.length === 0) continue;
    const kept = next.find((s) => s.name.toLowerCase() === old.name.toLowerCase());
    if (!kept) {
      throw badRequest(
        "InUseSubnetCannotBeDeleted",
        `Subnet ${old.name} is in use by ${users[0]!.id}/ipConfigurations and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.`,
      );
    }
    if (kept.addressPrefix !== old.addressPrefix) {
      throw badRequest(
        "InUseSubnetCannotBeUpdated",
        `Subnet ${old.name} is in use and its address prefix cannot be updated.`,
      );
    }
  }
}

/** The address each ip configuration of another NIC holds in a subnet, with that configuration's id. */
function heldAddresses(ctx: Ctx, subnetIdValue: string, exceptNicId?: string): Map<number, string> {
  const held = new Map<number, string>();
  for (const n of nicsInSubnet(ctx.emu, subnetIdValue)) {
    if (exceptNicId && n.id.toLowerCase() === exceptNicId.toLowerCase()) continue;
    for (const cfg of n.ipConfigurations)
      if (cfg.subnetId.toLowerCase() === subnetIdValue.toLowerCase())
        held.set(parseIp(cfg.privateIPAddress)!, `${n.id}/ipConfigurations/${cfg.name}`);
  }
  return held;
}

/**
 * The address an ip configuration gets: the static one asked for, checked as Azure checks it (400, in this
 * order: `PrivateIPAddressNotInSubnet`, `PrivateIPAddressInReservedRange`, `PrivateIPAddressIsAllocated`; codes
 * and messages as Azure answers them, sources in emulator/README.md), or the lowest free one.
 */
function allocateIp(
  ctx: Ctx,
  subnetIdValue: string,
  subnet: SubnetRecord,
  requested: string | undefined,
  ipConfigId: string,
  nicId: string,
): string {
  const c = parseCidr(subnet.addressPrefix)!;
  const taken = heldAddresses(ctx, subnetIdValue, nicId);
  if (requested !== undefined) {
    const ip = parseIp(requested);
    if (ip === undefined) throw invalid("privateIPAddress", `'${requested}' is not an IPv4 address.`);
    if (!(ip >= c.base && ip < c.base + size(c))) {
      throw badRequest(
        "PrivateIPAddressNotInSubnet",
        `Private static IP address ${requested} does not belong to the range of subnet prefix ${subnet.addressPrefix}.`,
      );
    }
    if (!usable(c, ip))
      throw badRequest(
        "PrivateIPAddressInReservedRange",
        `Private static IP address ${requested} falls within reserved IP range of subnet prefix ` +
          `${subnet.addressPrefix}.`,
      );
    const holder = taken.get(ip);
    if (holder)
      throw badRequest(
        "PrivateIPAddressIsAllocated",
        `IP configuration ${ipConfigId} is using the private IP address ${requested} which is already allocated ` +
          `to resource ${holder}.`,
      );
    return requested;
  }
  const free = freeAddresses(c, taken, 1);
  if (free.length) return free[0]!;
  throw badRequest(
    "SubnetIsFull",
    `Subnet ${subnetIdValue} with address prefix ${subnet.addressPrefix} does not have enough capacity for 1 IP address.`,
  );
}

/** Up to `count` addresses of a subnet no ip configuration holds, lowest first (after `from`, if given). */
function freeAddresses(c: Cidr, taken: Map<number, string>, count: number, from?: number): string[] {
  const out: string[] = [];
  for (let ip = Math.max(c.base + 4, from ?? 0); usable(c, ip) && out.length < count; ip++)
    if (!taken.has(ip)) out.push(formatIp(ip));
  return out;
}

function readIpConfigurations(
  ctx: Ctx,
  body: unknown,
  nic: { id: string; location: string },
  previous?: NicIpConfig[],
): NicIpConfig[] {
  const raw = optArray(body, "properties.ipConfigurations");
  if (!raw || raw.length === 0) throw missing("properties.ipConfigurations");
  const configs = raw.map((c, i) => {
    const path = `properties.ipConfigurations[${i}]`;
    const name = optString(c, "name") ?? `ipconfig${i + 1}`;
    const sid = optString(c, "properties.subnet.id");
    if (!sid) throw missing(`${path}.properties.subnet.id`);
    const m = /^(.*\/virtualNetworks\/[^/]+)\/subnets\/([^/]+)$/i.exec(sid);
    const vnet = m ? ctx.emu.state.get(m[1]!, "vnet") : undefined;
    const subnet = vnet?.subnets.find((s) => s.name.toLowerCase() === m![2]!.toLowerCase());
    // Azure answers a subnet of another region as it answers one that does not exist: a NIC sees only
    // the virtual networks of its own region (sources in emulator/README.md).
    if (!vnet || !subnet || vnet.location !== nic.location)
      throw new EmulatorError(
        400,
        "InvalidResourceReference",
        `Resource ${sid} referenced by resource ${nic.id} was not found. Please make sure that the referenced ` +
          "resource exists, and that both resources are in the same region.",
      );
    ctx.touchRegion(vnet.location);
    if (optString(c, "properties.publicIPAddress.id")) {
      throw badRequest(
        "NotSupported",
        "Public IP addresses are not served by the ferry emulator (ferry never gives recovered VMs a public IP).",
      );
    }
    const method =
      oneOf(optString(c, "properties.privateIPAllocationMethod"), `${path}.properties.privateIPAllocationMethod`, [
        "Static",
        "Dynamic",
      ] as const) ?? "Dynamic";
    const requested = optString(c, "properties.privateIPAddress");
    if (method === "Static" && !requested) throw missing(`${path}.properties.privateIPAddress`);
    const fullSubnetId = subnetId(vnet, subnet.name);
    const prior = previous?.find((p) => p.name === name && p.subnetId.toLowerCase() === fullSubnetId.toLowerCase());
    const address = allocateIp(
      ctx,
      fullSubnetId,
      subnet,
      method === "Static" ? requested : prior?.privateIPAddress,
      `${nic.id}/ipConfigurations/${name}`,
      nic.id,
    );
    return {
      name,
      subnetId: fullSubnetId,
      privateIPAllocationMethod: method,
      privateIPAddress: address,
      primary: optBoolean(c, "properties.primary") ?? i === 0,
    };
  });
  const twice = configs.find((c, i) => configs.findIndex((d) => d.privateIPAddress === c.privateIPAddress) !== i);
  if (twice) {
    const first = configs.find((c) => c.privateIPAddress === twice.privateIPAddress)!;
    throw badRequest(
      "PrivateIPAddressIsAllocated",
      `IP configuration ${nic.id}/ipConfigurations/${twice.name} is using the private IP address ` +
        `${twice.privateIPAddress} which is already allocated to resource ${nic.id}/ipConfigurations/${first.name}.`,
    );
  }
  return configs;
}

/**
 * VirtualNetworks_CheckIPAddressAvailability: whether an address of the vnet is free. Taken (by an ip
 * configuration, or reserved by Azure), the answer names up to five free addresses of its subnet from the
 * asked one up, as the specification's example shows. An address of no subnet is answered not available
 * (what Azure answers there is not documented; ferry checks the subnet's range before it asks).
 */
function ipAvailability(ctx: Ctx, vnet: VnetRecord) {
  const asked = ctx.url.searchParams.get("ipAddress") ?? "";
  const ip = parseIp(asked);
  if (ip === undefined)
    throw badRequest(
      "InvalidRequestFormat",
      asked
        ? `'${asked}' is not a valid private IP address.`
        : "Private IP address is null or empty in the CheckIpAddressAvailability call. Specify the ipAddress " +
            "query parameter.",
    );
  const subnet = vnet.subnets.find((s) => {
    const c = parseCidr(s.addressPrefix)!;
    return ip >= c.base && ip < c.base + size(c);
  });
  if (!subnet) return { available: false };
  const c = parseCidr(subnet.addressPrefix)!;
  const taken = heldAddresses(ctx, subnetId(vnet, subnet.name));
  const reserved = !usable(c, ip);
  if (!reserved && !taken.has(ip)) return { available: true };
  return {
    available: false,
    availableIPAddresses: freeAddresses(c, taken, 5, ip),
    ...(reserved ? { isPlatformReserved: true } : {}),
  };
}

const VNETS: ResourceKind<"vnet"> = { provider: NETWORK, type: "virtualNetworks", kind: "vnet", nameParam: "vnetName" };
const NSGS: ResourceKind<"nsg"> = {
  provider: NETWORK,
  type: "networkSecurityGroups",
  kind: "nsg",
  nameParam: "nsgName",
};
const NICS: ResourceKind<"nic"> = { provider: NETWORK, type: "networkInterfaces", kind: "nic", nameParam: "nicName" };

function startNetworkOp(ctx: Ctx, location: string, resourceIdValue?: string) {
  return ctx.emu.startOperation(ctx, {
    provider: NETWORK,
    location,
    completion: resourceIdValue ? { kind: "provisioned", resourceId: resourceIdValue } : { kind: "none" },
  });
}

export function registerNetwork(router: Router<Ctx>): void {
  // Virtual networks (with their subnets inline).
  router.add("PUT", VNET, "VirtualNetworks_CreateOrUpdate", (ctx, p) => {
    const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
    validateName("network", p.vnetName!);
    const id = resourceId(ctx, rg.name, NETWORK, "virtualNetworks", p.vnetName!);
    const existing = ctx.emu.state.get(id, "vnet");
    if (existing) requireSameLocation(existing, ctx.body);
    const location = requireLocation(ctx.body, "virtualNetworks");
    ctx.touchRegion(location);
    const prefixes = optArray(ctx.body, "properties.addressSpace.addressPrefixes");
    if (!prefixes || prefixes.length === 0) throw missing("properties.addressSpace.addressPrefixes");
    const vnet: VnetRecord = {
      kind: "vnet",
      id,
      name: p.vnetName!,
      resourceGroup: rg.name,
      location,
      tags: optTags(ctx.body) ?? {},
      provisioningState: "Updating",
      addressPrefixes: prefixes.map((x, i) => {
        requireCidr(x, `properties.addressSpace.addressPrefixes[${i}]`);
        return x as string;
      }),
      subnets: readSubnets(ctx, ctx.body, location),
      resourceGuid: existing?.resourceGuid ?? randomUUID(),
    };
    checkSubnets(vnet);
    if (existing) checkSubnetChanges(ctx, existing, vnet.subnets);
    ctx.emu.state.put(vnet);
    answerPut(ctx, startNetworkOp(ctx, location, id), !existing, serializeVnet(ctx.emu, vnet));
  });
  router.add("GET", VNET, "VirtualNetworks_Get", (ctx, p) =>
    sendJson(ctx, 200, serializeVnet(ctx.emu, requireResource(ctx, p, VNETS))),
  );
  router.add("DELETE", VNET, "VirtualNetworks_Delete", (ctx, p) => {
    const vnet = findResource(ctx, p, VNETS);
    if (!vnet) return sendEmpty(ctx, 204);
    checkSubnetChanges(ctx, vnet, []);
    ctx.emu.state.delete(vnet.id);
    ctx.mutated = true;
    answerAccepted(ctx, startNetworkOp(ctx, vnet.location));
  });
  router.add("GET", `${VNET}/CheckIPAddressAvailability`, "VirtualNetworks_CheckIPAddressAvailability", (ctx, p) =>
    sendJson(ctx, 200, ipAvailability(ctx, requireResource(ctx, p, VNETS))),
  );
  registerLists(router, {
    provider: NETWORK,
    type: "virtualNetworks",
    kind: "vnet",
    byGroup: "VirtualNetworks_List",
    bySubscription: "VirtualNetworks_ListAll",
    serialize: serializeVnet,
  });

  // Subnets as child resources.
  router.add("PUT", SUBNET, "Subnets_CreateOrUpdate", (ctx, p) => {
    const vnet = requireResource(ctx, p, VNETS);
    validateName("network", p.subnetName!);
    const addressPrefix = reqString(ctx.body, "properties.addressPrefix");
    const nsg = requireNsgRef(ctx, optString(ctx.body, "properties.networkSecurityGroup.id"), vnet.location);
    const subnet: SubnetRecord = {
      name: p.subnetName!,
      addressPrefix,
      provisioningState: "Succeeded",
      ...(nsg ? { networkSecurityGroupId: nsg } : {}),
    };
    const existing = vnet.subnets.find((s) => s.name.toLowerCase() === subnet.name.toLowerCase());
    const next = existing ? vnet.subnets.map((s) => (s === existing ? subnet : s)) : [...vnet.subnets, subnet];
    checkSubnets({ ...vnet, subnets: next });
    checkSubnetChanges(ctx, vnet, next);
    vnet.subnets = next;
    ctx.mutated = true;
    answerPut(ctx, startNetworkOp(ctx, vnet.location), !existing, serializeSubnet(ctx.emu, vnet, subnet));
  });
  router.add("GET", SUBNET, "Subnets_Get", (ctx, p) => {
    const vnet = requireResource(ctx, p, VNETS);
    const s = vnet.subnets.find((x) => x.name.toLowerCase() === p.subnetName!.toLowerCase());
    if (!s)
      throw resourceNotFound(
        "Microsoft.Network/virtualNetworks/subnets",
        `${vnet.name}/${p.subnetName}`,
        p.resourceGroupName!,
      );
    sendJson(ctx, 200, serializeSubnet(ctx.emu, vnet, s));
  });
  router.add("DELETE", SUBNET, "Subnets_Delete", (ctx, p) => {
    const vnet = requireResource(ctx, p, VNETS);
    const next = vnet.subnets.filter((s) => s.name.toLowerCase() !== p.subnetName!.toLowerCase());
    if (next.length === vnet.subnets.length) return sendEmpty(ctx, 204);
    checkSubnetChanges(ctx, vnet, next);
    vnet.subnets = next;
    ctx.mutated = true;
    answerAccepted(ctx, startNetworkOp(ctx, vnet.location));
  });
  router.add("GET", `${VNET}/subnets`, "Subnets_List", (ctx, p) => {
    const vnet = requireResource(ctx, p, VNETS);
    sendJson(ctx, 200, listBody(vnet.subnets.map((s) => serializeSubnet(ctx.emu, vnet, s))));
  });

  // Network security groups.
  router.add("PUT", NSG, "NetworkSecurityGroups_CreateOrUpdate", (ctx, p) => {
    const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
    validateName("network", p.nsgName!);
    const id = resourceId(ctx, rg.name, NETWORK, "networkSecurityGroups", p.nsgName!);
    const existing = ctx.emu.state.get(id, "nsg");
    if (existing) requireSameLocation(existing, ctx.body);
    const location = requireLocation(ctx.body, "networkSecurityGroups");
    ctx.touchRegion(location);
    const rules = (optArray(ctx.body, "properties.securityRules") ?? []).map((r, i) => {
      const name = optString(r, "name");
      if (!name) throw missing(`properties.securityRules[${i}].name`);
      return { ...(r as Json), id: `${id}/securityRules/${name}` };
    });
    const nsg: NsgRecord = {
      kind: "nsg",
      id,
      name: p.nsgName!,
      resourceGroup: rg.name,
      location,
      tags: optTags(ctx.body) ?? {},
      provisioningState: "Updating",
      securityRules: rules,
      resourceGuid: existing?.resourceGuid ?? randomUUID(),
    };
    ctx.emu.state.put(nsg);
    answerPut(ctx, startNetworkOp(ctx, location, id), !existing, serializeNsg(ctx.emu, nsg));
  });
  router.add("GET", NSG, "NetworkSecurityGroups_Get", (ctx, p) =>
    sendJson(ctx, 200, serializeNsg(ctx.emu, requireResource(ctx, p, NSGS))),
  );
  router.add("DELETE", NSG, "NetworkSecurityGroups_Delete", (ctx, p) => {
    const nsg = findResource(ctx, p, NSGS);
    if (!nsg) return sendEmpty(ctx, 204);
    const used = serializeNsg(ctx.emu, nsg).properties;
    if (used.subnets || used.networkInterfaces) {
      throw badRequest(
        "InUseNetworkSecurityGroupCannotBeDeleted",
        `Network security group ${nsg.id} cannot be deleted because it is in use by ${(used.subnets ?? used.networkInterfaces)![0]!.id}.`,
      );
    }
    ctx.emu.state.delete(nsg.id);
    ctx.mutated = true;
    answerAccepted(ctx, startNetworkOp(ctx, nsg.location));
  });
  registerLists(router, {
    provider: NETWORK,
    type: "networkSecurityGroups",
    kind: "nsg",
    byGroup: "NetworkSecurityGroups_List",
    bySubscription: "NetworkSecurityGroups_ListAll",
    serialize: serializeNsg,
  });

  // Network interfaces.
  router.add("PUT", NIC, "NetworkInterfaces_CreateOrUpdate", (ctx, p) => {
    const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
    validateName("network", p.nicName!);
    const id = resourceId(ctx, rg.name, NETWORK, "networkInterfaces", p.nicName!);
    const existing = ctx.emu.state.get(id, "nic");
    if (existing) requireSameLocation(existing, ctx.body);
    const location = requireLocation(ctx.body, "networkInterfaces");
    ctx.touchRegion(location);
    const nsg = requireNsgRef(ctx, optString(ctx.body, "properties.networkSecurityGroup.id"), location);
    const nic: NicRecord = {
      kind: "nic",
      id,
      name: p.nicName!,
      resourceGroup: rg.name,
      location,
      tags: optTags(ctx.body) ?? {},
      provisioningState: "Updating",
      ipConfigurations: readIpConfigurations(ctx, ctx.body, { id, location }, existing?.ipConfigurations),
      enableAcceleratedNetworking: optBoolean(ctx.body, "properties.enableAcceleratedNetworking") ?? false,
      macAddress:
        existing?.macAddress ?? `00-0D-3A-${randomBytes(3).toString("hex").toUpperCase().match(/../g)!.join("-")}`,
      resourceGuid: existing?.resourceGuid ?? randomUUID(),
      ...(nsg ? { networkSecurityGroupId: nsg } : {}),
      ...(existing?.virtualMachineId ? { virtualMachineId: existing.virtualMachineId } : {}),
    };
    if (nic.enableAcceleratedNetworking && nic.virtualMachineId) {
      const vm = ctx.emu.state.get(nic.virtualMachineId, "vm");
      if (vm) checkAcceleratedNetworking(vm.vmSize, vm.id, [nic]);
    }
    ctx.emu.state.put(nic);
    answerPut(ctx, startNetworkOp(ctx, location, id), !existing, serializeNic(ctx.emu, nic));
  });
  router.add("GET", NIC, "NetworkInterfaces_Get", (ctx, p) =>
    sendJson(ctx, 200, serializeNic(ctx.emu, requireResource(ctx, p, NICS))),
  );
  router.add("DELETE", NIC, "NetworkInterfaces_Delete", (ctx, p) => {
    const nic = findResource(ctx, p, NICS);
    if (!nic) return sendEmpty(ctx, 204);
    if (nic.virtualMachineId) {
      throw badRequest(
        "NicInUse",
        `Network Interface ${nic.id} is used by existing resource ${nic.virtualMachineId}. In order to delete the network interface, you must first delete the resource or detach the network interface from it.`,
      );
    }
    ctx.emu.state.delete(nic.id);
    ctx.mutated = true;
    answerAccepted(ctx, startNetworkOp(ctx, nic.location));
  });
  registerLists(router, {
    provider: NETWORK,
    type: "networkInterfaces",
    kind: "nic",
    byGroup: "NetworkInterfaces_List",
    bySubscription: "NetworkInterfaces_ListAll",
    serialize: (emu, r) => serializeNic(emu, r),
  });
}
