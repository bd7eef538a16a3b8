import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import type { TableClient } from "@azure/data-tables";
import type { AzureClients } from "../../adapters/azure/clients";
import { readBlueprintRunState } from "../../adapters/state/blueprint-state";
import type { BlueprintStateReader } from "../../core/schemas/blueprint-state";
import { writeJsonAtomic } from "../../adapters/files/atomic-json";
import { FerryError, isNotFound, UserError } from "../../core/errors";
import { redactSecrets } from "../../core/redact";
import type { CreateContextOptions } from "../../runbooks/context";
import { parseStackConfig } from "../../stacks/config";
import {
  policyRefusal,
  type Deployer,
  type HistoryEntry,
  type PreviewResult,
  type ResourceChanges,
  type UpOptions,
  type UpResult,
} from "../../runbooks/deployers/deployer";
import {
  evaluatePolicies,
  evaluateResourcePolicies,
  evaluateStackPolicies,
  type PolicyLike,
  type PolicyViolation,
} from "./policy-eval";
import {
  PROJECT,
  ResourcesFailedError,
  runProgram,
  type DeclaredResource,
  type RunProgramOptions,
} from "./program-run";
import { RESOURCE_KINDS, type Props } from "./resource-kinds";

interface StateResource {
  key: string;
  type: string;
  name: string;
  id: string;
  inputs: Props;
  outputs: Props;
  order: number;
  protect: boolean;
  retainOnDelete: boolean;
}

interface StackState {
  config: Record<string, unknown>;
  resources: StateResource[];
  outputs: Record<string, unknown>;
  history: HistoryEntry[];
}

export interface LocalDeployerOptions {
  /** Folder of the deployer's state: one JSON file per stack. */
  stateDir: string;
  /** Clients of the Azure to apply to (the local emulator). */
  azure: AzureClients;
  /**
   * Reads a blueprint's run state (mode, recovery points, progress, current sources) for the
   * program, from the same state store the runbooks write: {@link tableStateReader}.
   */
  readBlueprintState: BlueprintStateReader;
  /** The policy pack's rules, evaluated when the engine evaluates them (see {@link LocalDeployer}). */
  policies: readonly PolicyLike[];
  logger: Logger;
  /** Polling of long-running operations, in milliseconds. Default 10 (the emulator answers at once). */
  pollIntervalInMs?: number;
  now?: () => Date;
}

/**
 * The local deployer applies stacks straight through ARM, with no engine, no state backend and no
 * policy service: it is a stand-in for the local Azure only, never for a real subscription.
 */
export function assertLoopback(armEndpoint: string): void {
  const host = new URL(armEndpoint).hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host)) return;
  throw new UserError(
    `The local deployer applies stacks only to the local Azure on a loopback address, not to ${armEndpoint}. ` +
      'Against Azure, set "deployer": { "kind": "pulumi" } in ferry.json.',
    { code: "LocalDeployerNotLoopback" },
  );
}

/** The `localDeployer` factory the local harness hands to `createContext` (deployer.kind "local"). */
export const localDeployer: NonNullable<CreateContextOptions["localDeployer"]> = (config, deps) => {
  if (config.deployer.kind !== "local") throw new Error("localDeployer is only for deployer.kind local");
  return new LocalDeployer({
    stateDir: config.deployer.stateDir,
    azure: deps.azure,
    readBlueprintState: tableStateReader(deps.stateStore),
    policies: deps.policies,
    logger: deps.logger,
    pollIntervalInMs: config.azure.pollIntervalInMs,
    now: deps.now,
  });
};

/**
 * The program's reader of run state on the runbooks' own table client (Azurite, locally), in place
 * of the one the program builds from the landing zone's `stateStore` output under the real engine
 * (an Entra sign-in to a storage account the local Azure does not serve). The landing zone must name
 * the same table, or the program would read another store than the runbooks write.
 */
export function tableStateReader(client: TableClient): BlueprintStateReader {
  return (blueprint, location, readOptions) => {
    if (location.tableName.toLowerCase() !== client.tableName.toLowerCase())
      throw new UserError(
        `The landing zone's state store is table ${location.tableName}, but the runbooks use ${client.tableName} ` +
          "(ferry.json's stateStore): set the same table in both.",
        { code: "StateStoreMismatch" },
      );
    return readBlueprintRunState(client, blueprint, readOptions);
  };
}

