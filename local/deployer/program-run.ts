import { AsyncLocalStorage } from "node:async_hooks";
import * as pulumi from "@pulumi/pulumi";
import * as pulumiState from "@pulumi/pulumi/runtime/state";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as pulumiSettings from "@pulumi/pulumi/runtime/settings";
import type { Mocks, MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";
import { FerryError } from "../../core/errors";
import type { StackConfig } from "../../stacks/config";
import type { BlueprintStateReader } from "../../core/schemas/blueprint-state";
import {
  declareInTurns,
  declareProgram,
  readProgramInputs,
  type ProgramInputs,
  type ReadProgramInputsOptions,
} from "../../stacks/program";
import type { Props } from "./resource-kinds";

/** A resource as the program declared it, with the options the engine would honour. */
export interface DeclaredResource {
  /** `type::name`: unique in a ferry stack. */
  key: string;
  /** The URN the engine gives it (parent types included), known once it is registered. */
  urn?: string;
  type: string;
  name: string;
  custom: boolean;
  inputs: Props;
  parent?: string;
  dependencies: string[];
  protect: boolean;
  retainOnDelete: boolean;
  ignoreChanges: string[];
  /** Registration order: dependencies always come first. */
  order: number;
}

export type ResolveResource = (resource: DeclaredResource) => Promise<{ id: string; outputs: Props }>;

/** The Pulumi project the program runs as (Pulumi.yaml's `name`). */
export const PROJECT = "ferry";

/** The resource type of a `pulumi.StackReference`: a read of another stack's outputs, not a resource of this one. */
const STACK_REFERENCE = "pulumi:pulumi:StackReference";

export interface RunProgramOptions {
  /** A preview: `resolve` gives what is known, nothing changes. */
  preview: boolean;
  /** Decides each declared resource's id and outputs. */
  resolve: ResolveResource;
  /**
   * The outputs of the stack a StackReference names (by the name it was given), as the engine reads
   * them; throws when there is no such stack.
   */
  stackOutputs: (stack: string) => Promise<Props>;
  /** The subscription the program's azure-native provider deploys to (what `getClientConfig` answers). */
  subscriptionId: string;
  /** Reads a blueprint's run state from the state store (the program's input beside its config). */
  readBlueprintState: BlueprintStateReader;
  /** Time between reads of the run state while a VM waits for its runbook's detach, in milliseconds. Default 500. */
  rereadIntervalInMs?: number;
}

/** What this monitor reads of the engine's RegisterResourceRequest (a protobuf message). */
interface RegisterResourceRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getIgnorechangesList(): string[];
}

/**
 * The monitor of Pulumi's mocks, also recording the options of each registration (the mocks API does not pass them).
 */
class RecordingMonitor extends MockMonitor {
  readonly options = new Map<
    string,
    { parent: string; dependencies: string[]; protect: boolean; retainOnDelete: boolean; ignoreChanges: string[] }
  >();

  readonly urns = new Map<string, string>();

  override async registerResource(
    req: RegisterResourceRequest,
    callback: (err: unknown, response: { getUrn(): string } | undefined) => void,
  ): Promise<void> {
    const key = `${req.getType()}::${req.getName()}`;
    this.options.set(key, {
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      ignoreChanges: req.getIgnorechangesList(),
    });
    return super.registerResource(req, (err: unknown, response?: { getUrn(): string }) => {
      if (response) this.urns.set(key, response.getUrn());
      callback(err, response);
    });
  }
}

/**
 * Runs ferry's program in-process under Pulumi's mocks. Each resource, as the program registers it
 * (its inputs resolved, so after everything it depends on), goes to `resolve`, which decides its id
 * and outputs: fake ones for a preview, Azure's for an update. A StackReference is read, as the
 * engine reads it, from `stackOutputs`, and the provider's client config answers with
 * `subscriptionId`. Resolves when every registration has settled, with what was declared. A failed
 * resource stops only what depends on it: the rest goes on, and once it has settled the run throws
 * every failure, each with its resource.
 */
export async function runProgram(
  config: StackConfig,
  stack: string,
  options: RunProgramOptions,
): Promise<{ declared: DeclaredResource[]; outputs: Props }> {
  // Pulumi's runtime state (its monitor, settings, stack, leak tracking) is one per process unless a run has its own
  // store: two programs sharing it registered each other's resources. Each run gets a store of its own, as the
  // Automation API's inline programs do, so stacks declare and apply in parallel as under the engine, where each
  // `pulumi up` is a process of its own. (A child process or worker per stack would load @pulumi/pulumi again each
  // time: seconds of CPU per stack, on the critical path of every failover.)
  return withPulumiStore(() => runProgramAlone(config, stack, options));
}

