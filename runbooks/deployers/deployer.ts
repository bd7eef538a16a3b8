/** How runbooks drive the stacks: the Pulumi Automation API where the CLI exists, the local deployer elsewhere. */
import { UserError } from "../../core/errors";

export interface ResourceChanges {
  create: number;
  update: number;
  delete: number;
  same: number;
}

export interface PolicyViolationReport {
  policy: string;
  enforcementLevel: "advisory" | "mandatory";
  message: string;
  resource?: string;
}

/**
 * The error every deployer throws when the policy pack refuses an update: a UserError with code
 * "PolicyViolation", which the CLI maps to exit 3 (a gate said no). `summary` says when the pack
 * refused and what that left behind; each mandatory violation follows on its own line.
 */
export function policyRefusal(stack: string, violations: PolicyViolationReport[], summary: string): UserError {
  const mandatory = violations.filter((v) => v.enforcementLevel === "mandatory");
  const lines = mandatory.map((v) => `  [${v.policy}] ${v.message}${v.resource ? ` (${v.resource})` : ""}`);
  return new UserError(`The policy pack refused the update of stack ${stack}: ${summary}\n${lines.join("\n")}`, {
    code: "PolicyViolation",
    details: { violations: mandatory },
  });
}

export interface UpOptions {
  /** Recorded in the stack history: say which operation this is ("failover web (planned) op-42"). */
  message: string;
  /**
   * Stack config to set before the update (`ferry:` keys without the prefix). Not a blueprint's mode
   * or recovery points: the program reads those from the state store, where the runbooks record them.
   */
  config?: Record<string, unknown>;
  /** Config of the policy pack, by policy name (the precheck's facts). */
  policyConfig?: Record<string, unknown>;
  /** Told of each resource created, updated or deleted, as it happens (row-level logs, RTO). */
  onResource?: (event: ResourceEvent) => void;
  abortSignal?: AbortSignal;
}

export interface ResourceEvent {
  type: string;
  name: string;
  action: "created" | "updated" | "deleted";
  at: Date;
  /** How long the operation took, in milliseconds, when known. */
  ms?: number;
}

export interface UpResult {
  version: number;
  changes: ResourceChanges;
  outputs: Record<string, unknown>;
  /** Advisory violations (a mandatory one stops the update with a `policyRefusal`). */
  advisories: PolicyViolationReport[];
}

export interface PreviewResult {
  changes: ResourceChanges;
  violations: PolicyViolationReport[];
}

export interface HistoryEntry {
  version: number;
  kind: "update" | "destroy";
  message: string;
  startTime: string;
  endTime: string;
  result: "succeeded" | "failed";
  resourceChanges: ResourceChanges;
  /** The `ferry:` config the operation ran with. */
  config: Record<string, unknown>;
  error?: string;
}

export interface Deployer {
  /** Sets `ferry:` config keys of a stack (creating the stack if needed). */
  setConfig(stack: string, values: Record<string, unknown>): Promise<void>;
  /** A stack's `ferry:` config; `{}` for a stack that does not exist (a read never creates one). */
  getConfig(stack: string): Promise<Record<string, unknown>>;
  /** The stacks that have config, each with its `ferry:kind` when it has one (to list the known blueprints). */
  stacks(): Promise<{ name: string; kind?: string }[]>;
  up(stack: string, options: UpOptions): Promise<UpResult>;
  preview(stack: string, options: Omit<UpOptions, "message"> & { message?: string }): Promise<PreviewResult>;
  destroy(stack: string, options: { message: string }): Promise<{ version: number; changes: ResourceChanges }>;
  /** Newest first, like `pulumi stack history`; none for a stack that does not exist. */
  history(stack: string): Promise<HistoryEntry[]>;
  /** `{}` for a stack that does not exist. */
  outputs(stack: string): Promise<Record<string, unknown>>;
}
