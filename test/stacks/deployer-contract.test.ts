import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { createAzureClients, type AzureClients } from "../../adapters/azure/clients";
import { azureCredential } from "../../adapters/azure/credentials";
import { isUserError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import { RunStateStore } from "../../adapters/state/run-state";
import { sourceStoreClient } from "../../adapters/state/store";
import type { Blueprint } from "../../core/schemas/blueprint";
import { MODE_RECORD_KEY, type BlueprintRunState } from "../../core/schemas/blueprint-state";
import { parseLandingZoneOutputs } from "../../core/schemas/landing-zone";
import type { RecoveryPoint } from "../../core/schemas/recovery-point";
import { evaluateResourcePolicies } from "../../local/deployer/policy-eval";
import { LocalDeployer } from "../../local/deployer/local-deployer";
import { runProgram } from "../../local/deployer/program-run";
import type { PrecheckFacts } from "../../policies/facts";
import { createFerryPolicies, ferryPolicies, packConfigFromFacts } from "../../policies/pack";
import { exitCodeOf } from "../../runbooks/cli";
import type { Deployer } from "../../runbooks/deployers/deployer";
import { PulumiDeployer } from "../../runbooks/deployers/pulumi";
import { parseStackConfig } from "../../stacks/config";
import { useEmulator, tempDir, type EmulatorFixture } from "../helpers/emulator";
import { thrownBy } from "../helpers/errors";
import { blueprint, readyRunState, recoveryPoints } from "../unit/stacks/fixtures";

/**
 * The deployer contract: the same scenarios through the local deployer and the Pulumi deployer,
 * so a gate that holds in tests holds under the real engine. The local deployer always runs (the
 * emulator); the Pulumi one only where its CLI, Azure credentials and a live blueprint exist.
 */

const POLL = { updateIntervalInMs: 10 };

/** What a scenario needs: a deployer, a blueprint stack in standby, and the Azure it deploys to. */
interface Harness {
  deployer: Deployer;
  azure: AzureClients;
  stack: string;
  blueprint: Blueprint;
  points: Record<string, RecoveryPoint>;
  /** Puts the blueprint's run state where the program reads it (the state store, as a runbook would). */
  setRunState: (state: BlueprintRunState) => Promise<void>;
  /** Where recovered resources land (the landing zone's resource group and region, its subnets). */
  zone: { resourceGroupName: string; location: string; targetSubnetId: string };
  now: () => Date;
}

/** Facts of a precheck of the harness's blueprint that passed a minute ago, with `overrides`. */
function factsOf(h: Harness, overrides: Partial<PrecheckFacts> = {}): PrecheckFacts {
  const disks = h.blueprint.rows.flatMap((r) => [r.osDisk, ...r.dataDisks]);
  return {
    blueprint: h.blueprint.name,
    passed: true,
    checkedAt: new Date(h.now().getTime() - 60_000).toISOString(),
    mode: "failover",
    operation: "op-contract",
    targetRegion: h.zone.location,
    sourceRegions: [...new Set(h.blueprint.rows.map((r) => r.sourceRegion))],
    allowedSubnetIds: [h.zone.targetSubnetId],
    recoveryPoints: Object.fromEntries(disks.map((d) => [d.sourceDiskId, h.points[d.sourceDiskId]!.snapshotId])),
    sourceSizesGiB: Object.fromEntries(disks.map((d) => [d.sourceDiskId, d.sizeGiB])),
    ...overrides,
  };
}

/** The recovered VMs, NICs, disks and snapshots in the landing zone's group (staging disks are not). */
async function recoveredResources(h: Harness): Promise<string[]> {
  const rg = h.zone.resourceGroupName;
  const recovered = (tags?: Record<string, string>) => ["recovered", "test"].includes(tags?.["ferry-role"] ?? "");
  const out: string[] = [];
  for await (const vm of h.azure.compute.virtualMachines.list(rg)) out.push(`vm ${vm.name}`);
  for await (const d of h.azure.compute.disks.listByResourceGroup(rg))
    if (recovered(d.tags)) out.push(`disk ${d.name}`);
  for await (const s of h.azure.compute.snapshots.listByResourceGroup(rg))
    if (recovered(s.tags) || s.tags?.["ferry-role"] === "failback-base") out.push(`snapshot ${s.name}`);
  for await (const n of h.azure.network.networkInterfaces.list(rg)) if (recovered(n.tags)) out.push(`nic ${n.name}`);
  return out.filter((r) => r !== "vm ferry-appliance");
}

/** The scenarios every deployer must pass. */
function contract(h: () => Harness) {
  // The store shows every disk ready (paused at its point, detached): what is left to judge is the pack's.
  const failover = async (facts: PrecheckFacts | undefined, message: string) => {
    await h().setRunState(readyRunState("failover", h().points, "op-contract"));
    return h().deployer.up(h().stack, {
      message,
      ...(facts ? { policyConfig: packConfigFromFacts(facts) } : {}),
    });
  };
  const standby = async () => {
    await h().setRunState({ sync: {} });
    return h().deployer.up(h().stack, { message: "contract: standby" });
  };

  const refusals: [string, () => PrecheckFacts | undefined, RegExp][] = [
    ["missing", () => undefined, /holds no precheck facts/],
    ["stale", () => factsOf(h(), { checkedAt: new Date(h().now().getTime() - 3 * 3_600_000).toISOString() }), /old/],
    [
      // A precheck of another point in time: every disk's approved point differs from the stack's.
      "for another recovery point",
      () => {
        const facts = factsOf(h());
        for (const disk of Object.keys(facts.recoveryPoints))
          facts.recoveryPoints[disk] = facts.recoveryPoints[disk]!.replace(/-ab12$/, "-ff00");
        return facts;
      },
      /the precheck approved .*-ff00|not one of the recovery points the precheck approved/,
    ],
    [
      // Only the last disk's point differs: the rows judged before it must not be created either.
      "for another recovery point of one disk",
      () => {
        const facts = factsOf(h());
        const last = Object.keys(facts.recoveryPoints).sort().at(-1)!;
        facts.recoveryPoints[last] = facts.recoveryPoints[last]!.replace(/-ab12$/, "-ff00");
        return facts;
      },
      /recovery points are not the ones the precheck approved/,
    ],
  ];
  for (const [what, facts, why] of refusals) {
    it(`refuses a failover whose precheck facts are ${what} before any VM, NIC or disk exists, exit 3`, async () => {
      await standby();
      const e = await thrownBy(failover(facts(), `contract: failover, facts ${what}`));
      expect(isUserError(e)).toBe(true);
      expect(exitCodeOf(e)).toBe(3);
      expect(e.message).toContain("[ferry-failover-precheck-passed]");
      expect(e.message).toMatch(why);
      expect(await recoveredResources(h())).toEqual([]);
    });
  }

  it("fails over on good facts, reporting advisories without blocking; back to standby removes it", async () => {
    await standby();
    const up = await failover(factsOf(h()), "contract: failover");
    expect(up.changes.create).toBeGreaterThan(0);
    const vms = (await recoveredResources(h())).filter((r) => r.startsWith("vm "));
    expect(vms).toHaveLength(h().blueprint.rows.length);
    // db1 is a Windows VM whose OS disk attaches as-is: the pack advises, and the failover goes on.
    expect(up.advisories.map((a) => [a.policy, a.enforcementLevel])).toContainEqual([
      "ferry-windows-os-from-snapshot",
      "advisory",
    ]);
    await standby();
    expect(await recoveredResources(h())).toEqual([]);
  });
}

describe("the deployer contract: local deployer", () => {
  const f: EmulatorFixture = useEmulator();
  const NOW = new Date("2026-11-22T06:00:00.000Z");
  let harness: Harness;
  // The program's run state, as a runbook would have recorded it in the store.
  let runState: BlueprintRunState = { sync: {} };
  const readBlueprintState = async () => runState;

  beforeAll(async () => {
    await f.azure.resources.resourceGroups.createOrUpdate("dr-network-rg", { location: "northeurope" });
    const vnet = await f.azure.network.virtualNetworks.beginCreateOrUpdateAndWait(
      "dr-network-rg",
      "dr-vnet",
      {
        location: "northeurope",
        addressSpace: { addressPrefixes: ["10.1.0.0/16"] },
        subnets: [{ name: "app", addressPrefix: "10.1.0.0/24" }],
      },
      POLL,
    );
    const targetSubnetId = vnet.subnets![0]!.id!;
    const deployer = new LocalDeployer({
      stateDir: tempDir(),
      azure: f.azure,
      readBlueprintState,
      policies: createFerryPolicies({ now: () => NOW }),
      logger: createLogger({ level: "silent" }),
      now: () => NOW,
    });
    await deployer.setConfig("lz", {
      kind: "landing-zone",
      region: "northeurope",
      resourceGroup: "dr-rg",
      targetSubnetId,
      testNetwork: {
        name: "dr-test-vnet",
        addressPrefix: "10.99.0.0/16",
        subnetName: "app",
        subnetPrefix: "10.99.1.0/24",
      },
      stateStore: { accountName: "ferrystate01" },
      appliance: { sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test" },
    });
    await deployer.up("lz", { message: "landing zone northeurope" });
    // web1's fixed address clear of what the appliance's NIC takes first in the subnet.
    const b = blueprint((raw) => {
      (raw.rows as Record<string, unknown>[])[0]!.privateIpAddress = "10.1.0.20";
    });
    await deployer.setConfig("web", { kind: "blueprint", blueprint: b, landingZoneStack: "lz" });
    await deployer.up("web", { message: "enable DR web" });
    harness = {
      deployer,
      azure: f.azure,
      stack: "web",
      blueprint: b,
      points: recoveryPoints(b),
      setRunState: async (state) => {
        runState = state;
      },
      zone: { resourceGroupName: "dr-rg", location: "northeurope", targetSubnetId },
      now: () => NOW,
    };
  });

  contract(() => harness);

  it("shows that a stack policy alone does not block creation: the VM exists, then the update fails", async () => {
    const stackOnly = new LocalDeployer({
      stateDir: tempDir(),
      azure: f.azure,
      readBlueprintState,
      policies: [
        {
          name: "stack-only-gate",
          enforcementLevel: "mandatory",
          validateStack: (
            args: { resources: { props: { tags?: Record<string, string> } }[] },
            report: (m: string) => void,
          ) => {
            if (args.resources.some((r) => r.props.tags?.["ferry-role"] === "recovered"))
              report("A failover needs a passed precheck.");
          },
        },
      ],
      logger: createLogger({ level: "silent" }),
      now: () => NOW,
    });
    const h = harness;
    await stackOnly.setConfig("lz", await h.deployer.getConfig("lz"));
    await stackOnly.up("lz", { message: "landing zone" });
    await stackOnly.setConfig("web-stack-only", await h.deployer.getConfig("web"));
    runState = readyRunState("failover", h.points, "op-stack-only");
    const e = await thrownBy(stackOnly.up("web-stack-only", { message: "failover under a stack policy only" }));
    expect(e.message).toContain("once every resource is registered");
    expect(exitCodeOf(e)).toBe(3);
    // The gate said no, and the VM is there all the same: what a stack policy does under the engine.
    expect((await recoveredResources(h)).filter((r) => r.startsWith("vm "))).not.toEqual([]);
    const [last] = await stackOnly.history("web-stack-only");
    expect(last).toMatchObject({ result: "failed" });
    expect(last!.resourceChanges.create).toBeGreaterThan(0);
    runState = { sync: {} };
    await stackOnly.up("web-stack-only", { message: "back to standby" });
    expect(await recoveredResources(h)).toEqual([]);
  });

  it("refuses a test VM that attaches a staging disk before it is created (ferry's program never declares one)", async () => {
    const h = harness;
    const config = parseStackConfig(await h.deployer.getConfig("web"), "web");
    const sub = h.azure.subscriptionId;
    const { declared } = await runProgram(config, "web", {
      preview: true,
      resolve: async (r) => ({ id: `/subscriptions/${sub}/fake/${r.name}`, outputs: { ...r.inputs } }),
      stackOutputs: async (name) => ({ outputs: await h.deployer.outputs(name) }),
      subscriptionId: sub,
      readBlueprintState: async () => readyRunState("test", h.points, "drill-1"),
    });
    const vm = declared.find((d) => d.key === "azure-native:compute:VirtualMachine::web1-test")!;
    const storage = vm.inputs.storageProfile as { osDisk: { managedDisk: { id: string } } };
    storage.osDisk.managedDisk.id = `/subscriptions/${sub}/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/web1-os-staging`;
    const facts = factsOf(h, { mode: "test", operation: "drill-1" });
    const violations = await evaluateResourcePolicies(
      ferryPolicies,
      { resource: vm },
      packConfigFromFacts(facts),
      "web",
    );
    expect(violations.map((v) => [v.policy, v.enforcementLevel])).toContainEqual([
      "ferry-test-never-attach-as-is",
      "mandatory",
    ]);
  });
});

/** Where the Pulumi deployer can run the contract: its CLI, Azure credentials and a live blueprint. */
function pulumiReadiness(): { ready: true; configFile: string } | { ready: false; reason: string } {
  try {
    execFileSync("pulumi", ["version"], { stdio: "ignore" });
  } catch {
    return { ready: false, reason: "the pulumi CLI is not on PATH" };
  }
  if (!process.env.ARM_SUBSCRIPTION_ID && !process.env.AZURE_SUBSCRIPTION_ID)
    return { ready: false, reason: "no Azure credentials (ARM_SUBSCRIPTION_ID or AZURE_SUBSCRIPTION_ID unset)" };
  if (process.env.FERRY_LIVE !== "1")
    return { ready: false, reason: "FERRY_LIVE is not 1 (the contract fails over real Azure resources)" };
  const configFile = process.env.FERRY_LIVE_BLUEPRINT;
  if (!configFile)
    return {
      ready: false,
      reason:
        "FERRY_LIVE_BLUEPRINT (a protected blueprint stack's ferry: config, with recoveryPoints: the applied " +
        "points its paused sync holds) is not set",
    };
  return { ready: true, configFile };
}

describe("the deployer contract: Pulumi deployer", () => {
  const live = pulumiReadiness();
  if (!live.ready) {
    console.log(`deployer contract on the Pulumi deployer skipped: ${live.reason}`);
    it.skip(`skipped: ${live.reason}`, () => undefined);
    return;
  }
  let harness: Harness;
  beforeAll(async () => {
    // The points are not stack config: the program reads them, with the mode, from the state store.
    const { recoveryPoints: points, ...config } = JSON.parse(readFileSync(live.configFile, "utf8")) as Record<
      string,
      unknown
    >;
    const deployer = new PulumiDeployer({ workDir: process.cwd(), logger: createLogger({ name: "ferry-contract" }) });
    const stack = `ferry-contract-${Date.now().toString(36)}`;
    await deployer.setConfig(stack, config);
    const parsed = parseStackConfig(config, stack);
    if (parsed.kind !== "blueprint") throw new Error(`${live.configFile} is not a blueprint stack's config`);
    const zone = (await deployer.outputs(parsed.landingZoneStack)) as Harness["zone"];
    const subscriptionId = (process.env.ARM_SUBSCRIPTION_ID ?? process.env.AZURE_SUBSCRIPTION_ID)!;
    const outputs = parseLandingZoneOutputs(await deployer.outputs(parsed.landingZoneStack), parsed.landingZoneStack);
    const runState = new RunStateStore(
      sourceStoreClient({ ...outputs.stateStore, credential: azureCredential({ kind: "default" }) }),
    );
    await deployer.up(stack, { message: "contract: enable DR" });
    harness = {
      deployer,
      azure: createAzureClients({ subscriptionId, credential: azureCredential({ kind: "default" }) }),
      stack,
      blueprint: parsed.blueprint,
      points: points as Record<string, RecoveryPoint>,
      // The mode record a runbook writes; the sync rows must show the live blueprint paused at its points.
      setRunState: async (state) => {
        const current = await runState.get(parsed.blueprint.name, MODE_RECORD_KEY);
        if (!state.mode) {
          if (current) await runState.delete(parsed.blueprint.name, MODE_RECORD_KEY, current.etag);
          return;
        }
        if (current) await runState.replace(parsed.blueprint.name, MODE_RECORD_KEY, state.mode, current.etag);
        else await runState.create(parsed.blueprint.name, MODE_RECORD_KEY, state.mode);
      },
      zone,
      now: () => new Date(),
    };
  });
  contract(() => harness);
});
