import { z } from "zod";

// Field schemas shared by the config schemas. Each message says what is wrong and how to fix it;
// parseWith prefixes the path.

/** Names that end up in Azure resource names: blueprint and row names. */
export const resourceName = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$/,
    "is not a usable name. Use 1-64 letters, digits and hyphens, starting and ending with a letter or digit",
  );

/** Azure region as ARM spells it: "westeurope", not "West Europe". */
export const azureRegion = z.string().superRefine((value, ctx) => {
  if (/^[a-z][a-z0-9]*$/.test(value)) return;
  const suggestion = value.toLowerCase().replace(/[\s_-]+/g, "");
  const hint = /^[a-z][a-z0-9]*$/.test(suggestion) ? `Did you mean "${suggestion}"? ` : "";
  ctx.addIssue({
    code: "custom",
    message: `is not an Azure region name. ${hint}Use the lowercase name without spaces, as \`az account list-locations --query [].name\` prints it`,
  });
});

/** Resource group: 1-90 letters, digits, `_ - . ( )`, not ending in a period. */
export const resourceGroupName = z
  .string()
  .regex(
    /^[\w\-.()]{0,89}[\w\-()]$/,
    "is not a valid resource group name. Use 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period",
  );

/** Virtual network: 2-64 characters. */
export const virtualNetworkName = z
  .string()
  .regex(
    /^[A-Za-z0-9][\w\-.]{0,62}\w$/,
    "is not a valid virtual network name. Use 2-64 letters, digits, underscores, hyphens and periods, starting with a letter or digit and ending with a letter, digit or underscore",
  );

/** Subnet: 1-80 characters. */
export const subnetName = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[\w\-.]{0,78}\w)?$/,
    "is not a valid subnet name. Use 1-80 letters, digits, underscores, hyphens and periods, starting with a letter or digit and ending with a letter, digit or underscore",
  );

/** VM size as ARM spells it, e.g. "Standard_D2s_v5" or the constrained-core "Standard_E8-4s_v5". */
export const vmSizeName = z
  .string()
  .regex(
    /^(?:Standard|Basic)_[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*$/,
    'is not a VM size name. Use the name as `az vm list-sizes` prints it, e.g. "Standard_D2s_v5"',
  );

/**
 * A Pulumi stack as `pulumi stack select` takes it: `<stack>` (this project, the default
 * organization), `<org>/<stack>` or `<org>/<project>/<stack>`.
 */
export const pulumiStackName = z
  .string()
  .regex(
    /^(?:[\w.-]+\/){0,2}[\w.-]+$/,
    "is not a stack name. Use <stack>, <org>/<stack> or <org>/<project>/<stack>, as `pulumi stack ls` prints it",
  );

/** How to write an Azure Table storage table name, for messages. */
export const AZURE_TABLE_NAME_RULE = "Use 3-63 letters and digits, starting with a letter";

/** Whether `name` is a valid Azure Table storage table name. */
export function isAzureTableName(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9]{2,62}$/.test(name);
}

/** Azure Table storage table name: 3-63 letters and digits, starting with a letter. */
export const azureTableName = z.string().refine(isAzureTableName, `is not a table name. ${AZURE_TABLE_NAME_RULE}`);

/** Timestamp as written by ferry: ISO 8601 with an offset ("Z" or "+01:00"). */
export const isoDateTime = z.iso.datetime({
  offset: true,
  error: formatError("is not an ISO 8601 date-time. Use the form 2025-01-31T12:00:00Z"),
});

/** Entra tenant or subscription id. */
export const guid = z.guid({ error: formatError("is not a GUID. Use the form 00000000-0000-0000-0000-000000000000") });

// A format schema's own message would also replace "is missing" for an absent field; only the
// format failure gets it, the rest fall through to parseWith's messages.
function formatError(message: string) {
  return (issue: { code?: string }) => (issue.code === "invalid_format" ? message : undefined);
}
