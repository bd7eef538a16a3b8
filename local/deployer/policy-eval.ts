import type { DeclaredResource } from "./program-run";

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

/**
 * Evaluates CrossGuard policies on what a program declared, without the Pulumi engine: the local
 * deployer runs the same rules `pulumi up --policy-pack policies` runs, before anything is created.
 * `config` holds each policy's config by policy name (the shape of a policy-pack config file).
 */
export async function evaluatePolicies(
  policies: readonly PolicyLike[],
  declared: DeclaredResource[],
  config: Record<string, unknown>,
  stack: string,
): Promise<PolicyViolation[]> {
  // The engine's URN (parent types included) when the run recorded it: dependencies name those.
  const urnOf = (r: DeclaredResource) => r.urn ?? `urn:pulumi:${stack}::ferry::${r.type}::${r.name}`;
  const custom = declared.filter((r) => r.custom);
  const base = (r: DeclaredResource) => ({
    type: r.type,
    props: r.inputs,
    urn: urnOf(r),
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
    asType: (cls: { __pulumiType?: string }) => (cls.__pulumiType === r.type ? r.inputs : undefined),
  });
  const byUrn = new Map<string, ReturnType<typeof base> & Record<string, unknown>>();
  for (const r of custom) byUrn.set(urnOf(r), { ...base(r) });
  // Stack policies see dependencies as resources.
  for (const r of custom) {
    const entry = byUrn.get(urnOf(r))!;
    entry.dependencies = r.dependencies.map((u) => byUrn.get(u)).filter((x) => x !== undefined);
    entry.propertyDependencies = {};
  }

  const violations: PolicyViolation[] = [];
  for (const policy of policies) {
    const level = policy.enforcementLevel ?? "advisory";
    if (level === "disabled") continue;
    const enforcement = level === "mandatory" || level === "remediate" ? "mandatory" : "advisory";
    const cfg = () => (config[policy.name] ?? {}) as object;
    const notApplicable = (reason?: string): never => {
      throw new NotApplicable(reason);
    };
    const run = async (validate: unknown, args: Record<string, unknown>, resource?: string) => {
      const fns = (Array.isArray(validate) ? validate : [validate]) as Validate[];
      for (const fn of fns) {
        try {
          await fn({ ...args, getConfig: cfg, notApplicable }, (message, urn) =>
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
    };
    if (policy.validateResource)
      for (const r of custom) await run(policy.validateResource, byUrn.get(urnOf(r))!, urnOf(r));
    if (policy.validateStack) await run(policy.validateStack, { resources: [...byUrn.values()], stackTags: new Map() });
  }
  return violations;
}
