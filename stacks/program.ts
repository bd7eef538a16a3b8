import * as authorization from "@pulumi/azure-native/authorization";
import * as pulumi from "@pulumi/pulumi";
import { isUserError, UserError } from "../core/errors";
import { overlaySources, type BlueprintRunState, type BlueprintStateReader } from "../core/schemas/blueprint-state";
import { parseLandingZoneOutputs, type LandingZoneOutputs } from "../core/schemas/landing-zone";
import type { BlueprintStackConfig, StackConfig } from "./config";
import { LandingZone } from "./components/landing-zone";
import { RecoveredVm, type RecoveredMachine } from "./components/recovered-vm";
import { StagingDisk } from "./components/staging-disk";
import { planBlueprint, type DrSite } from "./plan";
import { assertRecordedPoints, assertSafeToRecover, awaitDetached } from "./recovery-guard";

/**
 * What a stack's program takes from outside its own config: the subscription its azure-native
 * provider deploys to, and for a blueprint its landing zone's outputs. Read once, at the edge
 * ({@link readProgramInputs}), and handed to the planners as plain values.
 */
export interface ProgramInputs {
  /** The subscription the azure-native provider deploys to (the stack's `azure-native:subscriptionId`). */
  subscriptionId: string;
  /** A blueprint's landing zone: the outputs of the stack its `ferry:landingZoneStack` names. */
  landingZone?: LandingZoneOutputs;
  /**
   * A blueprint's run state, from its landing zone's state store: its mode and recovery points, the
   * progress of each disk, its current sources. None: never switched (standby), tracked sources.
   */
  runState?: BlueprintRunState;
  /**
   * Reads a blueprint's mode record again (the rest of the run state left out): how a VM waits for a detach its
   * runbook does beside the `up` ({@link awaitDetached}). None: no wait, such a disk is refused.
   */
  rereadRunState?: () => Promise<BlueprintRunState>;
  /** Time between those reads, in milliseconds. Default 500. */
  rereadIntervalInMs?: number;
}

/** Options of {@link readProgramInputs}. */
export interface ReadProgramInputsOptions {
  /**
   * Reads a blueprint's run state from its landing zone's state store. Default: the table at the
   * landing zone's `stateStore` output through `@azure/data-tables`, signed in with
   * `DefaultAzureCredential` (adapters/state/blueprint-state.ts). The local deployer hands its own,
   * on the same store.
   */
  readBlueprintState?: BlueprintStateReader;
  /** Time between reads of the run state while a VM waits for its runbook's detach, in milliseconds. Default 500. */
  rereadIntervalInMs?: number;
}

/**
 * Reads the program's inputs beyond its config: the provider's subscription (an invoke) and, for a
 * blueprint, the landing-zone stack's outputs (a StackReference, as the engine resolves it). A
 * blueprint deploys into its landing zone's resource group, so both must be in one subscription.
 */
