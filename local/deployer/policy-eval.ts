import type { DeclaredResource } from "./program-run";
import type { Props } from "./resource-kinds";

/** A CrossGuard policy as ferry's pack exports it (the engine's shape; only what the evaluator uses). */
export interface PolicyLike {
  name: string;
  description?: string;
  enforcementLevel?: "advisory" | "mandatory" | "remediate" | "disabled";
  validateResource?: unknown;
  validateStack?: unknown;
}

export interface PolicyViolation {
  policy: string;
  enforcementLevel: "advisory" | "mandatory";
  message: string;
  resource?: string;
}

class NotApplicable extends Error {}

type Validate = (args: Record<string, unknown>, report: (message: string, urn?: string) => void) => unknown;

/** A resource as a rule is handed it: what was declared, and the props to judge (inputs, or a stack rule's outputs). */
export interface JudgedResource {
  resource: DeclaredResource;
  /** Default: the resource's inputs (what a resource rule sees, and a stack rule in a preview). */
  props?: Props;
}

/**
 * The engine's URN of a declared resource: the run records it once registered; before that it is
 * built from the parent's URN (its type chain, `parent$type`), as the engine builds it.
 */
export function urnOf(r: DeclaredResource, stack: string): string {
  if (r.urn) return r.urn;
  const parentTypes = r.parent?.split("::")[2];
  const types = parentTypes && parentTypes !== "pulumi:pulumi:Stack" ? `${parentTypes}$${r.type}` : r.type;
  return `urn:pulumi:${stack}::ferry::${types}::${r.name}`;
}

function argsOf(r: DeclaredResource, props: Props, stack: string) {
  return {
    type: r.type,
    props,
    urn: urnOf(r, stack),
    name: r.name,
    opts: {
      protect: r.protect,
      ignoreChanges: r.ignoreChanges,
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
      ...(r.parent ? { parent: r.parent } : {}),
    },
    stackTags: new Map<string, string>(),
    isType: (cls: { __pulumiType?: string }) => cls.__pulumiType === r.type,
    asType: (cls: { __pulumiType?: string }) => (cls.__pulumiType === r.type ? props : undefined),
  };
}

/** Runs one kind of validation of every enabled policy, collecting what they report. */
async function judge(
  policies: readonly PolicyLike[],
  kind: "validateResource" | "validateStack",
  config: Record<string, unknown>,
  args: Record<string, unknown>,
  resource?: string,
): Promise<PolicyViolation[]> {
  const violations: PolicyViolation[] = [];
  for (const policy of policies) {
    const validate = policy[kind];
    const level = policy.enforcementLevel ?? "advisory";
    if (!validate || level === "disabled") continue;
    const enforcement = level === "mandatory" || level === "remediate" ? "mandatory" : "advisory";
    const getConfig = () => (config[policy.name] ?? {}) as object;
    const notApplicable = (reason?: string): never => {
      throw new NotApplicable(reason);
    };
    for (const fn of (Array.isArray(validate) ? validate : [validate]) as Validate[]) {
      try {
        await fn({ ...args, getConfig, notApplicable }, (message, urn) =>
          violations.push({
            policy: policy.name,
            enforcementLevel: enforcement,
            message,
            ...((urn ?? resource) ? { resource: urn ?? resource } : {}),
          }),
        );
      } catch (e) {
        if (!(e instanceof NotApplicable)) throw e;
      }
    }
  }
  return violations;
}

/**
 * The resource policies on one resource, as the engine runs them just before it creates or updates
 * that resource (and on each resource of a preview). `config` holds each policy's config by policy
 * name (the shape of a policy-pack config file).
 */
export async function evaluateResourcePolicies(
  policies: readonly PolicyLike[],
  judged: JudgedResource,
  config: Record<string, unknown>,
  stack: string,
): Promise<PolicyViolation[]> {
  const { resource } = judged;
  if (!resource.custom) return [];
  const urn = urnOf(resource, stack);
  return judge(policies, "validateResource", config, argsOf(resource, judged.props ?? resource.inputs, stack), urn);
}

/**
 * The stack policies, as the engine runs them once every resource is registered (in an update:
 * after they were created). They see each resource with its dependencies linked as resources.
 */
export async function evaluateStackPolicies(
  policies: readonly PolicyLike[],
  judged: JudgedResource[],
  config: Record<string, unknown>,
  stack: string,
): Promise<PolicyViolation[]> {
  const custom = judged.filter((j) => j.resource.custom);
  const byUrn = new Map<string, ReturnType<typeof argsOf> & Record<string, unknown>>();
  for (const j of custom) byUrn.set(urnOf(j.resource, stack), argsOf(j.resource, j.props ?? j.resource.inputs, stack));
  for (const j of custom) {
    const entry = byUrn.get(urnOf(j.resource, stack))!;
    entry.dependencies = j.resource.dependencies.map((u) => byUrn.get(u)).filter((x) => x !== undefined);
    entry.propertyDependencies = {};
  }
  return judge(policies, "validateStack", config, { resources: [...byUrn.values()], stackTags: new Map() });
}

/**
 * Every policy on what a program declared, as `pulumi preview` runs them: each resource policy on
 * each resource, then the stack policies; nothing is created.
 */
export async function evaluatePolicies(
  policies: readonly PolicyLike[],
  declared: DeclaredResource[],
  config: Record<string, unknown>,
  stack: string,
): Promise<PolicyViolation[]> {
  const violations: PolicyViolation[] = [];
  for (const resource of declared)
    violations.push(...(await evaluateResourcePolicies(policies, { resource }, config, stack)));
  violations.push(
    ...(await evaluateStackPolicies(
      policies,
      declared.map((resource) => ({ resource })),
      config,
      stack,
    )),
  );
  return violations;
}
