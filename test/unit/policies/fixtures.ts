import type {
  Policy,
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { createRequire } from "node:module";
import { expect } from "vitest";
import type { PrecheckFacts } from "../../../policies/facts";
import { packConfigFromFacts } from "../../../policies/pack";
import type { Blueprint } from "../../../core/schemas/blueprint";
import { planBlueprint, type BlueprintMode, type BlueprintPlan, type RecoveredDiskPlan } from "../../../stacks/plan";
import type { Json } from "../core/fixtures";
import { blueprint, landingZone, recoveryPoints } from "../stacks/fixtures";

/** The clock of every precheck-age test; the fixture's facts were written 5 minutes before it. */
export const NOW = new Date("2026-11-22T06:00:00.000Z");
export const CHECKED_AT = new Date(NOW.getTime() - 5 * 60_000).toISOString();
export const OPERATION = "op-1";

/** A resource as ferry's program declares it: its inputs are CrossGuard's props. */
export interface FixtureResource {
  type: string;
  name: string;
  /** The component it belongs to (its parent), as in the URN. */
  parentType: string;
  props: Json;
  /** Names of the resources its inputs come from. */
  dependencies: string[];
  /** Names of the resources each input property comes from. */
  propertyDependencies: Record<string, string[]>;
}

export interface FixtureStack {
  blueprint: Blueprint;
  plan: BlueprintPlan;
  resources: FixtureResource[];
  facts: PrecheckFacts;
  /** The policy-pack config: each rule's config by name. */
  config: Record<string, Record<string, unknown>>;
}

/**
 * The core blueprint fixture cut to one Linux row (web1) with one data disk: OS attached as-is,
 * data from a snapshot. In failover: two staging disks, a NIC, a VM, a snapshot and a disk.
 */
export function policyBlueprint(): Blueprint {
  return blueprint((raw) => {
    raw.rows = [raw.rows[0]];
    raw.rows[0].dataDisks = [raw.rows[0].dataDisks[0]];
  });
}

export const armId = (subscriptionId: string, resourceGroup: string, segment: string, name: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${segment}/${name}`;

/**
 * What ferry's program declares for the blueprint in `mode`, built from planBlueprint exactly as
 * stacks/components do (fixtures.test.ts holds it equal to the program run under mocks), with
 * ARM ids for the ids Azure would give; and the facts of a precheck that passed 5 minutes ago.
 */
export function blueprintStack(mode: BlueprintMode = "failover", b: Blueprint = policyBlueprint()): FixtureStack {
  const points = recoveryPoints(b);
  const zone = landingZone();
  const plan = planBlueprint(b, zone, { mode, recoveryPoints: points, operationId: OPERATION });
  const sub = zone.subscriptionId;
  const rg = plan.resourceGroup;
  const location = plan.location;
  const resources: FixtureResource[] = [];
  const add = (r: Omit<FixtureResource, "dependencies" | "propertyDependencies"> & Partial<FixtureResource>) =>
    resources.push({ dependencies: [], propertyDependencies: {}, ...r });

  for (const s of plan.staging) {
    add({
      type: "azure-native:compute:Disk",
      name: s.logicalName,
      parentType: "ferry:dr:StagingDisk",
      props: {
        diskName: s.diskName,
        resourceGroupName: rg,
        location,
        creationData: { createOption: "Empty" },
        diskSizeGB: s.sizeGiB,
        sku: { name: s.sku },
        ...(s.osType ? { osType: s.osType } : {}),
        tags: { ...s.tags },
      },
    });
  }

  for (const row of plan.rows) {
    const parentType = "ferry:dr:RecoveredVm";
    add({
      type: "azure-native:network:NetworkInterface",
      name: row.nic.logicalName,
      parentType,
      props: {
        networkInterfaceName: row.nic.name,
        resourceGroupName: rg,
        location,
        ipConfigurations: [
          {
            name: "ipconfig1",
            subnet: { id: row.nic.subnetId },
            primary: true,
            privateIPAllocationMethod: row.nic.privateIpAddress ? "Static" : "Dynamic",
            ...(row.nic.privateIpAddress ? { privateIPAddress: row.nic.privateIpAddress } : {}),
          },
        ],
        tags: { ...row.tags },
      },
    });
    const bases: string[] = [];
    // The disk a VM attaches (the staging disk itself, or a disk made from a snapshot of it), and its failback base.
    const attach = (d: RecoveredDiskPlan): { id: string; name: string } => {
      const disk = attachedDisk(d);
      if (d.failbackBase) {
        add({
          type: "azure-native:compute:Snapshot",
          name: d.failbackBase.logicalName,
          parentType,
          props: {
            snapshotName: d.failbackBase.name,
            resourceGroupName: rg,
            location,
            incremental: true,
            creationData: { createOption: "Copy", sourceResourceId: disk.id },
            tags: { ...row.tags, "ferry-role": "failback-base", "ferry-source-disk": d.sourceDiskId.toLowerCase() },
          },
          dependencies: [disk.name],
          propertyDependencies: { creationData: [disk.name] },
        });
        bases.push(d.failbackBase.logicalName);
      }
      return disk;
    };
    const attachedDisk = (d: RecoveredDiskPlan): { id: string; name: string } => {
      const stagingId = armId(sub, rg, "Microsoft.Compute/disks", d.staging);
      if (d.strategy === "attachAsIs") return { id: stagingId, name: d.staging };
      const tags = {
        ...row.tags,
        "ferry-recovery-point": d.recoveryPoint.snapshotId,
        "ferry-source-disk": d.sourceDiskId.toLowerCase(),
        "ferry-source-size-gib": String(d.sizeGiB),
      };
      add({
        type: "azure-native:compute:Snapshot",
        name: d.snapshot!.logicalName,
        parentType,
        props: {
          snapshotName: d.snapshot!.name,
          resourceGroupName: rg,
          location,
          incremental: true,
          creationData: { createOption: "Copy", sourceResourceId: stagingId },
          tags,
        },
        dependencies: [d.staging],
        propertyDependencies: { creationData: [d.staging] },
      });
      const snapshotId = armId(sub, rg, "Microsoft.Compute/snapshots", d.snapshot!.name);
      add({
        type: "azure-native:compute:Disk",
        name: d.disk!.logicalName,
        parentType,
        props: {
          diskName: d.disk!.name,
          resourceGroupName: rg,
          location,
          creationData: { createOption: "Copy", sourceResourceId: snapshotId },
          diskSizeGB: d.disk!.sizeGiB,
          sku: { name: d.disk!.sku },
          ...(d.role === "os" ? { osType: row.osType } : {}),
          tags: { ...tags },
        },
        dependencies: [d.snapshot!.logicalName],
        propertyDependencies: { creationData: [d.snapshot!.logicalName] },
      });
      return { id: armId(sub, rg, "Microsoft.Compute/disks", d.disk!.name), name: d.disk!.logicalName };
    };
    const os = attach(row.osDisk);
    const data = row.dataDisks.map((d) => ({ lun: d.lun!, ...attach(d) }));
    add({
      type: "azure-native:compute:VirtualMachine",
      name: row.vmName,
      parentType,
      props: {
        vmName: row.vmName,
        resourceGroupName: rg,
        location,
        hardwareProfile: { vmSize: row.vmSize },
        storageProfile: {
          osDisk: { createOption: "Attach", osType: row.osType, managedDisk: { id: os.id }, deleteOption: "Detach" },
          dataDisks: data.map((d) => ({
            lun: d.lun,
            createOption: "Attach",
            managedDisk: { id: d.id },
            deleteOption: "Detach",
          })),
        },
        networkProfile: {
          networkInterfaces: [
            {
              id: armId(sub, rg, "Microsoft.Network/networkInterfaces", row.nic.name),
              primary: true,
              deleteOption: "Detach",
            },
          ],
        },
        tags: { ...row.tags },
      },
      dependencies: [...bases, row.nic.logicalName, os.name, ...data.map((d) => d.name)],
      propertyDependencies: {
        storageProfile: [os.name, ...data.map((d) => d.name)],
        networkProfile: [row.nic.logicalName],
      },
    });
  }

  const sourceDisks = b.rows.flatMap((r) => [r.osDisk, ...r.dataDisks]);
  const facts: PrecheckFacts = {
    blueprint: b.name,
    passed: true,
    checkedAt: CHECKED_AT,
    mode,
    operation: OPERATION,
    targetRegion: zone.location,
    sourceRegions: [...new Set(b.rows.map((r) => r.sourceRegion))],
    allowedSubnetIds: [...new Set(plan.rows.map((r) => r.nic.subnetId))],
    recoveryPoints: Object.fromEntries(sourceDisks.map((d) => [d.sourceDiskId, points[d.sourceDiskId]!.snapshotId])),
    sourceSizesGiB: Object.fromEntries(sourceDisks.map((d) => [d.sourceDiskId, d.sizeGiB])),
  };
  return { blueprint: b, plan, resources, facts, config: packConfigFromFacts(facts) };
}

/** The fixture resource named `name`; fails when there is none. */
export function find(stack: FixtureStack, name: string): FixtureResource {
  const r = stack.resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name} in the fixture: ${stack.resources.map((x) => x.name).join(", ")}`);
  return r;
}