const none = (): ResourceChanges => ({ create: 0, update: 0, delete: 0, same: 0 });

/**
 * Runs ferry's Pulumi program in-process (Pulumi's mocks interface, with an asynchronous
 * `newResource`) and applies what it declares to Azure through the Azure SDK, in dependency order.
 * It judges the policy pack when the engine does, so a gate that would not hold under Pulumi does
 * not hold here either: `preview` runs every rule and changes nothing; `up` (the Automation API's
 * `up` has no preview) runs the resource policies on each resource just before creating or
 * updating it (a mandatory violation stops the update there: what was created before stays,
 * nothing after is created) and the stack policies once every resource is registered (a mandatory
 * violation fails the update, and undoes nothing). It keeps each stack's resources, outputs and a
 * history of operations in `stateDir`, so a second `up` updates or deletes what the first created.
 */
export class LocalDeployer implements Deployer {
  private readonly poll: { updateIntervalInMs: number };
  private readonly now: () => Date;

  constructor(private readonly options: LocalDeployerOptions) {
    assertLoopback(options.azure.armEndpoint);
    mkdirSync(options.stateDir, { recursive: true });
    this.poll = { updateIntervalInMs: options.pollIntervalInMs ?? 10 };
    this.now = options.now ?? (() => new Date());
  }

