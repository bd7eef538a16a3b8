import { isNotFound } from "../core/errors";
import type { Target } from "../core/schemas/target";
import type { RunbookContext } from "./context";
import type { PrecheckCheck } from "./precheck";

/**
 * Checks a blueprint's target against the DR subscription as it is now: the resource groups and
 * networks exist in the target region, the VM sizes are offered there, and how much vCPU quota is
 * free. Read-only.
 */
export async function checkTarget(ctx: RunbookContext, t: Target): Promise<PrecheckCheck[]> {
  const checks: PrecheckCheck[] = [];
  const region = t.region.toLowerCase();
  for (const [key, name] of [
    ["resourceGroup", t.resourceGroup],
    ["networkResourceGroup", t.networkResourceGroup],
  ] as const) {
    try {
      const rg = await ctx.azure.resources.resourceGroups.get(name);
      checks.push({ name: `target.${key} ${name}`, ok: true, message: `exists (${rg.location})` });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      checks.push({
        name: `target.${key} ${name}`,
        ok: false,
        message: `Resource group ${name} does not exist in subscription ${t.subscriptionId}. Create it in ${t.region} (the landing zone creates target.resourceGroup), or fix target.${key}.`,
      });
    }
  }
  const networks: [string, string | undefined, string | undefined][] = [
    ["virtualNetwork/subnet", t.virtualNetwork, t.subnet],
    ["testVirtualNetwork/testSubnet", t.testVirtualNetwork, t.testSubnet],
  ];
  for (const [keys, vnetName, subnetName] of networks) {
    if (!vnetName || !subnetName) {
      checks.push({ name: `target.${keys}`, ok: true, message: "not set: no test failovers for this blueprint" });
      continue;
    }
    try {
      const vnet = await ctx.azure.network.virtualNetworks.get(t.networkResourceGroup, vnetName);
      if (vnet.location?.toLowerCase() !== region) {
        checks.push({
          name: `target.${keys}`,
          ok: false,
          message: `${vnetName} is in ${vnet.location}, not the target region ${t.region}. Recovered VMs join a network of their own region.`,
        });
        continue;
      }
      const subnet = vnet.subnets?.find((s) => s.name?.toLowerCase() === subnetName.toLowerCase());
      checks.push(
        subnet
          ? { name: `target.${keys}`, ok: true, message: `${vnetName}/${subnetName} (${subnet.addressPrefix ?? "?"})` }
          : {
              name: `target.${keys}`,
              ok: false,
              message: `${vnetName} has no subnet ${subnetName} (it has: ${(vnet.subnets ?? []).map((s) => s.name).join(", ") || "none"}). Create it, or fix target.${keys}.`,
            },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
      checks.push({
        name: `target.${keys}`,
        ok: false,
        message: `Virtual network ${vnetName} does not exist in ${t.networkResourceGroup}. Create it, or fix target.${keys}.`,
      });
    }
  }
  const offered = await offeredVmSizes(ctx, t.region);
  for (const size of t.vmSizes) {
    const o = offered.get(size.toLowerCase());
    checks.push(
      o === undefined
        ? {
            name: `target.vmSizes ${size}`,
            ok: false,
            message: `${size} is not offered in ${t.region}. Remove it from target.vmSizes, or pick one the region offers (az vm list-sizes -l ${t.region}).`,
          }
        : { name: `target.vmSizes ${size}`, ok: true, message: `offered (${o.cores} vCPUs)` },
    );
  }
  const quota = await coresQuota(ctx, t.region);
  if (quota)
    checks.push({
      name: "regional vCPU quota",
      ok: true,
      message: `${quota.limit - quota.currentValue} of ${quota.limit} free in ${t.region}`,
    });
  return checks;
}

/** A VM size a region offers: its vCPUs and how many data disks it takes. */
export interface OfferedVmSize {
  cores: number;
  maxDataDisks: number;
}

/** The VM sizes a region offers, by lower-case name. */
export async function offeredVmSizes(ctx: RunbookContext, region: string): Promise<Map<string, OfferedVmSize>> {
  const sizes = new Map<string, OfferedVmSize>();
  for await (const s of ctx.azure.compute.virtualMachineSizes.list(region)) {
    if (s.name) sizes.set(s.name.toLowerCase(), { cores: s.numberOfCores ?? 0, maxDataDisks: s.maxDataDiskCount ?? 0 });
  }
  return sizes;
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