/** Pulumi's own per-run state store (`withLocalStorage`, internal to @pulumi/pulumi and left out of its types). */
const withPulumiStore: <T>(run: () => T) => T = (() => {
  const fn = (pulumiState as unknown as { withLocalStorage?: <T>(run: () => T) => T }).withLocalStorage;
  if (typeof fn !== "function")
    throw new Error(
      "@pulumi/pulumi/runtime/state has no withLocalStorage: this version of @pulumi/pulumi cannot run programs " +
        "side by side. Pin the version in package.json that has it (3.248.0 does).",
    );
  return fn;
})();

/**
 * Resolves once the current run's registrations have all been sent or failed (`waitForRPCs`, internal to
 * @pulumi/pulumi and left out of its types; what its runtime waits for before it disconnects from the engine).
 */
const waitForRegistrations: () => Promise<void> = (() => {
  const fn = (pulumiSettings as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (typeof fn !== "function")
    throw new Error(
      "@pulumi/pulumi/runtime/settings has no waitForRPCs: this version of @pulumi/pulumi cannot be run by the " +
        "local deployer. Pin the version in package.json that has it (3.248.0 does).",
    );
  return fn;
})();

/** The run whose asynchronous context this is: Node reports an unhandled rejection in the context of its promise. */
const currentRun = new AsyncLocalStorage<{ failures: ResourceFailure[] }>();
let runsInFlight = 0;

/**
 * A resource that fails to register rejects promises deep inside Pulumi's runtime that nothing awaits: they are
 * failures of the run they belong to, not of the process. One listener while any run is in flight; a rejection
 * outside every run is left to the process's other listeners, or thrown as Node would without this one.
 */
function onUnhandled(reason: unknown): void {
  const run = currentRun.getStore();
  if (run) {
    if (run.failures.length === 0) run.failures.push({ error: reason });
    return;
  }
  if (process.listenerCount("unhandledRejection") > 1) return;
  process.nextTick(() => {
    throw reason;
  });
}

async function runProgramAlone(
  config: StackConfig,
  stack: string,
  options: RunProgramOptions,
): Promise<{ declared: DeclaredResource[]; outputs: Props }> {
  const { preview, resolve } = options;
  const declared: DeclaredResource[] = [];
  const pending = new Set<Promise<unknown>>();
  const failures: ResourceFailure[] = [];
  let monitor: RecordingMonitor | undefined;
  const mocks: Mocks = {
    call: (args) =>
      args.token === "azure-native:authorization:getClientConfig" ? { subscriptionId: options.subscriptionId } : {},
    newResource: (args: MockResourceArgs) => {
      // A read of another stack (the engine's StackReference): its outputs, never a resource to apply.
      if (args.type === STACK_REFERENCE) {
        const name = String((args.inputs as { name?: unknown }).name);
        return options.stackOutputs(name).then((outputs) => ({
          id: name,
          state: { name, outputs, secretOutputNames: [] },
        }));
      }
      const key = `${args.type}::${args.name}`;
      const o = monitor!.options.get(key);
      const resource: DeclaredResource = {
        key,
        type: args.type,
        name: args.name,
        custom: args.custom !== false,
        inputs: args.inputs as Props,
        ...(o?.parent ? { parent: o.parent } : {}),
        dependencies: o?.dependencies ?? [],
        protect: o?.protect ?? false,
        retainOnDelete: o?.retainOnDelete ?? false,
        ignoreChanges: o?.ignoreChanges ?? [],
        order: declared.length,
      };
      declared.push(resource);
      if (!resource.custom) return { id: undefined, state: {} };
      const work = resolve(resource).then(
        (r) => ({ id: r.id, state: r.outputs }),
        (e: unknown) => {
          failures.push({ resource: `${args.type.split(":").pop()} ${args.name}`, error: e });
          throw e;
        },
      );
      pending.add(work);
      void work.catch(() => undefined).finally(() => pending.delete(work));
      return work;
    },
  };
  if (runsInFlight++ === 0) process.on("unhandledRejection", onUnhandled);
  try {
    return await currentRun.run({ failures }, () =>
      run(config, stack, preview, mocks, declared, pending, failures, (m) => (monitor = m), {
        readBlueprintState: options.readBlueprintState,
        ...(options.rereadIntervalInMs !== undefined ? { rereadIntervalInMs: options.rereadIntervalInMs } : {}),
      }),
    );
  } finally {
    // Late rejections of this run still land here for a moment.
    setTimeout(() => {
      if (--runsInFlight === 0) process.off("unhandledRejection", onUnhandled);
    }, 100).unref();
  }
}

async function run(
  config: StackConfig,
  stack: string,
  preview: boolean,
  mocks: Mocks,
  declared: DeclaredResource[],
  pending: Set<Promise<unknown>>,
  failures: ResourceFailure[],
  setMonitor: (m: RecordingMonitor) => void,
  inputOptions: ReadProgramInputsOptions,
): Promise<{ declared: DeclaredResource[]; outputs: Props }> {
  await pulumi.runtime.setMocks(mocks, PROJECT, stack, preview);
  const monitor = new RecordingMonitor(mocks);
  setMonitor(monitor);
  pulumiSettings.setMockOptions(monitor, PROJECT, stack, preview);

  // The reads the program makes first (a landing zone's outputs, the provider's subscription, a
  // blueprint's run state in the state store). A
  // failed read (a StackReference to a stack that does not exist) also rejects promises inside
  // Pulumi's runtime that nothing awaits, which Node reports only once the current task is done: one
  // turn of the event loop, and they are reported within this run, whose failure they are.
  let inputs: ProgramInputs;
  try {
    inputs = await readProgramInputs(config, inputOptions);
  } catch (e) {
    await new Promise((r) => setImmediate(r));
    throw e;
  }
  let outputs: Props = {};
  // Declaring ten VMs took two seconds of a failover's RTO, for two things this run has no use for.
  // Pulumi keeps a stack trace of every output property it registers (for its report of leaked
  // promises), formatted through source maps: each step of the declaration is one synchronous call,
  // so traces are off only while no other code can run. And azure-native gives each resource an alias
  // per older API version (about fifty), each turned into URN outputs: this deployer keeps no URN
  // history for them to match, so they are dropped.
  const program = await declareInTurns(
    declareProgram(config, inputs, {
      transformations: [({ props, opts }) => ({ props, opts: { ...opts, aliases: [] } })],
    }),
    untraced,
  );
  const result = pulumi.output(program);
  const settled = new Promise<void>((resolveOutputs) => {
    result.apply((o) => {
      outputs = o as Props;
      resolveOutputs();
    });
  });
  // Outputs resolve once what they name exists; other registrations may still be in flight, and a
  // failed one leaves the outputs (and whatever depends on it) waiting forever: wait for quiet. As the
  // engine does, the run also waits for every registration the program has begun, including one whose
  // inputs are still promises (a VM waiting for its disks' detach): Pulumi's runtime counts each until
  // it is sent or fails.
  let drained = false;
  const rpcs = waitForRegistrations().then(() => {
    drained = true;
  });
  for (;;) {
    await new Promise((r) => setImmediate(r));
    if (pending.size === 0) {
      await new Promise((r) => setTimeout(r, 5));
      if (pending.size !== 0) continue;
      if (drained || failures.length) break;
      await Promise.race([rpcs, new Promise((r) => setTimeout(r, 50))]);
      continue;
    }
    await Promise.race([Promise.allSettled([...pending]), settled]);
  }
  if (failures.length === 1 && !failures[0]!.resource) throw failures[0]!.error;
  if (failures.length) throw new ResourcesFailedError(failures);
  await Promise.race([settled, new Promise((r) => setTimeout(r, 50))]);
  for (const d of declared) {
    const urn = monitor.urns.get(d.key);
    if (urn) d.urn = urn;
  }
  return { declared, outputs };
}

/** Runs `step` with no stack traces taken (`Error.stackTraceLimit` 0): for synchronous work only. */
function untraced<T>(step: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return step();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export interface ResourceFailure {
  /** `Type name` of the resource, when the failure came from one. */
  resource?: string;
  error: unknown;
}

/** One or more resources of a run failed; each failure keeps its resource and cause. */
export class ResourcesFailedError extends FerryError {
  readonly failures: ResourceFailure[];

  constructor(failures: ResourceFailure[]) {
    const lines = failures.map(
      (f) => `  ${f.resource ?? "program"}: ${f.error instanceof Error ? f.error.message : String(f.error)}`,
    );
    super(
      `${failures.length === 1 ? "A resource" : `${failures.length} resources`} failed; what did not depend on ${failures.length === 1 ? "it" : "them"} was deployed:\n${lines.join("\n")}`,
      {
        code: "ResourcesFailed",
        cause: failures[0]!.error,
        details: {
          failures: failures.map((f) => ({
            resource: f.resource,
            error: f.error instanceof Error ? f.error.message : String(f.error),
          })),
        },
      },
    );
    this.failures = failures;
  }
}
