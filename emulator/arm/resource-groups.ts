import { sendEmpty, sendJson, type Ctx } from "../context";
import { EmulatorError, resourceGroupNotFound } from "../errors";
import type { ResourceGroupRecord } from "../model";
import type { Router } from "../http/router";
import { answerAccepted, listBody, requireLocation, requireSameLocation, requireSubscription } from "./common";
import { optTags } from "./input";
import { validateName } from "./names";
import { deleteDiskRecord } from "./disks";
import { deleteSnapshotRecord } from "./snapshots";
import { deleteVmRecord } from "./vms";
import { RESOURCE_TYPES } from "./types";

const RG = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}";

function serialize(rg: ResourceGroupRecord) {
  return {
    id: rg.id,
    name: rg.name,
    type: "Microsoft.Resources/resourceGroups",
    location: rg.location,
    tags: rg.tags,
    properties: { provisioningState: rg.provisioningState },
  };
}

export function registerResourceGroups(router: Router<Ctx>): void {
  router.add("PUT", RG, "ResourceGroups_CreateOrUpdate", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    const name = p.resourceGroupName!;
    validateName("resourceGroup", name);
    const existing = ctx.emu.state.resourceGroup(name);
    if (existing?.provisioningState === "Deleting") {
      throw new EmulatorError(
        409,
        "ResourceGroupBeingDeleted",
        `The resource group '${name}' is in deprovisioning state and cannot perform this operation.`,
      );
    }
    if (existing) requireSameLocation(existing, ctx.body);
    const location = requireLocation(ctx.body, "resourceGroups");
    ctx.touchRegion(location);
    const rg: ResourceGroupRecord = existing ?? {
      kind: "resourceGroup",
      id: `/subscriptions/${ctx.emu.subscriptionId}/resourceGroups/${name}`,
      name,
      location,
      tags: {},
      provisioningState: "Succeeded",
    };
    rg.tags = optTags(ctx.body) ?? (existing ? rg.tags : {});
    ctx.emu.state.resourceGroups.set(name.toLowerCase(), rg);
    ctx.mutated = true;
    sendJson(ctx, existing ? 200 : 201, serialize(rg));
  });

  router.add("GET", RG, "ResourceGroups_Get", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    const rg = ctx.emu.state.resourceGroup(p.resourceGroupName!);
    if (!rg) throw resourceGroupNotFound(p.resourceGroupName!);
    ctx.touchRegion(rg.location);
    sendJson(ctx, 200, serialize(rg));
  });

  router.add("HEAD", RG, "ResourceGroups_CheckExistence", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    sendEmpty(ctx, ctx.emu.state.resourceGroup(p.resourceGroupName!) ? 204 : 404);
  });

  router.add("GET", "/subscriptions/{subscriptionId}/resourcegroups", "ResourceGroups_List", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    sendJson(ctx, 200, listBody([...ctx.emu.state.resourceGroups.values()].map(serialize)));
  });

  router.add("DELETE", RG, "ResourceGroups_Delete", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    const rg = ctx.emu.state.resourceGroup(p.resourceGroupName!);
    if (!rg) throw resourceGroupNotFound(p.resourceGroupName!);
    ctx.touchRegion(rg.location);
    deleteResourceGroupContents(ctx, rg);
    rg.provisioningState = "Deleting";
    const op = ctx.emu.startOperation(ctx, {
      provider: "Microsoft.Resources",
      location: rg.location,
      completion: { kind: "resourceGroupDeleted", name: rg.name },
    });
    answerAccepted(ctx, op);
  });

  router.add("GET", `${RG}/resources`, "Resources_ListByResourceGroup", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    if (!ctx.emu.state.resourceGroup(p.resourceGroupName!)) throw resourceGroupNotFound(p.resourceGroupName!);
    const all = [...ctx.emu.state.resources.values()].filter(
      (r) => r.resourceGroup.toLowerCase() === p.resourceGroupName!.toLowerCase(),
    );
    sendJson(
      ctx,
      200,
      listBody(
        all.map((r) => ({ id: r.id, name: r.name, type: RESOURCE_TYPES[r.kind], location: r.location, tags: r.tags })),
      ),
    );
  });

  router.add("GET", "/subscriptions/{subscriptionId}/resources", "Resources_List", (ctx, p) => {
    requireSubscription(ctx, p.subscriptionId!);
    const all = [...ctx.emu.state.resources.values()];
    sendJson(
      ctx,
      200,
      listBody(
        all.map((r) => ({ id: r.id, name: r.name, type: RESOURCE_TYPES[r.kind], location: r.location, tags: r.tags })),
      ),
    );
  });
}