export async function readProgramInputs(
  config: StackConfig,
  options: ReadProgramInputsOptions = {},
): Promise<ProgramInputs> {
  if (config.kind === "landing-zone") return { subscriptionId: (await authorization.getClientConfig()).subscriptionId };
  const stack = config.landingZoneStack;
  const reference = new pulumi.StackReference(stack);
  const read: Promise<unknown> = reference.getOutputValue("outputs").catch((e: unknown) => {
    const cause = (e as Error).message.replace(/\.?$/, ".");
    throw new UserError(
      `Cannot read the landing-zone stack ${stack} (ferry:landingZoneStack): ${cause} Deploy it first ` +
        `(pulumi up -s ${stack}), or name the landing zone of this region in ferry:landingZoneStack.`,
      { code: "NoLandingZone", cause: e },
    );
  });
  const [client, outputs] = await Promise.all([authorization.getClientConfig(), read]);
  const landingZone = parseLandingZoneOutputs(outputs, stack);
  if (client.subscriptionId.toLowerCase() !== landingZone.subscriptionId.toLowerCase()) {
    throw new UserError(
      `The blueprint stack ${pulumi.getStack()} deploys to subscription ${client.subscriptionId} (its ` +
        `azure-native:subscriptionId), but its landing zone ${stack} is in ${landingZone.subscriptionId} (the ` +
        "azure-native:subscriptionId of that stack). A blueprint fails over into its landing zone's resource " +
        "group: set the same subscription in both stack files.",
      { code: "SubscriptionMismatch" },
    );
  }
  const reader =
    options.readBlueprintState ?? (await import("../adapters/state/blueprint-state")).azureBlueprintStateReader();
  const runState = await reader(config.blueprint, landingZone.stateStore).catch((e: unknown) => {
    if (isUserError(e)) throw e;
    const cause = (e as Error).message.replace(/\.?$/, ".");
    throw new UserError(
      `Cannot read the state of blueprint ${config.blueprint.name} from the state store (table ` +
        `${landingZone.stateStore.tableName} at ${landingZone.stateStore.url}, the landing zone's stateStore): ` +
        `${cause} The program reads its mode and recovery points there: sign in with an identity that has ` +
        '"Storage Table Data Reader" (or Contributor) on that account.',
      { code: "StateStoreUnavailable", cause: e },
    );
  });
  const reread = () => reader(config.blueprint, landingZone.stateStore, { modeOnly: true });
  return {
    subscriptionId: client.subscriptionId,
    landingZone,
    runState,
    rereadRunState: reread,
    ...(options.rereadIntervalInMs !== undefined ? { rereadIntervalInMs: options.rereadIntervalInMs } : {}),
  };
}

/**
 * ferry's one Pulumi program: `kind` selects what the stack declares. Takes the config parsed at
 * the edge (stacks/index.ts reads Pulumi's Config), so tests and the local deployer run it with
 * any config, under mocks.
 */
export async function ferryProgram(
  config: StackConfig,
  opts?: pulumi.ComponentResourceOptions,
  inputOptions: ReadProgramInputsOptions = {},
): Promise<Record<string, pulumi.Output<unknown>>> {
  return declareInTurns(declareProgram(config, await readProgramInputs(config, inputOptions), opts));
}

export type ProgramOutputs = Record<string, pulumi.Output<unknown>>;

/** A stack's declaration in steps: each `yield` is where what was declared so far may register before the rest. */
export type ProgramDeclaration = Generator<void, ProgramOutputs, void>;

/**
 * Declares what a stack holds, from its config and inputs, every value known, in steps ({@link declareInTurns}
 * runs them). Declaring is synchronous CPU work (a blueprint of ten rows declares about a hundred resources), and
 * nothing registers until the code declaring it lets the event loop turn: a blueprint declares its recovered disks
 * first, the start of a failover's critical path, and the engine starts them while the rest is declared.
 */
export function* declareProgram(
  config: StackConfig,
  inputs: ProgramInputs,
  opts?: pulumi.ComponentResourceOptions,
): ProgramDeclaration {
  if (config.kind === "landing-zone") {
    return new LandingZone("landing-zone", config, { subscriptionId: inputs.subscriptionId }, opts).outputs;
  }
  if (!inputs.landingZone) throw new Error("a blueprint is declared with its landing zone's outputs");
  return yield* blueprintProgram(config, inputs.landingZone, inputs.runState ?? { sync: {} }, inputs, opts);
}

/**
 * Runs a declaration's steps with a turn of the event loop between two (`setImmediate`: every registration the
 * step began, a chain of promises, is sent before the next step runs). `around` wraps each step's synchronous run.
 */
