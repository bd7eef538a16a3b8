import { sendJson, type Ctx } from "../context";
import { EmulatorError } from "../errors";
import type { Router } from "../http/router";
import { canonicalRegion, REGION_PAIRS } from "../regions";
import { COMPUTE, requireSubscription } from "./common";
import { VM_SIZES, ZONES, zonesOf } from "./vm-sizes";

/** The regional vCPU quota unless one is set (setCoresQuota): high, so that only tests of quotas meet it. */
export const DEFAULT_REGIONAL_CORES = 10_000;
const VIRTUAL_MACHINES_LIMIT = 25_000;

const LOCATION = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}";
const SKUS = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus";

function region(ctx: Ctx, raw: string): string {
  const r = canonicalRegion(raw);
  if (!r)
    throw new EmulatorError(
      404,
      "NoRegisteredProviderFound",
      `No registered resource provider found for location '${raw}' and resource type 'locations/usages' of ${COMPUTE}.`,
    );
  ctx.touchRegion(r);
  return r;
}

/** vCPUs of every VM in the region, whatever its power state: deallocated VMs still count against the quota. */
export function coresInUse(ctx: Ctx, location: string): number {
  return ctx.emu.state
    .list("vm")
    .filter((vm) => vm.location === location)
    .reduce((n, vm) => n + (VM_SIZES[vm.vmSize]?.vCPUs ?? 0), 0);
}

/** Refuses a new VM that would take the region's vCPUs past the quota, as Azure does at deployment. */
export function checkCoresQuota(ctx: Ctx, location: string, vmSize: string): void {
  const limit = ctx.emu.coresQuota(location);
  const used = coresInUse(ctx, location);
  const needed = VM_SIZES[vmSize]?.vCPUs ?? 0;
  if (used + needed > limit) {
    throw new EmulatorError(
      409,
      "OperationNotAllowed",
      `Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Location: ${location}, Current Limit: ${limit}, Current Usage: ${used}, Additional Required: ${needed}, (Minimum) New Limit Required: ${used + needed}. Submit a request for Quota increase.`,
    );
  }
}

/**
 * The regions a Resource SKUs list covers: the one its `$filter=location eq '…'` names (the only filter Azure
 * supports), else every region the emulator knows.
 */
function skuRegions(ctx: Ctx): string[] {
  const filter = ctx.url.searchParams.get("$filter");
  if (!filter) return Object.keys(REGION_PAIRS);
  const m = /^\s*location\s+eq\s+'([^']*)'\s*$/i.exec(filter);
  if (!m)
    throw new EmulatorError(
      400,
      "InvalidFilter",
      `The filter '${filter}' is not supported. Only a location filter (location eq '<region>') is supported.`,
    );
  const r = canonicalRegion(m[1]!);
  return r ? [r] : [];
}

/** The `Zone` restriction of a size some zones of a region do not offer, as Resource SKUs lists it. */
function zoneRestrictions(location: string, offered: readonly string[]) {
  const missing = ZONES.filter((z) => !offered.includes(z));
  if (!missing.length) return [];
  return [
    {
      type: "Zone",
      values: [location],
      restrictionInfo: { locations: [location], zones: missing },
      reasonCode: "NotAvailableForSubscription",
    },
  ];
}

/** Compute usages (vCPU quota), the VM sizes of a region and the Resource SKUs (virtualMachines only). */
export function registerQuotas(router: Router<Ctx>): void {
  router.add("GET", `${LOCATION}/usages`, "Usage_List", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    const r = region(ctx, p.location!);
    const vms = ctx.emu.state.list("vm").filter((vm) => vm.location === r).length;
    sendJson(ctx, 200, {
      value: [
        {
          unit: "Count",
          currentValue: coresInUse(ctx, r),
          limit: ctx.emu.coresQuota(r),
          name: { value: "cores", localizedValue: "Total Regional vCPUs" },
        },
        {
          unit: "Count",
          currentValue: vms,
          limit: VIRTUAL_MACHINES_LIMIT,
          name: { value: "virtualMachines", localizedValue: "Virtual Machines" },
        },
      ],
    });
  });
  router.add("GET", `${LOCATION}/vmSizes`, "VirtualMachineSizes_List", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    region(ctx, p.location!);
    sendJson(ctx, 200, {
      value: Object.entries(VM_SIZES).map(([name, s]) => ({
        name,
        numberOfCores: s.vCPUs,
        osDiskSizeInMB: 1_047_552,
        resourceDiskSizeInMB: s.vCPUs * 16_384,
        memoryInMB: s.memoryGiB * 1024,
        maxDataDiskCount: s.maxDataDisks,
      })),
    });
  });
  router.add("GET", SKUS, "ResourceSkus_List", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    const regions = skuRegions(ctx);
    sendJson(ctx, 200, {
      value: regions.flatMap((location) =>
        Object.entries(VM_SIZES).map(([name, s]) => ({
          resourceType: "virtualMachines",
          name,
          tier: "Standard",
          size: name.replace(/^Standard_/, ""),
          locations: [location],
          locationInfo: [{ location, zones: [...zonesOf(s)], zoneDetails: [] }],
          capabilities: [
            { name: "vCPUs", value: String(s.vCPUs) },
            { name: "MemoryGB", value: String(s.memoryGiB) },
            { name: "MaxDataDiskCount", value: String(s.maxDataDisks) },
            { name: "PremiumIO", value: s.premiumIO ? "True" : "False" },
            { name: "HyperVGenerations", value: s.hyperVGenerations.join(",") },
            { name: "MaxNetworkInterfaces", value: String(s.maxNics) },
            { name: "AcceleratedNetworkingEnabled", value: s.acceleratedNetworking ? "True" : "False" },
            // Azure lists it only where it is True; every other size takes Trusted Launch (see the README).
            ...(s.trustedLaunchDisabled ? [{ name: "TrustedLaunchDisabled", value: "True" }] : []),
          ],
          restrictions: zoneRestrictions(location, zonesOf(s)),
        })),
      ),
    });
  });
}