/**
 * Deletes everything in a resource group, VMs first so their disks and NICs come free. Refused
 * when a disk or NIC of the group is attached to a VM in another group.
 */
function deleteResourceGroupContents(ctx: Ctx, rg: ResourceGroupRecord): void {
  const state = ctx.emu.state;
  const inGroup = (r: { resourceGroup: string }) => r.resourceGroup.toLowerCase() === rg.name.toLowerCase();
  const vms = state.list("vm").filter(inGroup);
  const vmIds = new Set(vms.map((v) => v.id.toLowerCase()));
  for (const disk of state.list("disk").filter(inGroup)) {
    const outside = disk.managedBy.find((id) => !vmIds.has(id.toLowerCase()));
    if (outside) {
      throw new EmulatorError(
        409,
        "ResourceGroupDeletionBlocked",
        `Deletion of resource group '${rg.name}' failed: disk '${disk.name}' is attached to VM '${outside}' in another resource group. Detach it first.`,
      );
    }
  }
  for (const nic of state.list("nic").filter(inGroup)) {
    if (nic.virtualMachineId && !vmIds.has(nic.virtualMachineId.toLowerCase())) {
      throw new EmulatorError(
        409,
        "ResourceGroupDeletionBlocked",
        `Deletion of resource group '${rg.name}' failed: network interface '${nic.name}' is used by VM '${nic.virtualMachineId}' in another resource group.`,
      );
    }
  }
  // A vnet or NSG of the group still used from another group cannot go either (Azure:
  // InUseSubnet/InUseNetworkSecurityGroup).
  const nicsOutside = state.list("nic").filter((n) => !inGroup(n));
  for (const vnet of state.list("vnet").filter(inGroup)) {
    const prefix = `${vnet.id.toLowerCase()}/subnets/`;
    const user = nicsOutside.find((n) => n.ipConfigurations.some((c) => c.subnetId.toLowerCase().startsWith(prefix)));
    if (user) {
      throw new EmulatorError(
        409,
        "ResourceGroupDeletionBlocked",
        `Deletion of resource group '${rg.name}' failed: a subnet of virtual network '${vnet.name}' is used by network interface '${user.id}' in another resource group.`,
      );
    }
  }
  const vnetsOutside = state.list("vnet").filter((v) => !inGroup(v));
  for (const nsg of state.list("nsg").filter(inGroup)) {
    const key = nsg.id.toLowerCase();
    const user =
      nicsOutside.find((n) => n.networkSecurityGroupId?.toLowerCase() === key)?.id ??
      vnetsOutside.find((v) => v.subnets.some((s) => s.networkSecurityGroupId?.toLowerCase() === key))?.id;
    if (user) {
      throw new EmulatorError(
        409,
        "ResourceGroupDeletionBlocked",
        `Deletion of resource group '${rg.name}' failed: network security group '${nsg.name}' is used by '${user}' in another resource group.`,
      );
    }
  }
  for (const vm of vms) deleteVmRecord(ctx, vm, { forceDeleteDisks: false });
  for (const r of [...state.resources.values()].filter(inGroup)) {
    if (r.kind === "disk") deleteDiskRecord(ctx, r);
    else if (r.kind === "snapshot") deleteSnapshotRecord(ctx, r);
    else state.delete(r.id);
  }
  ctx.mutated = true;
}
