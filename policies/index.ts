import { PolicyPack } from "@pulumi/policy";
import { ferryPolicies } from "./pack";

// The pack's entry: built into dist/index.cjs (build.ts), the package.json main that the Pulumi
// engine runs (`pulumi up --policy-pack policies`, or a copy installed from Pulumi Cloud).
// Constructing the PolicyPack starts its gRPC server, so nothing else imports this file: import
// ./pack instead.
new PolicyPack("ferry", {
  description:
    "ferry's gates on every pulumi up of a DR stack: a fresh, passed precheck; recovery only in the target region and subnets; no public IPs; disks at least their source size; drills never attach staging disks; required tags.",
  policies: ferryPolicies,
});
