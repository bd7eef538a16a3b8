import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LocalWorkspace, StackNotFoundError, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";
import { load as loadYaml } from "js-yaml";
import type { Logger } from "pino";
import { UserError } from "../../core/errors";
import { redactSecrets } from "../../core/redact";
import {
  policyRefusal,
  type Deployer,
  type HistoryEntry,
  type PolicyViolationReport,
  type PreviewResult,
  type ResourceChanges,
  type UpOptions,
  type UpResult,
} from "./deployer";

export interface PulumiDeployerOptions {
  /** The project root (where Pulumi.yaml is; stack files live in stacks/). */
  workDir: string;
  /** The policy pack's folder. Default `<workDir>/policies`. */
  policyPackDir?: string;
  logger: Logger;
  /** Environment for the Pulumi CLI (credentials come from the pipeline: workload identity, ARM_* variables). */
  envVars?: Record<string, string>;
  /**
   * Opens (creating if needed) the stack named `stackName` of the project in `workDir`. Default:
   * `LocalWorkspace.createOrSelectStack`, the Pulumi CLI. Tests hand a stand-in where the CLI is absent.
   */
  openStack?: (stackName: string, workDir: string, envVars?: Record<string, string>) => Promise<Stack>;
}

/** The options of a preview or an update that the policy pack judges. */
type JudgedOptions = Omit<UpOptions, "message"> & { message?: string };

const CONFIG_PREFIX = "ferry:";

/**
 * The deployer where the Pulumi CLI exists: the Automation API on the project's own program
 * (`LocalWorkspace`, `stackConfigDir: stacks`), every `up` and `preview` judged by the policy pack
 * with the precheck's facts as its config, the CLI's output into the logger, and messages that name
 * the operation (stack history is the operation log).
 *
 * The Automation API's `up` runs `pulumi up --yes --skip-preview` (`Stack.up` in
 * @pulumi/pulumi/automation/stack.js), so a mandatory violation would stop the real engine in the
 * middle of the update, after what it created before, with the CLI's exit 1. Every `up` therefore
 * previews with the pack first, where every rule (stack policies too) sees every resource and
 * nothing is created, and refuses on any mandatory violation with the same typed error the local
 * deployer throws (`policyRefusal`, exit 3), before the update starts.
 */
export class PulumiDeployer implements Deployer {
  private readonly workDir: string;
  private readonly policyPackDir: string;

  constructor(private readonly options: PulumiDeployerOptions) {
    this.workDir = resolve(options.workDir);
    this.policyPackDir = resolve(options.policyPackDir ?? join(this.workDir, "policies"));
  }

  /**
   * The pack's folder, once its entry is built: Pulumi runs the `main` of its package.json, which
   * `npm ci` (prepare) or `npm run build` writes. Refused with what to run when it is missing, so a
   * break-glass run does not fail inside the engine with a module not found.
   */
  private builtPolicyPack(): string {
    let main = "index.js";
    try {
      const pkg = JSON.parse(readFileSync(join(this.policyPackDir, "package.json"), "utf8")) as { main?: unknown };
      if (typeof pkg.main === "string") main = pkg.main;
    } catch {
      // No package.json: Pulumi then looks for index.js, as checked below.
    }
    if (!existsSync(join(this.policyPackDir, main))) {
      throw new UserError(
        `The policy pack at ${this.policyPackDir} is not built (${main} is missing). Run \`npm ci\` or ` +
          "`npm run build` in the project first: it builds the pack's entry.",
        { code: "PolicyPackNotBuilt" },
      );
    }
    return this.policyPackDir;
  }

  private stack(name: string): Promise<Stack> {
    if (this.options.openStack) return this.options.openStack(name, this.workDir, this.options.envVars);
    return LocalWorkspace.createOrSelectStack(
      { stackName: name, workDir: this.workDir },
      { ...(this.options.envVars ? { envVars: this.options.envVars } : {}) },
    );
  }

  /** The stack config file of `name` (`stackConfigDir: stacks` in Pulumi.yaml). */
  private configFile(name: string): string {
    return join(this.workDir, "stacks", `Pulumi.${name}.yaml`);
  }