export const urnOf = (r: Pick<FixtureResource, "type" | "name" | "parentType">, stack = "dr") =>
  `urn:pulumi:${stack}::ferry::${r.parentType}$${r.type}::${r.name}`;

// CrossGuard's isType/asType read the class's static __pulumiType (policy.js getPulumiType).
const typeOfClass = (cls: unknown) => (cls as { __pulumiType?: string }).__pulumiType;

/** Resource-rule args for one fixture resource, as the engine (or the local deployer) builds them. */
export function resourceArgs(r: FixtureResource, config: object): ResourceValidationArgs {
  return {
    type: r.type,
    props: r.props,
    urn: urnOf(r),
    name: r.name,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    stackTags: new Map(),
    isType: (cls) => typeOfClass(cls) === r.type,
    asType: ((cls: unknown) => (typeOfClass(cls) === r.type ? r.props : undefined)) as ResourceValidationArgs["asType"],
    getConfig: <T extends object>() => config as T,
    notApplicable: () => {
      throw new Error("ferry's rules do not call notApplicable (the local deployer calls them without the engine)");
    },
  };
}

/** Stack-rule resources, with dependencies linked to each other as the engine links them. */
export function policyResources(resources: FixtureResource[]): PolicyResource[] {
  const byName = new Map<string, PolicyResource>();
  for (const r of resources) {
    const args = resourceArgs(r, {});
    byName.set(r.name, {
      type: r.type,
      props: r.props,
      urn: args.urn,
      name: r.name,
      opts: args.opts,
      dependencies: [],
      propertyDependencies: {},
      isType: args.isType,
      asType: args.asType as PolicyResource["asType"],
    });
  }
  for (const r of resources) {
    const p = byName.get(r.name)!;
    p.dependencies = r.dependencies.map((n) => byName.get(n)!);
    p.propertyDependencies = Object.fromEntries(
      Object.entries(r.propertyDependencies).map(([k, names]) => [k, names.map((n) => byName.get(n)!)]),
    );
  }
  return [...byName.values()];
}

