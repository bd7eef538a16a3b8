import { isNotFound } from "../core/errors";
import { parseResourceId } from "../core/resource-id";
import { hyperVGenerations, type HyperVGeneration } from "../core/schemas/blueprint";
import type { Target } from "../core/schemas/target";
import type { LandingZoneFacts } from "./blueprints";
import { networkChecks, type NetworkRow } from "./network";
import type { RunbookContext } from "./context";
import type { PrecheckCheck } from "./precheck";

/**
 * Checks a blueprint's target against the DR subscription as it is now: its landing zone's resource
 * group and subnets exist, the subnets in the landing zone's region, each row's static addresses fit
 * them (`network.ts`), the VM sizes are offered there, and how much vCPU quota is free. Read-only.
 */
export async function checkTarget(
  ctx: RunbookContext,
  t: Target,
  zone: LandingZoneFacts,
  rows: readonly NetworkRow[] = [],
): Promise<PrecheckCheck[]> {
  const checks: PrecheckCheck[] = [];
  const stack = ctx.config.landingZoneStack;
  const redeploy = `deploy the landing zone again (pulumi up -s ${stack})`;
  const region = zone.location;
  const groupCheck = `landing zone resource group ${zone.resourceGroupName}`;
  try {
    const rg = await ctx.azure.resources.resourceGroups.get(zone.resourceGroupName);
    checks.push({ name: groupCheck, ok: true, message: `exists (${rg.location})` });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    checks.push({
      name: groupCheck,
      ok: false,
      message: `Resource group ${zone.resourceGroupName} does not exist in subscription ${zone.subscriptionId}: ${redeploy}.`,
    });
  }
  for (const [which, id] of [
    ["target subnet", zone.targetSubnetId],
    ["test subnet", zone.testSubnetId],
  ] as const) {
    const name = `landing zone ${which}`;
    const wanted = parseResourceId(id);
    const vnetName = wanted.parent!.name;
    try {
      const vnet = await ctx.azure.network.virtualNetworks.get(wanted.resourceGroup, vnetName);
      if (vnet.location?.toLowerCase() !== region.toLowerCase()) {
        checks.push({
          name,
          ok: false,
          message: `${vnetName} is in ${vnet.location}, not the landing zone's region ${region}. Recovered VMs join a network of their own region.`,
        });
        continue;
      }
      const subnet = vnet.subnets?.find((s) => s.name?.toLowerCase() === wanted.name.toLowerCase());
      checks.push(
        subnet
          ? { name, ok: true, message: `${vnetName}/${wanted.name} (${subnet.addressPrefix ?? "?"})` }
          : {
              name,
              ok: false,
              message: `${vnetName} has no subnet ${wanted.name} (it has: ${(vnet.subnets ?? []).map((s) => s.name).join(", ") || "none"}). Create it, or ${redeploy}.`,
            },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
      checks.push({
        name,
        ok: false,
        message: `Virtual network ${vnetName} does not exist in ${wanted.resourceGroup}. Create it, or ${redeploy}.`,
      });
    }
  }
  // Each row's static addresses, in the subnet of each mode (the region is checked above).
  for (const mode of ["failover", "test"] as const)
    checks.push(...(await networkChecks(ctx, rows, zone, { mode, landingZoneStack: stack, regionCheck: false })));
  const offered = await offeredVmSizes(ctx, region);
  for (const size of t.vmSizes) {
    const o = offered.get(size.toLowerCase());
    checks.push(
      o === undefined
        ? {
            name: `target.vmSizes ${size}`,
            ok: false,
            message: `${size} is not offered in ${region}. Remove it from target.vmSizes, or pick one the region offers (az vm list-sizes -l ${region}).`,
          }
        : { name: `target.vmSizes ${size}`, ok: true, message: `offered (${o.cores} vCPUs)` },
    );
  }
  const quota = await coresQuota(ctx, region);
  if (quota)
    checks.push({
      name: "regional vCPU quota",
      ok: true,
      message: `${quota.limit - quota.currentValue} of ${quota.limit} free in ${region}`,
    });
  return checks;
}

/** A VM size a region offers: its vCPUs and how many data disks it takes. */
export interface OfferedVmSize {
  /** The size's name as Azure spells it. */
  name: string;
  cores: number;
  maxDataDisks: number;
}

/** The VM sizes a region offers, by lower-case name. */
export async function offeredVmSizes(ctx: RunbookContext, region: string): Promise<Map<string, OfferedVmSize>> {
  const sizes = new Map<string, OfferedVmSize>();
  for await (const s of ctx.azure.compute.virtualMachineSizes.list(region)) {
    if (s.name)
      sizes.set(s.name.toLowerCase(), {
        name: s.name,
        cores: s.numberOfCores ?? 0,
        maxDataDisks: s.maxDataDiskCount ?? 0,
      });
  }
  return sizes;
}

/** What the Resource SKUs list says of a VM size in a region. */
export interface VmSizeSku {
  /** The Hyper-V generations it boots (capability `HyperVGenerations`, e.g. "V1,V2"). */
  generations: HyperVGeneration[];
  /** The region's zones that offer it: `locationInfo[].zones` less the zones of a `Zone` restriction. */
  zones: string[];
  /** Whether it takes a Trusted Launch VM: Gen2, and no capability `TrustedLaunchDisabled: True`. */
  trustedLaunch: boolean;
  /** How many NICs a VM of it takes (capability `MaxNetworkInterfaces`); undefined when the SKU does not say. */
  maxNics?: number;
  /** Whether its VMs may have NICs with accelerated networking (capability `AcceleratedNetworkingEnabled: True`). */
  acceleratedNetworking: boolean;
}

/**
 * The VM sizes of a region as the Resource SKUs list describes them, by lower-case name (the VM sizes list carries
 * none of this). A size whose SKU names no generation is read as V1 only, the generation Azure assumes where none
 * is named; a Gen2 row on it is then refused. An absent `TrustedLaunchDisabled` reads as False, as Azure's own
 * tools read it; an absent `AcceleratedNetworkingEnabled` as False (Azure lists it on every size, True or False).
 */
export async function vmSizeSkus(ctx: RunbookContext, region: string): Promise<Map<string, VmSizeSku>> {
  const out = new Map<string, VmSizeSku>();
  for await (const sku of ctx.azure.compute.resourceSkus.list({ filter: `location eq '${region}'` })) {
    if (sku.resourceType?.toLowerCase() !== "virtualmachines" || !sku.name) continue;
    const capability = (name: string) => sku.capabilities?.find((c) => c.name === name)?.value;
    const gens = (capability("HyperVGenerations") ?? "V1")
      .split(",")
      .map((g) => g.trim().toUpperCase())
      .filter((g): g is HyperVGeneration => (hyperVGenerations as readonly string[]).includes(g));
    const here = (l: string | undefined) => l?.toLowerCase().replace(/\s+/g, "") === region.toLowerCase();
    const restricted = new Set(
      (sku.restrictions ?? [])
        .filter((r) => r.type === "Zone" && (r.restrictionInfo?.locations ?? [region]).some(here))
        .flatMap((r) => r.restrictionInfo?.zones ?? []),
    );
    const zones = (sku.locationInfo ?? [])
      .filter((l) => here(l.location))
      .flatMap((l) => l.zones ?? [])
      .filter((z) => !restricted.has(z))
      .sort();
    const nicCount = capability("MaxNetworkInterfaces");
    const maxNics = nicCount === undefined ? undefined : Number(nicCount);
    out.set(sku.name.toLowerCase(), {
      generations: gens,
      zones,
      trustedLaunch: gens.includes("V2") && capability("TrustedLaunchDisabled")?.toLowerCase() !== "true",
      ...(maxNics !== undefined && Number.isInteger(maxNics) ? { maxNics } : {}),
      acceleratedNetworking: capability("AcceleratedNetworkingEnabled")?.toLowerCase() === "true",
    });
  }
  return out;
}

/** The region's vCPU quota (the `cores` usage), when the subscription reports one. */
export async function coresQuota(
  ctx: RunbookContext,
  region: string,
): Promise<{ currentValue: number; limit: number } | undefined> {
  for await (const u of ctx.azure.compute.usage.list(region))
    if (u.name.value === "cores") return { currentValue: u.currentValue, limit: u.limit };
  return undefined;
}