  private path(stack: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(stack))
      throw new UserError(`'${stack}' is not a stack name: use letters, digits, '.', '_' and '-'.`, {
        code: "InvalidStackName",
      });
    return join(this.options.stateDir, `${stack}.json`);
  }

  private load(stack: string): StackState {
    const p = this.path(stack);
    if (!existsSync(p)) return { config: {}, resources: [], outputs: {}, history: [] };
    return JSON.parse(readFileSync(p, "utf8")) as StackState;
  }

  private async save(stack: string, state: StackState): Promise<void> {
    const p = this.path(stack);
    await writeJsonAtomic(p, state);
  }

  async setConfig(stack: string, values: Record<string, unknown>): Promise<void> {
    const state = this.load(stack);
    state.config = { ...state.config, ...values };
    await this.save(stack, state);
  }

  async getConfig(stack: string): Promise<Record<string, unknown>> {
    return this.load(stack).config;
  }

  async stacks(): Promise<{ name: string; kind?: string }[]> {
    return readdirSync(this.options.stateDir)
      .map((f) => /^(.+)\.json$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .sort()
      .map((name) => {
        const kind = this.load(name).config.kind;
        return typeof kind === "string" ? { name, kind } : { name };
      });
  }

  async history(stack: string): Promise<HistoryEntry[]> {
    return [...this.load(stack).history].reverse();
  }

  async outputs(stack: string): Promise<Record<string, unknown>> {
    return this.load(stack).outputs;
  }

  /** What the program reads besides its config: other stacks' outputs, its subscription, a blueprint's run state. */
  private reads(): Pick<
    RunProgramOptions,
    "stackOutputs" | "subscriptionId" | "readBlueprintState" | "rereadIntervalInMs"
  > {
    return {
      stackOutputs: async (name) => this.referencedOutputs(name),
      subscriptionId: this.options.azure.subscriptionId,
      readBlueprintState: this.options.readBlueprintState,
      // A VM waiting for its detach reads the store at the pace this deployer polls Azure.
      rereadIntervalInMs: this.options.pollIntervalInMs ?? 10,
    };
  }

  /**
   * The outputs a StackReference to `name` reads, as the engine gives them: those of its last
   * update (none before one), as the one stack output `outputs` the program exports
   * (stacks/index.ts). `name` is `<stack>`, `<org>/<stack>` or `<org>/<project>/<stack>`; this
   * deployer has one project and no organizations. A stack it never created is an error.
   */
  private referencedOutputs(name: string): Props {
    const parts = name.split("/");
    const stack = parts.at(-1)!;
    if (parts.length === 3 && parts[1] !== PROJECT)
      throw new UserError(
        `Stack ${name} is of project ${parts[1]}: the local deployer has the stacks of project ${PROJECT} only.`,
        { code: "UnknownStack" },
      );
    if (!existsSync(this.path(stack)))
      throw new UserError(
        `Stack ${name} does not exist: the local deployer has no stack ${stack} in ${this.options.stateDir}.`,
        {
          code: "UnknownStack",
        },
      );
    const outputs = this.load(stack).outputs;
    return Object.keys(outputs).length ? { outputs } : {};
  }

  private configFor(state: StackState, options: Pick<UpOptions, "config">, stack: string) {
    const raw = { ...state.config, ...options.config };
    return { raw, parsed: parseStackConfig(raw, stack) };
  }

  /** Declares the program with what is known (stored outputs, or ids Azure will give) and judges it. */
  private async plan(stack: string, state: StackState, options: Pick<UpOptions, "config" | "policyConfig">) {
    const { raw, parsed } = this.configFor(state, options, stack);
    const known = new Map(state.resources.map((r) => [r.key, r]));
    const sub = this.options.azure.subscriptionId;
    const { declared } = await runProgram(parsed, stack, {
      ...this.reads(),
      preview: true,
      resolve: async (r) => {
        const existing = known.get(r.key);
        if (existing) return { id: existing.id, outputs: existing.outputs };
        const kind = RESOURCE_KINDS[r.type];
        const id = kind ? kind.armId(r.inputs, sub) : `${r.type}/${r.name}`;
        return { id, outputs: { ...r.inputs, id, name: kind ? r.inputs[kind.nameInput] : r.name } };
      },
    });
    const violations = await evaluatePolicies(this.options.policies, declared, options.policyConfig ?? {}, stack);
    const changes = none();
    const keys = new Set(declared.filter((d) => d.custom).map((d) => d.key));
    for (const d of declared) {
      if (!d.custom) continue;
      const existing = known.get(d.key);
      if (!existing) changes.create++;
      else if (sameInputs(existing.inputs, d.inputs, d.ignoreChanges)) changes.same++;
      else changes.update++;
    }
    for (const r of state.resources) if (!keys.has(r.key) && !r.retainOnDelete) changes.delete++;
    return { raw, parsed, declared, violations, changes };
  }

  async preview(stack: string, options: Omit<UpOptions, "message">): Promise<PreviewResult> {
    const { changes, violations } = await this.plan(stack, this.load(stack), options);
    return { changes, violations };
  }

  async up(stack: string, options: UpOptions): Promise<UpResult> {
    const log = this.options.logger.child({ stack, operation: options.message });
    const state = this.load(stack);
    const startTime = this.now().toISOString();
    const version = (state.history.at(-1)?.version ?? 0) + 1;
    const changes = none();
    let raw: Record<string, unknown> = { ...state.config, ...options.config };
    const finish = async (result: "succeeded" | "failed", error?: unknown) => {
      state.history.push({
        version,
        kind: "update",
        message: options.message,
        startTime,
        endTime: this.now().toISOString(),
        result,
        resourceChanges: { ...changes },
        config: raw,
        ...(error ? { error: redactSecrets((error as Error).message) } : {}),
      });
      await this.save(stack, state);
    };
    const policies = this.options.policies;
    const policyConfig = options.policyConfig ?? {};
    const advisories: PolicyViolation[] = [];
    const warn = (vs: PolicyViolation[]) => {
      for (const a of vs.filter((v) => v.enforcementLevel === "advisory")) {
        advisories.push(a);
        log.warn({ policy: a.policy, resource: a.resource }, a.message);
      }
    };
    // Set by the first resource the pack refuses: the update stops there, as the engine's does.
    let refused: { resource: DeclaredResource; violations: PolicyViolation[] } | undefined;
    try {
      const { raw: merged, parsed } = this.configFor(state, options, stack);
      raw = merged;
      state.config = raw;
      let declared: DeclaredResource[];
      let outputs: Props;
      try {
        ({ declared, outputs } = await runProgram(parsed, stack, {
          ...this.reads(),
          preview: false,
          resolve: async (r) => {
            if (refused) throw new NotApplied(r);
            const violations = await evaluateResourcePolicies(policies, { resource: r }, policyConfig, stack);
            warn(violations);
            if (violations.some((v) => v.enforcementLevel === "mandatory")) {
              refused ??= { resource: r, violations: [] };
              refused.violations.push(...violations.filter((v) => v.enforcementLevel === "mandatory"));
              throw new NotApplied(r);
            }
            // Another was refused while this one was judged: the engine starts no step after a refusal.
            if (refused) throw new NotApplied(r);
            return this.applyResource(state, r, changes, log, options.onResource);
          },
        }));
      } catch (e) {
        if (!refused) throw e;
        const failures = e instanceof ResourcesFailedError ? e.failures : [];
        const other = failures.find((f) => !(f.error instanceof NotApplied));
        if (other) throw e;
        const { resource, violations } = refused;
        throw policyRefusal(
          stack,
          violations,
          `it refused ${resource.type.split(":").pop()} ${resource.name} before creating or updating it, and the ` +
            `update stopped there (${changes.create} created and ${changes.update} updated before it stay; ` +
            "nothing after it was created).",
        );
      }
      // Stack policies run once every resource is registered, on what the resources are now (outputs).
      const applied = new Map(state.resources.map((x) => [x.key, x.outputs]));
      const judged = declared.map((resource) => ({ resource, props: applied.get(resource.key) ?? resource.inputs }));
      const atEnd = await evaluateStackPolicies(policies, judged, policyConfig, stack);
      warn(atEnd);
      if (atEnd.some((v) => v.enforcementLevel === "mandatory")) {
        state.outputs = outputs;
        throw policyRefusal(
          stack,
          atEnd,
          "its stack policies, which run once every resource is registered, refused the stack after " +
            `${changes.create} resource(s) were created and ${changes.update} updated: they stay, and the update ` +
            "failed before deleting what the program no longer declares.",
        );
      }
      await this.deleteUndeclared(state, declared, changes, log, options.onResource);
      state.outputs = outputs;
      await finish("succeeded");
      log.info({ version, changes }, "stack updated");
      return { version, changes, outputs, advisories: advisories.map(toReport) };
    } catch (e) {
      await finish("failed", e);
      throw e;
    }
  }

  async destroy(stack: string, options: { message: string }): Promise<{ version: number; changes: ResourceChanges }> {
    const state = this.load(stack);
    const startTime = this.now().toISOString();
    const version = (state.history.at(-1)?.version ?? 0) + 1;
    const changes = none();
    let error: unknown;
    try {
      await this.deleteUndeclared(state, [], changes, this.options.logger.child({ stack }));
      state.outputs = {};
    } catch (e) {
      error = e;
    }
    state.history.push({
      version,
      kind: "destroy",
      message: options.message,
      startTime,
      endTime: this.now().toISOString(),
      result: error ? "failed" : "succeeded",
      resourceChanges: changes,
      config: state.config,
      ...(error ? { error: redactSecrets((error as Error).message) } : {}),
    });
    await this.save(stack, state);
    if (error) throw error;
    return { version, changes };
  }

  /** Creates or updates one declared resource in Azure, recording it in the state as soon as it exists. */
  private async applyResource(
    state: StackState,
    r: DeclaredResource,
    changes: ResourceChanges,
    log: Logger,
    onResource?: UpOptions["onResource"],
  ): Promise<{ id: string; outputs: Props }> {
    const kind = RESOURCE_KINDS[r.type];
    if (!kind)
      throw new FerryError(
        `The local deployer cannot create ${r.type} (${r.name}): add it to runbooks/deployers/resource-kinds.ts.`,
        { code: "UnsupportedResource" },
      );
    const existing = state.resources.find((s) => s.key === r.key);
    if (existing && sameInputs(existing.inputs, r.inputs, r.ignoreChanges)) {
      changes.same++;
      return { id: existing.id, outputs: existing.outputs };
    }
    const sub = this.options.azure.subscriptionId;
    const id = kind.armId(r.inputs, sub);
    let inputs = r.inputs;
    if (existing && r.ignoreChanges.length) {
      inputs = kind.live
        ? await kind.live(
            this.options.azure,
            existing.id,
            keepIgnored(r.inputs, existing.inputs, r.ignoreChanges),
            r.ignoreChanges,
          )
        : keepIgnored(r.inputs, existing.inputs, r.ignoreChanges);
    }
    const started = Date.now();
    const result = kind.apply
      ? await kind.apply(this.options.azure, inputs, this.poll)
      : { ...kind.synthesize?.(inputs, id) };
    const outputs: Props = {
      ...inputs,
      ...result,
      id: (result.id as string | undefined) ?? id,
      name: (result.name as string | undefined) ?? inputs[kind.nameInput],
    };
    const record: StateResource = {
      key: r.key,
      type: r.type,
      name: r.name,
      id: outputs.id as string,
      inputs: r.inputs,
      outputs,
      order: existing?.order ?? Math.max(-1, ...state.resources.map((s) => s.order)) + 1,
      protect: r.protect,
      retainOnDelete: r.retainOnDelete,
    };
    state.resources = [...state.resources.filter((s) => s.key !== r.key), record];
    if (existing) changes.update++;
    else changes.create++;
    log.info({ type: r.type, name: r.name, id: record.id, ms: Date.now() - started }, existing ? "updated" : "created");
    onResource?.({
      type: r.type,
      name: r.name,
      action: existing ? "updated" : "created",
      at: this.now(),
      ms: Date.now() - started,
    });
    return { id: record.id, outputs };
  }

  /**
   * Deletes what the state holds and the program no longer declares, newest first; retained resources are only
   * forgotten.
   */
  private async deleteUndeclared(
    state: StackState,
    declared: DeclaredResource[],
    changes: ResourceChanges,
    log: Logger,
    onResource?: UpOptions["onResource"],
  ): Promise<void> {
    const keep = new Set(declared.filter((d) => d.custom).map((d) => d.key));
    const gone = state.resources.filter((r) => !keep.has(r.key)).sort((a, b) => b.order - a.order);
    for (const r of gone) {
      if (r.protect)
        throw new UserError(
          `${r.type} ${r.name} is protected and would be deleted. Unprotect it first if that is intended.`,
          { code: "ProtectedResource" },
        );
      if (!r.retainOnDelete) {
        const kind = RESOURCE_KINDS[r.type];
        await kind?.remove?.(this.options.azure, r.id, this.poll).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
        changes.delete++;
        log.info({ type: r.type, name: r.name, id: r.id }, "deleted");
        onResource?.({ type: r.type, name: r.name, action: "deleted", at: this.now() });
      } else {
        log.info({ type: r.type, name: r.name, id: r.id }, "retained (retainOnDelete): no longer managed, not deleted");
      }
      state.resources = state.resources.filter((s) => s.key !== r.key);
    }
  }
}

