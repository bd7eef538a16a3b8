import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { load } from "js-yaml";
import { z } from "zod";
import { UserError } from "../core/errors";
import {
  azureRegion,
  azureTableName,
  resourceGroupName,
  resourceName,
  subnetName,
  virtualNetworkName,
  vmSizeName,
} from "../core/schemas/fields";
import { BlueprintSchema } from "../core/schemas/blueprint";
import { armResourceId } from "../core/schemas/ids";
import { RecoveryPointSchema } from "../core/schemas/recovery-point";
import { parseWith } from "../core/validate";
import { blueprintModes } from "./plan";

/** The config of a stack (the `ferry:` keys of its Pulumi.<stack>.yaml), parsed once at the edge. */

const subnetIdSchema = armResourceId(
  "Microsoft.Network/virtualNetworks/subnets",
  "az network vnet subnet show --query id -o tsv",
);
const resourceGroupIdSchema = z
  .string()
  .regex(
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i,
    "is not the ARM id of a resource group. Use /subscriptions/<id>/resourceGroups/<name>",
  );
const cidr = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "is not an IPv4 CIDR block. Use the form 10.99.0.0/24");

export const LandingZoneConfigSchema = z.strictObject({
  kind: z.literal("landing-zone"),
  /** The DR region. */
  region: azureRegion,
  /** Resource group of the DR resources (staging disks, recovered VMs, appliance, state). */
  resourceGroup: resourceGroupName,
  /** The existing subnet recovered VMs and the appliance join (not created by ferry). */
  targetSubnetId: subnetIdSchema,
  /** An isolated network for test failovers (drills), created by the landing zone. */
  testNetwork: z.strictObject({
    name: virtualNetworkName,
    addressPrefix: cidr,
    subnetName,
    subnetPrefix: cidr,
  }),
  /** The storage account and table of the sync's source state. */
  stateStore: z.strictObject({
    accountName: z
      .string()
      .regex(
        /^[a-z0-9]{3,24}$/,
        "is not a storage account name. Use 3-24 lowercase letters and digits, unique in Azure",
      ),
    tableName: azureTableName.default("ferrySources"),
  }),
  appliance: z.strictObject({
    name: resourceName.default("ferry-appliance"),
    vmSize: vmSizeName.default("Standard_D4s_v5"),
    adminUsername: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "is not a Linux user name")
      .default("ferry"),
    /** The only way in: no password, no public IP. */
    sshPublicKey: z
      .string()
      .regex(/^(ssh-(rsa|ed25519)|ecdsa-sha2-nistp\d+) /, "is not an OpenSSH public key (ssh-ed25519 AAAA…)"),
  }),
  /** Resource groups (ARM ids) holding protected source disks, where the appliance takes snapshots. */
  sourceScopes: z.array(resourceGroupIdSchema).default([]),
});
export type LandingZoneConfig = z.output<typeof LandingZoneConfigSchema>;

export const BlueprintStackConfigSchema = z.strictObject({
  kind: z.literal("blueprint"),
  mode: z.enum(blueprintModes).default("standby"),
  blueprint: BlueprintSchema,
  /** The applied recovery point of each source disk (ARM id → point), handed by the precheck. */
  recoveryPoints: z.record(z.string(), RecoveryPointSchema).default({}),
  /** Id of the operation this `up` belongs to (tagged on what it creates). */
  operation: z.string().max(128).optional(),
  stagingSku: z
    .enum(["Premium_LRS", "StandardSSD_LRS", "Standard_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS"])
    .default("Premium_LRS"),
});
export type BlueprintStackConfig = z.output<typeof BlueprintStackConfigSchema>;

export const StackConfigSchema = z.discriminatedUnion("kind", [LandingZoneConfigSchema, BlueprintStackConfigSchema]);
export type StackConfig = z.output<typeof StackConfigSchema>;

/** Validates a stack's config, listing every problem with its path and fix. */
export function parseStackConfig(raw: unknown, stack: string): StackConfig {
  return parseWith(StackConfigSchema, raw, { what: `config of stack ${stack} (ferry:* keys)` });
}

/** The `ferry:` keys a stack file holds, and whether each is a string or structured (YAML) value. */
export const CONFIG_KEYS: Record<string, "string" | "object"> = {
  kind: "string",
  mode: "string",
  operation: "string",
  stagingSku: "string",
  region: "string",
  resourceGroup: "string",
  targetSubnetId: "string",
  blueprint: "object",
  recoveryPoints: "object",
  testNetwork: "object",
  stateStore: "object",
  appliance: "object",
  sourceScopes: "object",
};

/**
 * The `ferry:` keys of a stack file (`stacks/Pulumi.<stack>.yaml`), unparsed, and the stack's name.
 * Values may be YAML structures, or JSON strings as `pulumi config set` writes them.
 */
export function readStackFile(path: string): { stack: string; raw: Record<string, unknown> } {
  if (!existsSync(path))
    throw new UserError(`No stack file at ${path}. Stack files are stacks/Pulumi.<stack>.yaml.`, {
      code: "InvalidConfig",
    });
  let doc: unknown;
  try {
    doc = load(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(
      `${path} is not valid YAML: ${(e as Error).message.split("\n")[0]}. Fix the indentation or quoting there.`,
      { code: "InvalidConfig", cause: e },
    );
  }
  const config = (doc as { config?: unknown } | null)?.config;
  if (!config || typeof config !== "object")
    throw new UserError(`${path} has no config: section. A stack file holds \`config:\` with ferry:* keys.`, {
      code: "InvalidConfig",
    });
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (!k.startsWith("ferry:")) continue;
    const key = k.slice("ferry:".length);
    raw[key] = typeof v === "string" && CONFIG_KEYS[key] === "object" ? parseJson(v) : v;
  }
  const stack = basename(path)
    .replace(/^Pulumi\./, "")
    .replace(/\.ya?ml$/, "");
  return { stack, raw };
}

function parseJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}