  /**
   * A stack to read, never created: a typo'd name must not leave an empty stack in the backend.
   * A stack with a config file is a real one (created at its first read, as a write would);
   * without one, only a stack the backend already has is selected, else undefined.
   */
  private async existingStack(name: string): Promise<Stack | undefined> {
    if (this.options.openStack || existsSync(this.configFile(name))) return this.stack(name);
    try {
      return await LocalWorkspace.selectStack(
        { stackName: name, workDir: this.workDir },
        { ...(this.options.envVars ? { envVars: this.options.envVars } : {}) },
      );
    } catch (e) {
      if (e instanceof StackNotFoundError) return undefined;
      throw e;
    }
  }

  async stacks(): Promise<{ name: string; kind?: string }[]> {
    const dir = join(this.workDir, "stacks");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .sort()
      .map((name) => {
        const doc = loadYaml(readFileSync(this.configFile(name), "utf8")) as {
          config?: Record<string, unknown>;
        } | null;
        const kind = doc?.config?.[`${CONFIG_PREFIX}kind`];
        return typeof kind === "string" ? { name, kind } : { name };
      });
  }

  async setConfig(stack: string, values: Record<string, unknown>): Promise<void> {
    const s = await this.stack(stack);
    const config: Record<string, { value: string }> = {};
    for (const [k, v] of Object.entries(values))
      config[`${CONFIG_PREFIX}${k}`] = { value: typeof v === "string" ? v : JSON.stringify(v) };
    await s.setAllConfig(config);
  }