/** A resource the update did not create or change because the policy pack stopped it. */
class NotApplied extends Error {
  constructor(r: DeclaredResource) {
    super(`${r.type.split(":").pop()} ${r.name} was not applied: the policy pack stopped the update`);
  }
}

function toReport(v: PolicyViolation) {
  return { ...v };
}

/** Whether two input sets are equal outside the ignored property paths (`a.b.c`). */
function sameInputs(a: Props, b: Props, ignore: string[]): boolean {
  return isDeepStrictEqual(strip(a, ignore), strip(b, ignore));
}

function strip(p: Props, ignore: string[]): Props {
  const copy = JSON.parse(JSON.stringify(p)) as Props;
  for (const path of ignore) {
    const parts = path.split(".");
    let cur: Props | undefined = copy;
    for (const part of parts.slice(0, -1)) cur = cur?.[part] as Props | undefined;
    if (cur) delete cur[parts.at(-1)!];
  }
  return copy;
}

/** Inputs with the ignored paths taken from what was applied before (ignoreChanges). */
function keepIgnored(next: Props, previous: Props, ignore: string[]): Props {
  const out = JSON.parse(JSON.stringify(next)) as Props;
  for (const path of ignore) {
    const parts = path.split(".");
    let src: Props | undefined = previous;
    let dst: Props = out;
    for (const part of parts.slice(0, -1)) {
      src = src?.[part] as Props | undefined;
      dst[part] ??= {};
      dst = dst[part] as Props;
    }
    const last = parts.at(-1)!;
    if (src && last in src) dst[last] = src[last];
    else delete dst[last];
  }
  return out;
}