export async function declareInTurns(
  declaration: ProgramDeclaration,
  around: <T>(step: () => T) => T = (step) => step(),
): Promise<ProgramOutputs> {
  for (;;) {
    const step = around(() => declaration.next());
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function* blueprintProgram(
  config: BlueprintStackConfig,
  site: DrSite,
  state: BlueprintRunState,
  inputs: Pick<ProgramInputs, "rereadRunState" | "rereadIntervalInMs">,
  opts?: pulumi.ComponentResourceOptions,
): ProgramDeclaration {
  // The tracked blueprint with the disks a failback returned: a fresh clone sees the current ones.
  const blueprint = overlaySources(config.blueprint, state.sources);
  const stack = pulumi.getStack();
  const record = state.mode;
  if (record && record.mode !== "standby") assertRecordedPoints(blueprint, stack, record);
  const plan = planBlueprint(blueprint, site, {
    mode: record?.mode ?? "standby",
    recoveryPoints: record?.recoveryPoints ?? {},
    stagingSku: config.stagingSku,
    ...(record && record.mode !== "standby" ? { operationId: record.operation } : {}),
  });
  // Before any recovered resource is declared: never a VM on a half-applied or attached disk.
  const { detaching } = assertSafeToRecover(plan, stack, state);
  const detached = detachGate(stack, state, detaching, inputs);
  const resourceGroupName = plan.resourceGroup;
  // A staging disk is declared when a recovered row first needs it, the rest after the rows: a row's disks copied
  // from DR-side points (the critical path) are registered before the staging disks an update leaves as they are.
  const staging = new Map<string, StagingDisk>();
  const stagingOf = (logicalName: string): StagingDisk | undefined => {
    const known = staging.get(logicalName);
    if (known) return known;
    const s = plan.staging.find((x) => x.logicalName === logicalName);
    if (!s) return undefined;
    const disk = new StagingDisk(s, { resourceGroupName, location: plan.location }, opts);
    staging.set(logicalName, disk);
    return disk;
  };
  // The rows' disks first (with the staging disks they read), registered while their NICs and VMs are declared.
  const rows = plan.rows.map(
    (row) => new RecoveredVm(row, { resourceGroupName, location: plan.location, staging: stagingOf, detached }, opts),
  );
  if (rows.length) yield;
  const recovered: { row: string; vm: RecoveredMachine }[] = [];
  for (const [i, vm] of rows.entries()) {
    if (i > 0) yield;
    recovered.push({ row: plan.rows[i]!.row, vm: vm.declareMachine() });
  }
  for (const s of plan.staging) stagingOf(s.logicalName);
  return {
    blueprint: pulumi.output(plan.blueprint),
    mode: pulumi.output(plan.mode),
    stagingDisks: pulumi.all(
      plan.staging.map((s) =>
        staging.get(s.logicalName)!.id.apply((id) => ({
          name: s.logicalName,
          id,
          sourceDiskId: s.sourceDiskId,
          row: s.row,
          role: s.role,
          ...(s.lun !== undefined ? { lun: s.lun } : {}),
        })),
      ),
    ),
    recoveredVms: pulumi.all(
      recovered.map((r) =>
        pulumi
          .all([r.vm.id, r.vm.nic.id, r.vm.vm.name])
          .apply(([id, nicId, name]) => ({ row: r.row, id, nicId, name })),
      ),
    ),
  };
}

/**
 * What a VM on an attach-as-is disk its runbook is detaching now waits for: the store recording the detach. Its
 * NICs (and the rest of the stack) are declared meanwhile, so the engine creates them during the detach: it
 * handles each registration as it arrives, and a resource whose input is still a promise is registered once the
 * promise resolves (Pulumi's "Inputs & outputs" concept page; developer-docs/architecture/resource-registration.md
 * in pulumi/pulumi). A preview does not wait: it shows the VM the update will create. Undefined when no disk of
 * the stack is being detached.
 */
function detachGate(
  stack: string,
  state: BlueprintRunState,
  detaching: string[],
  inputs: Pick<ProgramInputs, "rereadRunState" | "rereadIntervalInMs">,
): ((sourceDiskId: string) => Promise<void> | undefined) | undefined {
  if (!detaching.length || pulumi.runtime.isDryRun()) return undefined;
  const read = inputs.rereadRunState;
  const operation = state.mode!.operation;
  let gate: Promise<void> | undefined;
  return (sourceDiskId) => {
    if (!detaching.includes(sourceDiskId.toLowerCase())) return undefined;
    gate ??= read
      ? awaitDetached(stack, operation, detaching, {
          read,
          ...(inputs.rereadIntervalInMs !== undefined ? { intervalInMs: inputs.rereadIntervalInMs } : {}),
          // The engine's log (the CLI shows it); a program under mocks has none.
          onWait: (message) => {
            if (pulumi.runtime.hasEngine()) void pulumi.log.info(message);
          },
        })
      : Promise.reject(
          new Error(`the program of ${stack} was given no reader of its run state to wait for a detach with`),
        );
    return gate;
  };
}
