import { sameResourceId } from "../core/resource-id";
import { UserError } from "../core/errors";
import type { Blueprint } from "../core/schemas/blueprint";
import { parseLandingZoneOutputs } from "../core/schemas/landing-zone";
import { parseStackConfig, type BlueprintStackConfig } from "../stacks/config";
import type { FerryConfig } from "./config";
import type { RunbookContext } from "./context";
import type { Deployer } from "./deployers/deployer";
import { currentBlueprint } from "./mode";

/**
 * A blueprint stack's parsed config (the stack is named after the blueprint), its source disks the
 * current ones (those failbacks returned, from the state store, over the tracked ids). Its landing zone must
 * be the one ferry.json names: the runbooks act on that one's appliance and resource group.
 */
export async function loadBlueprint(ctx: RunbookContext, stack: string): Promise<BlueprintStackConfig> {
  const raw = await ctx.deployer.getConfig(stack);
  if (Object.keys(raw).length === 0) throw await unknownBlueprint(ctx, stack);
  const config = parseStackConfig(raw, stack);
  if (config.kind !== "blueprint")
    throw new UserError(`Stack ${stack} is a ${config.kind} stack, not a blueprint.`, { code: "NotABlueprint" });
  assertSameLandingZone(ctx, stack, config.landingZoneStack);
  // The disks a failback returned are in the store, not in the tracked file: read through it.
  return { ...config, blueprint: await currentBlueprint(ctx, config.blueprint) };
}

/** The error for a name that is no blueprint stack: it lists the known blueprints (exit 2). */
export async function unknownBlueprint(ctx: Pick<RunbookContext, "deployer">, stack: string): Promise<UserError> {
  const known = (await ctx.deployer.stacks()).filter((s) => s.kind === "blueprint").map((s) => s.name);
  const list = known.length ? `The known blueprints: ${known.join(", ")}.` : "There are no blueprints yet.";
  return new UserError(
    `There is no blueprint ${stack}. ${list} A blueprint is a stack config file ` +
      `(stacks/Pulumi.<name>.yaml with ferry:kind: blueprint; see stacks/README.md).`,
    { code: "UnknownBlueprint", details: { known } },
  );
}

/** Refuses a blueprint stack whose landing zone is not the one ferry.json names, saying both. */
export function assertSameLandingZone(
  ctx: Pick<RunbookContext, "config">,
  stack: string,
  landingZoneStack: string,
): void {
  if (landingZoneStack === ctx.config.landingZoneStack) return;
  throw new UserError(
    `Stack ${stack} fails over into the landing zone ${landingZoneStack} (its ferry:landingZoneStack), but ` +
      `ferry.json's landingZoneStack is ${ctx.config.landingZoneStack}: the runbooks would use another ` +
      "landing zone's appliance and resource group. Make the two name the same stack.",
    { code: "LandingZoneMismatch" },
  );
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

/** A disk's short role, as metrics and JSON name it: `os`, or `lun-<n>` for a data disk (its LUN on the VM). */
export function diskRole(d: { role: "os" | "data"; lun?: number | undefined }): string {
  return d.role === "os" ? "os" : `lun-${d.lun}`;
}

export interface LandingZoneFacts {
  subscriptionId: string;
  /** The DR region. */
  location: string;
  resourceGroupName: string;
  targetSubnetId: string;
  testSubnetId: string;
  applianceId: string;
  /** ferry's snapshot group of each source region (region → group name, in `subscriptionId`). */
  snapshotResourceGroups: Record<string, string>;
}

/**
 * What runbooks need from the outputs of the landing-zone stack ferry.json names. The runbooks share
 * the landing zone's subscription (ferry.json's azure.subscriptionId, the landing zone stack's
 * azure-native:subscriptionId) and, signed in with an identity, its source-state table with the
 * appliance: each is configured in both places, and a mismatch names both.
 */
export async function landingZone(ctx: {
  config: Pick<FerryConfig, "azure" | "stateStore" | "landingZoneStack">;
  deployer: Pick<Deployer, "outputs">;
}): Promise<LandingZoneFacts> {
  const stack = ctx.config.landingZoneStack;
  const out = parseLandingZoneOutputs(await ctx.deployer.outputs(stack), stack);
  const configured = ctx.config.azure.subscriptionId;
  if (configured.toLowerCase() !== out.subscriptionId.toLowerCase()) {
    throw new UserError(
      `ferry.json's azure.subscriptionId is ${configured}, but the landing-zone stack ${stack} is in ` +
        `${out.subscriptionId} (that stack's azure-native:subscriptionId): the runbooks would look for its ` +
        "appliance, disks and VMs in the wrong subscription. Set the same subscription in both.",
      { code: "SubscriptionMismatch" },
    );
  }
  // A connection string (Azurite, locally) names no account to compare: only an identity's table is checked.
  const table = ctx.config.stateStore;
  if (table.kind === "identity" && !sameTable(table, out.stateStore)) {
    throw new UserError(
      `ferry.json's stateStore is table ${table.tableName} at ${table.url}, but the landing-zone stack ${stack}'s ` +
        `is ${out.stateStore.tableName} at ${out.stateStore.url} (its ferry:stateStore): the runbooks and the ` +
        "appliance's sync would not share their sources. Set ferry.json's stateStore to the landing zone's.",
      { code: "StateStoreMismatch" },
    );
  }
  return {
    subscriptionId: out.subscriptionId,
    location: out.location,
    resourceGroupName: out.resourceGroupName,
    targetSubnetId: out.targetSubnetId,
    testSubnetId: out.testSubnetId,
    applianceId: out.appliance.vmId,
    snapshotResourceGroups: out.snapshotResourceGroups,
  };
}

/** Whether two table endpoints and names are one table (hosts and table names compare case-insensitively). */
function sameTable(a: { url: string; tableName: string }, b: { url: string; tableName: string }): boolean {
  return (
    new URL(a.url).host.toLowerCase() === new URL(b.url).host.toLowerCase() &&
    a.tableName.toLowerCase() === b.tableName.toLowerCase()
  );
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
