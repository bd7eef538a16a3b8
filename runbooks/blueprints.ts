import { sameResourceId } from "../core/resource-id";
import { UserError } from "../core/errors";
import type { Blueprint } from "../core/schemas/blueprint";
import { parseStackConfig, type BlueprintStackConfig } from "../stacks/config";
import type { RunbookContext } from "./context";

/** A blueprint stack's parsed config (the stack is named after the blueprint). */
export async function loadBlueprint(ctx: RunbookContext, stack: string): Promise<BlueprintStackConfig> {
  const raw = await ctx.deployer.getConfig(stack);
  if (Object.keys(raw).length === 0) {
    throw new UserError(
      `Stack ${stack} has no ferry config. Create it (stacks/Pulumi.${stack}.yaml, or ferry blueprints init) first.`,
      { code: "UnknownBlueprint" },
    );
  }
  const config = parseStackConfig(raw, stack);
  if (config.kind !== "blueprint")
    throw new UserError(`Stack ${stack} is a ${config.kind} stack, not a blueprint.`, { code: "NotABlueprint" });
  return config;
}

/** Every source disk of a blueprint, with its row and place. */
export function sourceDisks(
  b: Blueprint,
): { row: string; role: "os" | "data"; lun?: number; sourceDiskId: string; sizeGiB: number }[] {
  return b.rows.flatMap((r) => [
    { row: r.name, role: "os" as const, sourceDiskId: r.osDisk.sourceDiskId, sizeGiB: r.osDisk.sizeGiB },
    ...r.dataDisks.map((d) => ({
      row: r.name,
      role: "data" as const,
      lun: d.lun,
      sourceDiskId: d.sourceDiskId,
      sizeGiB: d.sizeGiB,
    })),
  ]);
}

/** How a disk of a row is named to people: "OS disk" or "data disk LUN <n>". */
export function diskLabel(d: { role: "os" | "data"; lun?: number | undefined }): string {
  return d.role === "os" ? "OS disk" : `data disk LUN ${d.lun}`;
}

export interface LandingZoneFacts {
  resourceGroupName: string;
  targetSubnetId: string;
  testSubnetId: string;
  applianceId: string;
}

/** What runbooks need from the landing-zone stack's outputs. */
export async function landingZone(ctx: RunbookContext): Promise<LandingZoneFacts> {
  const out = await ctx.deployer.outputs(ctx.config.landingZoneStack);
  const appliance = out.appliance as { vmId?: string } | undefined;
  if (!appliance?.vmId) {
    throw new UserError(
      `The landing-zone stack ${ctx.config.landingZoneStack} has no outputs: deploy it first (pulumi up -s ${ctx.config.landingZoneStack}).`,
      { code: "NoLandingZone" },
    );
  }
  return {
    resourceGroupName: String(out.resourceGroupName),
    targetSubnetId: String(out.targetSubnetId),
    testSubnetId: String(out.testSubnetId),
    applianceId: appliance.vmId,
  };
}

/** The staging disk the blueprint stack created for a source disk (from its outputs). */
export async function stagingDiskOf(ctx: RunbookContext, stack: string, sourceDiskId: string): Promise<string> {
  const out = await ctx.deployer.outputs(stack);
  const disks = (out.stagingDisks ?? []) as { id: string; sourceDiskId: string }[];
  const hit = disks.find((d) => sameResourceId(d.sourceDiskId, sourceDiskId));
  if (!hit)
    throw new UserError(
      `Stack ${stack} has no staging disk for ${sourceDiskId}: run \`pulumi up\` on it in standby first.`,
      { code: "NoStagingDisk" },
    );
  return hit.id;
}

// The runbooks import it from here; it lives with the id parser so that the command modules can format ids
// without loading the stack schemas.
export { nameOf } from "../core/resource-id";
