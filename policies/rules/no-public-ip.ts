import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AZURE_TYPES, asAzureType, isAzureType, known, label, tryRead } from "../resources";

const howToReach = "Reach DR resources through the target network (VPN, ExpressRoute, Azure Bastion) instead.";

/**
 * `ferry-no-public-ip`: nothing in a ferry stack (landing zone included) is reachable from the
 * internet: no public IP address resources, no NIC IP configuration with a public IP.
 */
export const noPublicIp: ResourceValidationPolicy = {
  name: "ferry-no-public-ip",
  description:
    "No public IP addresses in a ferry stack: no PublicIPAddress resources, and no network interface (or VM network interface configuration) with a public IP.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (isAzureType(args, AZURE_TYPES.publicIpAddress)) {
      report(
        `${label(args)} is a public IP address, and ferry's DR resources are never exposed to the internet. Remove it. ${howToReach}`,
      );
      return;
    }
    const nic = asAzureType(args, AZURE_TYPES.networkInterface);
    if (nic !== undefined) {
      for (const [i, ipConfiguration] of (known(() => nic.ipConfigurations) ?? []).entries()) {
        // An unknown value here is still a public IP being set.
        if (hasValue(() => ipConfiguration.publicIPAddress)) {
          const name = known(() => ipConfiguration.name) ?? `#${i}`;
          report(
            `${label(args)} has a public IP address on IP configuration '${name}'. Remove publicIPAddress from it. ${howToReach}`,
          );
        }
      }
      return;
    }
    const vm = asAzureType(args, AZURE_TYPES.virtualMachine);
    if (vm !== undefined) {
      for (const nicConfiguration of known(() => vm.networkProfile?.networkInterfaceConfigurations) ?? []) {
        for (const [i, ipConfiguration] of (known(() => nicConfiguration.ipConfigurations) ?? []).entries()) {
          if (hasValue(() => ipConfiguration.publicIPAddressConfiguration)) {
            const name = known(() => ipConfiguration.name) ?? `#${i}`;
            report(
              `${label(args)} gives its network interface configuration '${known(() => nicConfiguration.name) ?? "?"}' a public IP (IP configuration '${name}'). Remove publicIPAddressConfiguration from it. ${howToReach}`,
            );
          }
        }
      }
    }
  },
};

/** True when the value is set, or is an output not known yet (it will be set). */
function hasValue(read: () => unknown): boolean {
  const r = tryRead(read);
  return !r.known || (r.value !== undefined && r.value !== null);
}
