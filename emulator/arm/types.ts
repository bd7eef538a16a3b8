import type { ResourceRecord } from "../model";

/** ARM resource types of the emulator's records. */
export const RESOURCE_TYPES: Record<ResourceRecord["kind"], string> = {
  disk: "Microsoft.Compute/disks",
  snapshot: "Microsoft.Compute/snapshots",
  vm: "Microsoft.Compute/virtualMachines",
  nic: "Microsoft.Network/networkInterfaces",
  vnet: "Microsoft.Network/virtualNetworks",
  nsg: "Microsoft.Network/networkSecurityGroups",
  privateDnsZone: "Microsoft.Network/privateDnsZones",
};
