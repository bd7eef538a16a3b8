import type { Ctx } from "../context";
import { EmulatorError } from "../errors";
import { canonicalRegion, REGION_PAIRS } from "../regions";

/**
 * The api-versions the emulator serves, per resource type: exactly the published versions that the SDK clients of
 * ferry and of its tests send (`emulator/test/conformance/client-versions.test.ts` reads them from the installed
 * packages and fails when one is not served). Each is a folder of azure-rest-api-specs, under
 * `specification/`. Azure serves older versions too: the emulator refuses them, as it refuses a version that never
 * existed, because it answers only with the schemas of these.
 */
const COMPUTE_RP = [
  // compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2025-04-01 (virtualMachine.json, …): the last
  // AutoRest @azure/arm-compute (23.3), whose specs the conformance tier checks against.
  "2025-04-01",
  // …/ComputeRP/stable/2026-03-01 (ComputeRP.json): the modular @azure/arm-compute 24.x ferry uses.
  "2026-03-01",
] as const;

// compute/resource-manager/Microsoft.Compute/DiskRP/stable/2025-01-02 (disk.json, snapshot.json): both clients.
const DISK_RP = ["2025-01-02"] as const;

// network/resource-manager/Microsoft.Network/stable/2025-05-01 (virtualNetwork.json, networkInterface.json, …).
const NETWORK_RP = ["2025-05-01"] as const;

// resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01 (resources.json).
const RESOURCES_RP = ["2025-04-01"] as const;

/**
 * Private DNS: its own versions, though its types are under Microsoft.Network. 2024-06-01, which @azure/arm-privatedns
 * 4.x sends (the example hooks), and 2020-06-01, which its last AutoRest build (3.2.0) sends: the conformance tier's
 * specs. privatedns/resource-manager/Microsoft.Network/PrivateDns/stable/{2020-06-01,2024-06-01}.
 */
const PRIVATE_DNS_RP = ["2020-06-01", "2024-06-01"] as const;

/** How ARM refuses an api-version a type does not serve. */
type Refusal = "NoRegisteredProviderFound" | "InvalidApiVersionParameter";

interface ServedType {
  /** The type as ARM names it in its error, without the provider (`virtualNetworks/subnets`). */
  type: string;
  versions: readonly string[];
  /**
   * Resource-provider types are refused by ARM's provider lookup (`NoRegisteredProviderFound`); ARM's own
   * types (resource groups, resources) by its api-version check (`InvalidApiVersionParameter`).
   */
  refusal: Refusal;
}

const compute = (type: string, versions: readonly string[] = COMPUTE_RP): ServedType => ({
  type,
  versions,
  refusal: "NoRegisteredProviderFound",
});
const network = (type: string): ServedType => ({ type, versions: NETWORK_RP, refusal: "NoRegisteredProviderFound" });
const resources = (type: string): ServedType => ({
  type,
  versions: RESOURCES_RP,
  refusal: "InvalidApiVersionParameter",
});

/** By operation group, the part of an operation id before `_`. */
const BY_OPERATION_GROUP: Record<string, ServedType> = {
  ResourceGroups: resources("resourceGroups"),
  Resources: resources("resources"),
  VirtualNetworks: network("virtualNetworks"),
  Subnets: network("virtualNetworks/subnets"),
  NetworkSecurityGroups: network("networkSecurityGroups"),
  NetworkInterfaces: network("networkInterfaces"),
  PrivateZones: { type: "privateDnsZones", versions: PRIVATE_DNS_RP, refusal: "NoRegisteredProviderFound" },
  RecordSets: { type: "privateDnsZones", versions: PRIVATE_DNS_RP, refusal: "NoRegisteredProviderFound" },
  VirtualNetworkLinks: {
    type: "privateDnsZones/virtualNetworkLinks",
    versions: PRIVATE_DNS_RP,
    refusal: "NoRegisteredProviderFound",
  },
  Disks: compute("disks", DISK_RP),
  Snapshots: compute("snapshots", DISK_RP),
  VirtualMachines: compute("virtualMachines"),
  Usage: compute("locations/usages"),
  VirtualMachineSizes: compute("locations/vmSizes"),
  // compute/resource-manager/Microsoft.Compute/Skus/stable/2021-07-01 (skus.json): its only published version.
  ResourceSkus: compute("skus", ["2021-07-01"]),
};

/**
 * Long-running operations are polled with the api-version of the request that started them (the emulator
 * puts it in `Azure-AsyncOperation` and `Location`), so their type serves the union of its provider's.
 */
const OPERATIONS: Record<string, ServedType> = {
  "microsoft.compute": compute("locations/operations", [...DISK_RP, ...COMPUTE_RP].sort()),
  "microsoft.network": {
    type: "locations/operations",
    versions: [...NETWORK_RP, ...PRIVATE_DNS_RP].sort(),
    refusal: "NoRegisteredProviderFound",
  },
};

/** The served type of an ARM request, or undefined for a request the router did not match. */
function servedType(ctx: Ctx, params: Record<string, string>): ServedType | undefined {
  if (ctx.operationId.startsWith("Operations_")) return OPERATIONS[(params.provider ?? "").toLowerCase()];
  return BY_OPERATION_GROUP[ctx.operationId.split("_")[0]!];
}

/** The location ARM names in its refusal: the request's region, else the resource group's, else none. */
function requestLocation(ctx: Ctx, params: Record<string, string>): string {
  const body = ctx.body as { location?: unknown } | undefined;
  const fromBody = typeof body?.location === "string" ? canonicalRegion(body.location) : undefined;
  const fromPath = params.location ? canonicalRegion(params.location) : undefined;
  const group = params.resourceGroupName ? ctx.emu.state.resourceGroup(params.resourceGroupName) : undefined;
  return fromBody ?? fromPath ?? group?.location ?? "";
}

/**
 * Refuses an api-version the request's resource type does not serve, with ARM's code and message. Called
 * once the route is known and the body parsed (the body's location is part of the message).
 */
export function checkApiVersion(ctx: Ctx, params: Record<string, string>): void {
  const version = ctx.url.searchParams.get("api-version") ?? "";
  const served = servedType(ctx, params);
  if (!served || served.versions.includes(version)) return;
  const supported = [...served.versions].reverse().join(", ");
  if (served.refusal === "InvalidApiVersionParameter") {
    throw new EmulatorError(
      400,
      "InvalidApiVersionParameter",
      `The api-version '${version}' is invalid. The supported versions are '${supported}'.`,
    );
  }
  throw new EmulatorError(
    400,
    "NoRegisteredProviderFound",
    `No registered resource provider found for location '${requestLocation(ctx, params)}' and API version ` +
      `'${version}' for type '${served.type}'. The supported api-versions are '${supported}'. ` +
      `The supported locations are '${Object.keys(REGION_PAIRS).join(", ")}'.`,
  );
}

/** The api-versions the emulator serves for a resource type's operation group (e.g. `Disks`), newest last. */
export function servedApiVersions(operationGroup: string): readonly string[] {
  return BY_OPERATION_GROUP[operationGroup]?.versions ?? [];
}
