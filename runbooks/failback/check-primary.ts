import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { diskLabel, loadBlueprint, nameOf } from "../blueprints";
import type { RunbookContext } from "../context";
import { coresQuota, offeredVmSizes, type OfferedVmSize } from "../targets";
import { preparedFailback } from "./prepare";

export interface PrimaryCheck {
  name: string;
  level: "ok" | "warning" | "blocker";
  message: string;
  row?: string;
}

/**
 * `ferry failback check-primary`: whether the primary side can take the failback. Blockers: the
 * primary region does not answer, a primary VM is running (its OS disk is never written while it
 * runs), a primary disk is attached to another VM or has an active SAS, the VM's size is no longer
 * offered there. Warnings: what the failback will overwrite (the current disks are kept, tagged,
 * until cleanup). Read-only: it changes nothing.
 */
export async function checkPrimary(
  ctx: RunbookContext,
  stack: string,
): Promise<{ passed: boolean; checks: PrimaryCheck[] }> {
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const plan = await preparedFailback(ctx, b.name);
  const checks: PrimaryCheck[] = [];
  const rows = [...new Set(plan.disks.map((d) => d.row))];
  const sizesByRegion = new Map<string, Promise<Map<string, OfferedVmSize> | Error>>();
  const newVms: typeof b.rows = [];
  for (const rowName of rows) {
    const row = b.rows.find((r) => r.name === rowName)!;
    const disks = plan.disks.filter((d) => d.row === rowName);
    if (disks.some((d) => d.restore === "newVm")) {
      checks.push({
        name: `${rowName}: primary VM`,
        level: "warning",
        row: rowName,
        message: `restored into a new VM in ${row.sourceRegion} (the primary VM or a disk of it is gone)`,
      });
      newVms.push(row);
      continue;
    }
    const vm = parseResourceId(row.sourceVmId);
    let running: string | undefined;
    let size: string;
    try {
      // One read for the power state and the size.
      const primary = await ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name, {
        expand: "instanceView",
      });
      running = primary.instanceView?.statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code?.split("/")[1];
      size = primary.hardwareProfile?.vmSize ?? row.vmSize;
    } catch (e) {
      checks.push({
        name: `${rowName}: primary region reachable`,
        level: "blocker",
        row: rowName,
        message:
          `${row.sourceRegion} does not answer for ${vm.name}: ${(e as Error).message}. ` +
          `Fail back once the region is back.`,
      });
      continue;
    }
    const stopped = running === "deallocated" || running === "stopped";
    checks.push({
      name: `${rowName}: primary VM ${vm.name} not running`,
      level: stopped ? "ok" : "blocker",
      row: rowName,
      message: stopped
        ? `${running}`
        : `it is ${running ?? "in an unknown state"}. Stop it (its OS disk is never written while it runs): ` +
          `az vm deallocate -g ${vm.resourceGroup} -n ${vm.name}`,
    });
    for (const d of disks) {
      const p = parseResourceId(d.primaryDiskId);
      const what = diskLabel(d);
      const disk = await ctx.azure.compute.disks.get(p.resourceGroup, p.name);
      const elsewhere = disk.managedBy && !sameResourceId(disk.managedBy, d.primaryVmId);
      const inUse = disk.diskState === "ActiveSAS" || disk.diskState === "ActiveUpload";
      checks.push({
        name: `${rowName}: ${what} ${p.name} free`,
        level: elsewhere || inUse ? "blocker" : "ok",
        row: rowName,
        message: elsewhere
          ? `attached to ${disk.managedBy}, not to ${vm.name}. Detach it there first.`
          : inUse
            ? `${disk.diskState}: something is reading or writing it. End that access (revoke the SAS) first.`
            : `${disk.diskState ?? "?"}`,
      });
      checks.push({
        name: `${rowName}: ${what} ${p.name} replaced`,
        level: "warning",
        row: rowName,
        message:
          `swapped for a disk synced from ${nameOf(d.drDiskId)}; writes made on it after ` +
          `${nameOf(d.basePointId)} are reverted; the disk itself is kept, tagged, until ferry cleanup --failback`,
      });
    }
    const region = row.sourceRegion;
    if (!sizesByRegion.has(region))
      sizesByRegion.set(
        region,
        offeredVmSizes(ctx, region).catch((e: unknown) => e as Error),
      );
    const sizes = await sizesByRegion.get(region)!;
    checks.push(
      sizes instanceof Error
        ? {
            name: `${rowName}: size ${size} offered in ${region}`,
            level: "blocker",
            row: rowName,
            message: `cannot list sizes: ${sizes.message}`,
          }
        : {
            name: `${rowName}: size ${size} offered in ${region}`,
            level: sizes.has(size.toLowerCase()) ? "ok" : "blocker",
            row: rowName,
            message: sizes.has(size.toLowerCase())
              ? "offered"
              : `${size} is not offered in ${region} any more: the VM could not start there. Resize it first.`,
          },
    );
  }
  // New VMs need the size offered and vCPUs free in the region's quota (an existing VM already counts, running or not).
  for (const region of new Set(newVms.map((r) => r.sourceRegion))) {
    const here = newVms.filter((r) => r.sourceRegion === region);
    const [sizes, quota] = await Promise.all([
      offeredVmSizes(ctx, region).catch((e: unknown) => e as Error),
      coresQuota(ctx, region).catch((e: unknown) => e as Error),
    ]);
    if (sizes instanceof Error || quota instanceof Error) {
      checks.push({
        name: `new VMs in ${region}: capacity`,
        level: "blocker",
        message: `cannot read sizes or quota: ${(sizes instanceof Error ? sizes : (quota as Error)).message}`,
      });
      continue;
    }
    let needed = 0;
    for (const r of here) {
      const size = sizes.get(r.vmSize.toLowerCase());
      checks.push({
        name: `${r.name}: size ${r.vmSize} offered in ${region}`,
        level: size ? "ok" : "blocker",
        row: r.name,
        message: size
          ? "offered"
          : `${r.vmSize} is not offered in ${region}: pick another size for the row, then prepare again.`,
      });
      needed += size?.cores ?? 0;
    }
    if (quota) {
      const free = quota.limit - quota.currentValue;
      checks.push({
        name: `new VMs in ${region}: ${needed} vCPUs free`,
        level: free >= needed ? "ok" : "blocker",
        message:
          free >= needed
            ? `${free} of ${quota.limit} free`
            : `only ${free} of ${quota.limit} regional vCPUs are free. Ask for more quota in ${region}, or free some.`,
      });
    }
  }
  return { passed: checks.every((c) => c.level !== "blocker"), checks };
}
