import * as compute from "@pulumi/azure-native/compute";
import * as network from "@pulumi/azure-native/network";
import type { ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";
import type { CustomResourceOptions, Resource, Unwrap } from "@pulumi/pulumi";
import { TAGS } from "../stacks/plan";

// What the rules share: reading ferry's tags, recognising its roles, and reading values that the
// engine may not know yet. Rules only use the documented CrossGuard args (type, props, urn, name,
// isType, asType, getConfig; resources and their dependencies for stack rules), never
// `notApplicable`, so the local deployer can call them with plain objects.

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

/** The types a failover or a drill creates: VMs, their NICs, disks and the snapshots those are made from. */
export const RECOVERED_TYPES: (
  typeof compute.VirtualMachine | typeof compute.Disk | typeof compute.Snapshot | typeof network.NetworkInterface
)[] = [compute.VirtualMachine, compute.Disk, compute.Snapshot, network.NetworkInterface];

/** A recovered VM, NIC, disk or snapshot, as a resource rule sees it (its type and its `ferry-role` tag). */
export function isRecoveredResource(args: Pick<ResourceValidationArgs, "isType" | "props">): boolean {
  return RECOVERED_TYPES.some((cls) => args.isType<Resource>(cls)) && isRecovered(args.props);
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

// The class shape CrossGuard's isType/asType take (an azure-native resource class).
type ResourceClass<TResource extends Resource, TArgs> = {
  new (name: string, args: TArgs, opts?: CustomResourceOptions): TResource;
};

/**
 * `validateResourceOfType` without `notApplicable`: runs `validate` on resources of `cls` with
 * their typed props and does nothing for other types. Carries the class's Pulumi type, as
 * CrossGuard's helper does, so the engine skips other types without calling it.
 */
export function ofType<TResource extends Resource, TArgs>(
  cls: ResourceClass<TResource, TArgs>,
  validate: (
    props: Unwrap<NonNullable<TArgs>>,
    args: ResourceValidationArgs,
    report: ReportViolation,
  ) => void | Promise<void>,
): ResourceValidation {
  const fn: ResourceValidation = (args, report) => {
    const props = args.asType(cls);
    if (props === undefined) return;
    return validate(props, args, report);
  };
  const pulumiType = (cls as { __pulumiType?: unknown }).__pulumiType;
  if (typeof pulumiType === "string" && pulumiType !== "") Object.assign(fn, { __pulumiType: pulumiType });
  return fn;
}
