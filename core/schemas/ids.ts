import { z } from "zod";
import { parseResourceId, resourceTypeOf } from "../resource-id";
import { isUserError } from "../errors";

/**
 * A string that must be the ARM id of a resource of `resourceType` (e.g. "Microsoft.Compute/disks";
 * compared case-insensitively, as ARM does). `showCommand` is the az command that prints such an
 * id, for the hint. Default: `az resource list --resource-type <resourceType> --query [].id`.
 */
export function armResourceId(
  resourceType: string,
  showCommand = `az resource list --resource-type ${resourceType} --query [].id`,
) {
  const [namespace, ...types] = resourceType.split("/");
  const form = `/subscriptions/<subscription id>/resourceGroups/<resource group>/providers/${namespace}/${types.map((t) => `${t}/<name>`).join("/")}`;
  return z.string().superRefine((value, ctx) => {
    let problem: string | undefined;
    try {
      const actual = resourceTypeOf(parseResourceId(value));
      if (actual.toLowerCase() !== resourceType.toLowerCase())
        problem = `is the id of a ${actual}, not of a ${resourceType}`;
    } catch (e) {
      if (!isUserError(e)) throw e;
      problem = `is not the ARM id of a ${resourceType}`;
    }
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", message: `${problem}. Use the form ${form} (\`${showCommand}\`)` });
    }
  });
}

/** ARM id of a managed disk. */
export const diskId = armResourceId("Microsoft.Compute/disks", "az disk show --query id -o tsv");
/** ARM id of a (managed disk) snapshot. */
export const snapshotId = armResourceId("Microsoft.Compute/snapshots", "az snapshot show --query id -o tsv");
/** ARM id of a virtual machine. */
export const virtualMachineId = armResourceId("Microsoft.Compute/virtualMachines", "az vm show --query id -o tsv");
/** ARM id of a subnet of a virtual network. */
export const subnetId = armResourceId(
  "Microsoft.Network/virtualNetworks/subnets",
  "az network vnet subnet show --query id -o tsv",
);
