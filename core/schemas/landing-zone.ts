import { z } from "zod";
import { isUserError, UserError } from "../errors";
import { parseWith } from "../validate";
import { azureRegion, azureTableName, guid, resourceGroupName } from "./fields";
import { subnetId, virtualMachineId } from "./ids";
import { isRecord } from "./refine";

/**
 * What a landing-zone stack exports (its `outputs` stack output) for the blueprint stacks of its
 * region, which read it through a StackReference, and for the runbooks: the one source of where
 * those blueprints fail over. Other outputs pass through unread.
 */
export const LandingZoneOutputsSchema = z.object({
  /** The subscription it is deployed to (its azure-native provider's). */
  subscriptionId: guid,
  /** The DR region. */
  location: azureRegion,
  /** The DR resource group: staging disks, recovered VMs, the appliance. */
  resourceGroupName,
  /** The subnet recovered VMs (and the appliance) join. */
  targetSubnetId: subnetId,
  /** The isolated subnet of test failovers (drills). */
  testSubnetId: subnetId,
  appliance: z.object({ vmId: virtualMachineId }),
  /** The source-state table the appliance's sync and the runbooks share. */
  stateStore: z.object({ url: z.url(), tableName: azureTableName }),
  /**
   * ferry's snapshot group of each source region (region → group name, in `subscriptionId`): where
   * the sync keeps the snapshots of that region's disks. None from a landing zone deployed before
   * they existed: enabling DR then names `ferry:snapshotResourceGroups`.
   */
  snapshotResourceGroups: z.record(azureRegion, resourceGroupName).default({}),
});
export type LandingZoneOutputs = z.output<typeof LandingZoneOutputsSchema>;

/**
 * A landing-zone stack's outputs, checked. None at all means it is not deployed; a missing or
 * malformed one means it was deployed by another version of ferry: either way, deploying it fixes it.
 */
export function parseLandingZoneOutputs(outputs: unknown, stack: string): LandingZoneOutputs {
  const deploy = `pulumi up -s ${stack}`;
  if (!isRecord(outputs) || Object.keys(outputs).length === 0) {
    throw new UserError(`The landing-zone stack ${stack} has no outputs: deploy it first (${deploy}).`, {
      code: "NoLandingZone",
    });
  }
  try {
    return parseWith(LandingZoneOutputsSchema, outputs, { what: `outputs of the landing-zone stack ${stack}` });
  } catch (e) {
    if (!isUserError(e)) throw e;
    throw new UserError(`${e.message}\nThe landing zone's program makes them: deploy it again (${deploy}).`, {
      code: "InvalidLandingZoneOutputs",
      cause: e,
      ...(e.details ? { details: e.details } : {}),
    });
  }
}