export function stackArgs(resources: FixtureResource[], config: object): StackValidationArgs {
  return {
    resources: policyResources(resources),
    stackTags: new Map(),
    getConfig: <T extends object>() => config as T,
    notApplicable: () => {
      throw new Error("ferry's rules do not call notApplicable");
    },
  };
}

export interface Violation {
  message: string;
  urn?: string;
}

/**
 * Runs one rule on a stack as the engine would: a resource rule on every resource (a violation
 * reported without a URN is the resource's), a stack rule once on all of them. The rule's config
 * is `stack.config[rule.name]`, or `config` when given.
 */
export async function violationsOf(
  rule: Policy,
  stack: Pick<FixtureStack, "resources" | "config">,
  config?: object,
): Promise<Violation[]> {
  const out: Violation[] = [];
  const ruleConfig = config ?? stack.config[rule.name] ?? {};
  const resourceRule = rule as ResourceValidationPolicy;
  if (resourceRule.validateResource) {
    const validations = Array.isArray(resourceRule.validateResource)
      ? resourceRule.validateResource
      : [resourceRule.validateResource];
    for (const r of stack.resources) {
      const report: ReportViolation = (message, urn) => out.push({ message, urn: urn ?? urnOf(r) });
      for (const validate of validations) await validate(resourceArgs(r, ruleConfig), report);
    }
  }
  const stackRule = rule as StackValidationPolicy;
  if (stackRule.validateStack) {
    await stackRule.validateStack(stackArgs(stack.resources, ruleConfig), (message, urn) =>
      out.push(urn === undefined ? { message } : { message, urn }),
    );
  }
  return out;
}

/** Asserts exactly one violation, whose message contains every part; returns it. */
export function expectOne(violations: Violation[], ...parts: string[]): Violation {
  expect(
    violations.map((v) => v.message),
    "expected exactly one violation",
  ).toHaveLength(1);
  for (const part of parts) expect(violations[0]!.message).toContain(part);
  return violations[0]!;
}

// The engine's own proxy over props (internal to @pulumi/policy, untyped): reading an unknown value
// through it throws UnknownValueError, as in a preview.
const engineProxy = createRequire(import.meta.url)("@pulumi/policy/proxy") as {
  unknownCheckingProxy(props: object): Json;
  unknownStringValue: unknown;
};

/** The value of an output not known yet, as the engine passes it in a preview. */
export const UNKNOWN = engineProxy.unknownStringValue;

/** Makes a fixture resource's props behave as in a preview: reading an {@link UNKNOWN} value throws. */
export function asInPreview(r: FixtureResource): void {
  r.props = engineProxy.unknownCheckingProxy(r.props);
}
