import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { load } from "js-yaml";
import { z } from "zod";
import { UserError } from "../core/errors";
import {
  azureRegion,
  azureTableName,
  pulumiStackName,
  resourceGroupName,
  resourceName,
  subnetName,
  virtualNetworkName,
  vmSizeName,
} from "../core/schemas/fields";
import { BlueprintSchema } from "../core/schemas/blueprint";
import { subnetId } from "../core/schemas/ids";
import { parseWith } from "../core/validate";

/** The config of a stack (the `ferry:` keys of its Pulumi.<stack>.yaml), parsed once at the edge. */

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
  targetSubnetId: subnetId,
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
  /**
   * Resource groups (ARM ids, in the landing zone's subscription) holding protected source disks: the
   * appliance may read their disks there, and nothing more.
   */
  sourceScopes: z.array(resourceGroupIdSchema).default([]),
  /**
   * ferry's own resource group for the snapshots of each source region (region → group name), made
   * by the landing zone in that region of its subscription: the sync takes, reads and deletes its
   * snapshots there, and may delete nowhere else. Default: none (DR is refused for a disk of a region
   * without one).
   */
  snapshotResourceGroups: z.record(azureRegion, resourceGroupName).default({}),
});
export type LandingZoneConfig = z.output<typeof LandingZoneConfigSchema>;

/**
 * A blueprint stack's config: only what people decide. What the runbooks record at run time (the
 * mode, recovery points, operation, the disks a failback returned) lives in the state store, where
 * the program reads it (stacks/program.ts readProgramInputs).
 */
export const BlueprintStackConfigSchema = z.strictObject({
  kind: z.literal("blueprint"),
  /**
   * The landing-zone stack of the DR region (as `pulumi stack select` takes it): the program reads
   * where the blueprint fails over from its outputs, through a StackReference.
   */
  landingZoneStack: pulumiStackName,
  blueprint: BlueprintSchema,
  stagingSku: z
    .enum(["Premium_LRS", "StandardSSD_LRS", "Standard_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS"])
    .default("Premium_LRS"),
});
export type BlueprintStackConfig = z.output<typeof BlueprintStackConfigSchema>;

export const StackConfigSchema = z.discriminatedUnion("kind", [LandingZoneConfigSchema, BlueprintStackConfigSchema]);
export type StackConfig = z.output<typeof StackConfigSchema>;

/**
 * Keys a blueprint's stack file held before the state store became the record of what happened: a
 * file that still holds one is refused, never read (a stale `ferry:mode: standby` in git would
 * otherwise be obeyed on a fresh clone, over a failover).
 */
export const RETIRED_KEYS = ["mode", "recoveryPoints", "operation"] as const;

/**
 * Validates a stack's config, listing every problem with its path and fix. Throws
 * {@link UserError} "RetiredConfigKey" for a key of {@link RETIRED_KEYS}.
 */
export function parseStackConfig(raw: unknown, stack: string): StackConfig {
  const retired =
    raw && typeof raw === "object" ? RETIRED_KEYS.filter((k) => (raw as Record<string, unknown>)[k] !== undefined) : [];
  if (retired.length) {
    const keys = retired.map((k) => `ferry:${k}`).join(", ");
    throw new UserError(
      `Stack ${stack} holds ${keys}: the mode, recovery points and operation of a blueprint now live in the ` +
        "state store, where the runbooks record them and the program reads them. Delete " +
        `${retired.length === 1 ? "that key" : "those keys"} from stacks/Pulumi.${stack}.yaml ` +
        `(pulumi config rm ${retired.map((k) => `ferry:${k}`).join(" ")} -s ${stack}).`,
      { code: "RetiredConfigKey", details: { keys: retired } },
    );
  }
  return parseWith(StackConfigSchema, raw, { what: `config of stack ${stack} (ferry:* keys)` });
}

/** How a `ferry:` key's value is written: a plain string, or a structure (YAML, or JSON in a string). */
export type ConfigValueShape = "string" | "object";

// Wrappers that only add a default or allow absence: the value's shape is that of what they wrap.
type Wrapper = z.core.$ZodOptional | z.core.$ZodDefault | z.core.$ZodPrefault | z.core.$ZodNullable;
const wrappers = new Set(["optional", "default", "prefault", "nullable"]);
const isWrapper = (s: z.core.$ZodType): s is Wrapper => wrappers.has(s._zod.def.type);

function shapeOf(schema: z.core.$ZodType): ConfigValueShape {
  let s = schema;
  while (isWrapper(s)) s = s._zod.def.innerType;
  if (s instanceof z.core.$ZodString || s instanceof z.core.$ZodEnum) return "string";
  if (s instanceof z.core.$ZodLiteral)
    return s._zod.def.values.every((v) => typeof v === "string") ? "string" : "object";
  return "object";
}

/**
 * The `ferry:` keys of every stack kind in a config schema (a union of objects, one per kind), and
 * the shape of each, so a key added to a schema is read without a list to keep in step. A key two
 * kinds share must have one shape.
 */
export function configKeysOf(schema: z.ZodDiscriminatedUnion<z.ZodObject[]>): Record<string, ConfigValueShape> {
  const keys: Record<string, ConfigValueShape> = {};
  for (const option of schema.options) {
    for (const [key, value] of Object.entries(option.shape as Record<string, z.core.$ZodType>)) {
      const shape = shapeOf(value);
      if (keys[key] !== undefined && keys[key] !== shape)
        throw new Error(
          `ferry:${key} is read as ${keys[key]} in one stack kind and as ${shape} in another: give it one shape`,
        );
      keys[key] = shape;
    }
  }
  return keys;
}

/** The `ferry:` keys a stack file may hold, and whether each is a string or a structured value. */
export const CONFIG_KEYS: Readonly<Record<string, ConfigValueShape>> = configKeysOf(StackConfigSchema);

/**
 * A YAML (or JSON) file the operator writes (a stack file, a plan), loaded; {@link UserError} "InvalidConfig" naming
 * the file and the parser's first line when it does not parse.
 */
export function readYamlFile(path: string): unknown {
  try {
    return load(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(
      `${path} is not valid YAML: ${(e as Error).message.split("\n")[0]}. Fix the indentation or quoting there.`,
      { code: "InvalidConfig", cause: e },
    );
  }
}

/**
 * The `ferry:` keys of a stack file (`stacks/Pulumi.<stack>.yaml`), unparsed, and the stack's name.
 * Values may be YAML structures, or JSON strings as `pulumi config set` writes them.
 */
export function readStackFile(path: string): { stack: string; raw: Record<string, unknown> } {
  if (!existsSync(path))
    throw new UserError(`No stack file at ${path}. Stack files are stacks/Pulumi.<stack>.yaml.`, {
      code: "InvalidConfig",
    });
  const config = (readYamlFile(path) as { config?: unknown } | null)?.config;
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
