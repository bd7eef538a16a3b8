import type { DiskArgs, SnapshotArgs, VirtualMachineArgs } from "@pulumi/azure-native/compute";
import type { NetworkInterfaceArgs, PublicIPAddressArgs } from "@pulumi/azure-native/network";
import type { ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";
import type { Unwrap } from "@pulumi/pulumi";
import { TAGS } from "../stacks/plan";

// What the rules share: reading ferry's tags, recognising its roles and resource types, and reading
// values that the engine may not know yet. Rules only use the documented CrossGuard args (type,
// props, urn, name, getConfig; resources and their dependencies for stack rules), never
// `notApplicable`, so the local deployer can call them with plain objects.
//
// Rules match a resource by its type token, not with isType/asType and azure-native's classes:
// those take the class only to read its static `__pulumiType` and compare it with the resource's
// type, which is what `isAzureType` does, and importing the classes would make @pulumi/azure-native
// (hundreds of megabytes) a dependency of the published pack. Only its types are imported here.

export { TAGS };

/** `ferry-role` values of what a blueprint stack declares. */
export type FerryRole = "staging" | "recovered" | "test";

/** Resource props as CrossGuard hands them (inputs, or outputs for stack rules). */
export type Props = Record<string, unknown>;

/** A value read from props: known, or not known yet (see {@link tryRead}). */
export type Read<T> = { known: true; value: T } | { known: false };

/**
 * Runs `read` and returns its value, or `{ known: false }` when the engine does not know the value
 * yet: during a preview, CrossGuard's props throw UnknownValueError on reading an output of a
 * resource that is still to be created (an id, typically).
 */
export function tryRead<T>(read: () => T): Read<T> {
  try {
    return { known: true, value: read() };
  } catch (e) {
    // Matched by name: the class is internal to @pulumi/policy.
    if (e instanceof Error && e.constructor.name === "UnknownValueError") return { known: false };
    throw e;
  }
}

/** The value `read` returns, or `undefined` when it is not known yet (rules then cannot tell). */
export function known<T>(read: () => T): T | undefined {
  const r = tryRead(read);
  return r.known ? r.value : undefined;
}

/** The string tags of a resource; values that are not (yet) strings are left out. */
export function tagsOf(props: Props): Record<string, string> {
  const tags = known(() => props.tags);
  const out: Record<string, string> = {};
  if (typeof tags !== "object" || tags === null) return out;
  for (const key of Object.keys(tags)) {
    const value = known(() => (tags as Record<string, unknown>)[key]);
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

/** A tag's value, trimmed; `undefined` when absent or empty. */
export function tagOf(props: Props, key: string): string | undefined {
  const value = tagsOf(props)[key]?.trim();
  return value ? value : undefined;
}

export function roleOf(props: Props): string | undefined {
  return tagOf(props, TAGS.role);
}

/** A resource a failover or a drill creates (`ferry-role` recovered or test). */
export function isRecovered(props: Props): boolean {
  const role = roleOf(props);
  return role === "recovered" || role === "test";
}

/**
 * The Pulumi type tokens of the azure-native resources the rules judge: each equals the static
 * `__pulumiType` of its azure-native class (the token CrossGuard's isType compares).
 */
export const AZURE_TYPES = {
  virtualMachine: "azure-native:compute:VirtualMachine",
  disk: "azure-native:compute:Disk",
  snapshot: "azure-native:compute:Snapshot",
  networkInterface: "azure-native:network:NetworkInterface",
  publicIpAddress: "azure-native:network:PublicIPAddress",
} as const;

/** A type token of {@link AZURE_TYPES}. */
export type AzureType = (typeof AZURE_TYPES)[keyof typeof AZURE_TYPES];

/** The props of each type as a resource rule sees them: the class's args, outputs unwrapped. */
export interface AzureProps {
  "azure-native:compute:VirtualMachine": Unwrap<VirtualMachineArgs>;
  "azure-native:compute:Disk": Unwrap<DiskArgs>;
  "azure-native:compute:Snapshot": Unwrap<SnapshotArgs>;
  "azure-native:network:NetworkInterface": Unwrap<NetworkInterfaceArgs>;
  "azure-native:network:PublicIPAddress": Unwrap<PublicIPAddressArgs>;
}

/** Whether a resource (a rule's args, or a stack rule's resource) is of this type: what `isType(cls)` answers. */
export function isAzureType(resource: { type: string }, type: AzureType): boolean {
  return resource.type === type;
}

/** A resource's props typed as this type's, or `undefined` for another type: what `asType(cls)` answers. */
export function asAzureType<T extends AzureType>(
  resource: { type: string; props: Props },
  type: T,
): AzureProps[T] | undefined {
  return resource.type === type ? (resource.props as AzureProps[T]) : undefined;
}

/** The types a failover or a drill creates: VMs, their NICs, disks and the snapshots those are made from. */
export const RECOVERED_TYPES: readonly AzureType[] = [
  AZURE_TYPES.virtualMachine,
  AZURE_TYPES.disk,
  AZURE_TYPES.snapshot,
  AZURE_TYPES.networkInterface,
];

/** A recovered VM, NIC, disk or snapshot, as a resource rule sees it (its type and its `ferry-role` tag). */
export function isRecoveredResource(args: Pick<ResourceValidationArgs, "type" | "props">): boolean {
  return RECOVERED_TYPES.some((type) => isAzureType(args, type)) && isRecovered(args.props);
}

/** A staging disk (`ferry-role: staging`). */
export function isStaging(props: Props): boolean {
  return roleOf(props) === "staging";
}

/** ARM's canonical region name: "West Europe" → "westeurope". */
export function canonicalRegion(region: string): string {
  return region.replace(/\s+/g, "").toLowerCase();
}

/** How messages name a resource: `Disk 'web1-os-staging'`. */
export function label(resource: { type: string; name: string }): string {
  const kind = resource.type.split(":").pop() ?? resource.type;
  return `${kind} '${resource.name}'`;
}

/**
 * `validateResourceOfType` without `notApplicable`: runs `validate` on resources of `type` with
 * their typed props and does nothing for other types. Carries the type, as CrossGuard's helper
 * does (`__pulumiType`), so the engine skips other types without calling it.
 */
export function ofType<T extends AzureType>(
  type: T,
  validate: (props: AzureProps[T], args: ResourceValidationArgs, report: ReportViolation) => void | Promise<void>,
): ResourceValidation {
  const fn: ResourceValidation = (args, report) => {
    const props = asAzureType(args, type);
    if (props === undefined) return;
    return validate(props, args, report);
  };
  return Object.assign(fn, { __pulumiType: type });
}