  async getConfig(stack: string): Promise<Record<string, unknown>> {
    const s = await this.existingStack(stack);
    if (!s) return {};
    const all = await s.getAllConfig();
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(all)) {
      if (!k.startsWith(CONFIG_PREFIX)) continue;
      try {
        out[k.slice(CONFIG_PREFIX.length)] = JSON.parse(v.value);
      } catch {
        out[k.slice(CONFIG_PREFIX.length)] = v.value;
      }
    }
    return out;
  }

  /** Runs `fn` with the policy pack's config in a file the CLI reads, removed afterwards. */
  private async withPolicyConfig<T>(
    policyConfig: Record<string, unknown> | undefined,
    fn: (files: string[]) => Promise<T>,
  ): Promise<T> {
    if (!policyConfig) return fn([]);
    const dir = mkdtempSync(join(tmpdir(), "ferry-policy-"));
    const file = join(dir, "policy-config.json");
    writeFileSync(file, JSON.stringify(policyConfig), { mode: 0o600 });
    try {
      return await fn([file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private onOutput(stack: string) {
    const log = this.options.logger.child({ stack, component: "pulumi" });
    return (out: string) => {
      for (const line of out.split("\n")) if (line.trim()) log.info({ pulumi: redactSecrets(line) }, "pulumi");
    };
  }

  async up(stack: string, options: UpOptions): Promise<UpResult> {
    const s = await this.stack(stack);
    if (options.config) await this.setConfig(stack, options.config);
    const previewed = await this.previewWithPack(s, stack, options);
    if (previewed.violations.some((v) => v.enforcementLevel === "mandatory")) {
      throw policyRefusal(
        stack,
        previewed.violations,
        "its preview with the pack, run before the update, found mandatory violations; nothing was changed.",
      );
    }
    const reported: PolicyViolationReport[] = [];
    let result: Awaited<ReturnType<Stack["up"]>>;
    try {
      result = await this.withPolicyConfig(options.policyConfig, (files) =>
        s.up({
          message: options.message,
          policyPacks: [this.builtPolicyPack()],
          policyPackConfigs: files,
          onOutput: this.onOutput(stack),
          onEvent: (e) => {
            collectPolicy(e, reported);
            const done = e.resOutputsEvent?.metadata;
            if (done && options.onResource && (done.op === "create" || done.op === "update" || done.op === "delete")) {
              options.onResource({
                type: done.type,
                name: done.urn.split("::").pop() ?? done.urn,
                action: done.op === "create" ? "created" : done.op === "update" ? "updated" : "deleted",
                at: new Date(),
              });
            }
          },
          ...(options.abortSignal ? { signal: options.abortSignal } : {}),
        }),
      );
    } catch (e) {
      // What the preview could not know (values computed during the update) the engine judges now.
      if (!reported.some((v) => v.enforcementLevel === "mandatory")) throw e;
      throw policyRefusal(
        stack,
        reported,
        "the engine refused a resource during the update, after the preview had passed; what it created " +
          "before stays, and nothing after it was created.",
      );
    }
    const summary = result.summary;
    const outputs = result.outputs.outputs?.value as Record<string, unknown> | undefined;
    return {
      version: summary.version,
      changes: changesOf(summary.resourceChanges),
      outputs: outputs ?? {},
      advisories: reported.filter((a) => a.enforcementLevel === "advisory"),
    };
  }

  async preview(stack: string, options: JudgedOptions): Promise<PreviewResult> {
    const s = await this.stack(stack);
    if (options.config) await this.setConfig(stack, options.config);
    return this.previewWithPack(s, stack, options);
  }

  /**
   * `pulumi preview` with the pack and its config. A mandatory violation makes the CLI fail the
   * preview: that is an answer (the violations), not an error; any other failure is thrown.
   */
  private async previewWithPack(s: Stack, stack: string, options: JudgedOptions): Promise<PreviewResult> {
    const violations: PolicyViolationReport[] = [];
    try {
      const result = await this.withPolicyConfig(options.policyConfig, (files) =>
        s.preview({
          ...(options.message ? { message: options.message } : {}),
          policyPacks: [this.builtPolicyPack()],
          policyPackConfigs: files,
          onOutput: this.onOutput(stack),
          onEvent: (e) => collectPolicy(e, violations),
        }),
      );
      return { changes: changesOf(result.changeSummary as Record<string, number>), violations };
    } catch (e) {
      if (!violations.some((v) => v.enforcementLevel === "mandatory")) throw e;
      return { changes: changesOf(undefined), violations };
    }
  }

  async destroy(stack: string, options: { message: string }): Promise<{ version: number; changes: ResourceChanges }> {
    const result = await (
      await this.stack(stack)
    ).destroy({ message: options.message, onOutput: this.onOutput(stack) });
    return { version: result.summary.version, changes: changesOf(result.summary.resourceChanges) };
  }

  async history(stack: string): Promise<HistoryEntry[]> {
    const s = await this.existingStack(stack);
    if (!s) return [];
    const entries = await s.history();
    return entries.map((h) => ({
      version: h.version,
      kind: h.kind === "destroy" ? "destroy" : "update",
      message: h.message,
      startTime: new Date(h.startTime).toISOString(),
      endTime: new Date(h.endTime).toISOString(),
      result: h.result === "succeeded" ? "succeeded" : "failed",
      resourceChanges: changesOf(h.resourceChanges),
      config: Object.fromEntries(
        Object.entries(h.config ?? {})
          .filter(([k]) => k.startsWith(CONFIG_PREFIX))
          .map(([k, v]) => [k.slice(CONFIG_PREFIX.length), v.value]),
      ),
    }));
  }

  async outputs(stack: string): Promise<Record<string, unknown>> {
    const s = await this.existingStack(stack);
    if (!s) return {};
    const out = await s.outputs();
    return (out.outputs?.value as Record<string, unknown> | undefined) ?? {};
  }
}

function changesOf(c: Record<string, number> | undefined): ResourceChanges {
  return { create: c?.create ?? 0, update: c?.update ?? 0, delete: c?.delete ?? 0, same: c?.same ?? 0 };
}

function collectPolicy(e: EngineEvent, into: PolicyViolationReport[]): void {
  const p = e.policyEvent;
  if (!p) return;
  into.push({
    policy: p.policyName,
    enforcementLevel: p.enforcementLevel === "mandatory" ? "mandatory" : "advisory",
    message: p.message,
    ...(p.resourceUrn ? { resource: p.resourceUrn } : {}),
  });
}
