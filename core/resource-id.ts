import { UserError } from "./errors";
import { redactSecrets } from "./redact";

/** The resource a nested resource lives under, e.g. the virtual network of a subnet. */
export interface ResourceIdParent {
  /** Resource type segment, e.g. "virtualNetworks". */
  type: string;
  name: string;
  /** Further up, for resources nested more than one level. */
  parent?: ResourceIdParent;
}

/** The parts of an ARM resource id. */
export interface ResourceId {
  subscriptionId: string;
  resourceGroup: string;
  /** Provider namespace as written in the id, e.g. "Microsoft.Compute". */
  provider: string;
  /** Last resource type segment, e.g. "disks" or "subnets". */
  type: string;
  name: string;
  /** Set for nested resources only. */
  parent?: ResourceIdParent;
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const expectedForm =
  "/subscriptions/<subscription id>/resourceGroups/<resource group>/providers/<Namespace>/<type>/<name>";

/**
 * Splits an ARM resource id into its parts. The fixed segments (`subscriptions`,
 * `resourceGroups`, `providers`) match case-insensitively, as ARM does. Throws a
 * {@link UserError} with code "InvalidResourceId" on anything else.
 */
export function parseResourceId(id: string): ResourceId {
  const fail = (problem: string): never => {
    throw new UserError(
      `"${redactSecrets(id)}" is not an Azure resource id: ${problem}. Use the form ${expectedForm}, ` +
        "as shown by `az resource show --query id`.",
      { code: "InvalidResourceId", details: { id: redactSecrets(id) } },
    );
  };
  if (!id.startsWith("/")) fail("it must start with /subscriptions/");
  const segments = id.replace(/\/$/, "").split("/").slice(1);
  if (segments.some((s) => s.trim() === "")) fail("it has an empty segment (a doubled or stray slash)");
  const [subscriptions, subscriptionId, resourceGroups, resourceGroup, providers, provider, ...rest] = segments;
  if (subscriptions?.toLowerCase() !== "subscriptions" || subscriptionId === undefined) {
    fail("it must start with /subscriptions/<subscription id>");
  }
  if (!guid.test(subscriptionId!)) fail(`the subscription id "${subscriptionId}" is not a GUID`);
  if (resourceGroups?.toLowerCase() !== "resourcegroups" || resourceGroup === undefined) {
    fail("the subscription must be followed by /resourceGroups/<resource group>");
  }
  if (providers?.toLowerCase() !== "providers" || provider === undefined || rest.length === 0) {
    fail("the resource group must be followed by /providers/<Namespace>/<type>/<name>");
  }
  if (rest.length % 2 !== 0) fail("every resource type must be followed by a name");
  if (rest.some((s) => s.toLowerCase() === "providers")) {
    fail("extension resources (a second /providers/ segment) are not supported here");
  }

  let parent: ResourceIdParent | undefined;
  for (let i = 0; i < rest.length - 2; i += 2) {
    parent =
      parent === undefined ? { type: rest[i]!, name: rest[i + 1]! } : { type: rest[i]!, name: rest[i + 1]!, parent };
  }
  const parsed: ResourceId = {
    subscriptionId: subscriptionId!,
    resourceGroup: resourceGroup!,
    provider: provider!,
    type: rest[rest.length - 2]!,
    name: rest[rest.length - 1]!,
  };
  if (parent !== undefined) parsed.parent = parent;
  return parsed;
}

/** Builds the ARM id for the given parts; the inverse of {@link parseResourceId}. */
export function formatResourceId(id: ResourceId): string {
  const chain: string[] = [];
  for (let p = id.parent; p !== undefined; p = p.parent) chain.unshift(p.type, p.name);
  return [
    "",
    "subscriptions",
    id.subscriptionId,
    "resourceGroups",
    id.resourceGroup,
    "providers",
    id.provider,
    ...chain,
    id.type,
    id.name,
  ].join("/");
}

/** `"Microsoft.Compute/disks"`, or with parents `"Microsoft.Network/virtualNetworks/subnets"`. */
export function resourceTypeOf(id: ResourceId): string {
  const types: string[] = [];
  for (let p = id.parent; p !== undefined; p = p.parent) types.unshift(p.type);
  return [id.provider, ...types, id.type].join("/");
}

/** The last name of an ARM id: the resource's own name. */
export function nameOf(id: string): string {
  return parseResourceId(id).name;
}

/** True when both ids name the same resource: ARM ids compare case-insensitively. */
export function sameResourceId(a: string, b: string): boolean {
  return normalizeResourceId(a) === normalizeResourceId(b);
}

/** A key for maps and sets of resource ids: lower case, no trailing slash. */
export function normalizeResourceId(id: string): string {
  return id.replace(/\/$/, "").toLowerCase();
}
