// What ferry hands a hook (runbooks/hooks.ts), read back with types for editors and `// @ts-check`.
// A hook imports this file: `import { hookContext, azureTarget } from "./lib/context.mjs";`
import { readFileSync } from "node:fs";

/** @typedef {import("@azure/core-auth").TokenCredential} TokenCredential */

/**
 * One recovered VM.
 * @typedef {object} HookVm
 * @property {string} blueprint The blueprint stack the VM belongs to.
 * @property {string} row The blueprint row it recovers.
 * @property {string} name The recovered VM's name.
 * @property {string} id The recovered VM's ARM resource id.
 * @property {string[]} privateIps Its NIC's private IPv4 addresses, primary first.
 * @property {string} region The Azure region it runs in (e.g. `northeurope`).
 */

/**
 * The step a hook runs in.
 * @typedef {object} HookContext
 * @property {string} plan The plan's name.
 * @property {string} group The plan's group the hook belongs to.
 * @property {string} operationId The plan's operation id in ferry's state store.
 * @property {"planned" | "unplanned" | "test" | "failback"} kind The operation.
 * @property {"before" | "after" | "gate"} when Before the group's failover, after it, or as its readiness gate.
 * @property {HookVm[]} vms The VMs the group has recovered.
 */

/**
 * The context ferry wrote for this run (`FERRY_HOOK_CONTEXT_FILE`); the same facts are in FERRY_PLAN,
 * FERRY_GROUP, FERRY_OPERATION_ID, FERRY_KIND, FERRY_WHEN and FERRY_VMS.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {HookContext}
 */
export function hookContext(env = process.env) {
  const file = env.FERRY_HOOK_CONTEXT_FILE;
  if (!file) throw new Error("FERRY_HOOK_CONTEXT_FILE is not set: this script is a ferry hook; run it from a plan.");
  return JSON.parse(readFileSync(file, "utf8"));
}

/**
 * Where to call Azure and as whom: ARM's endpoint (FERRY_ARM_ENDPOINT, else Azure's public cloud), the
 * subscription (FERRY_SUBSCRIPTION_ID, else AZURE_SUBSCRIPTION_ID) and a credential: DefaultAzureCredential
 * (the pipeline's workload identity, a managed identity, the Azure CLI's session), or against the local
 * Azure (FERRY_AZURE_CREDENTIAL=emulator, loopback endpoints only) a fixed token the emulator takes.
 * @param {{ subscriptionId?: string }} [overrides]
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<{ endpoint: string, subscriptionId: string, credential: TokenCredential, clientOptions: object }>}
 */
export async function azureTarget(overrides = {}, env = process.env) {
  const endpoint = (env.FERRY_ARM_ENDPOINT || "https://management.azure.com").replace(/\/+$/, "");
  const subscriptionId = overrides.subscriptionId || env.FERRY_SUBSCRIPTION_ID || env.AZURE_SUBSCRIPTION_ID;
  if (!subscriptionId) throw new Error("No subscription: pass --subscription, or run the hook from ferry.");
  let credential;
  if (env.FERRY_AZURE_CREDENTIAL === "emulator") {
    const host = new URL(endpoint).hostname;
    if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") {
      throw new Error(`FERRY_AZURE_CREDENTIAL=emulator is for the local Azure only, not ${endpoint}.`);
    }
    credential = {
      getToken: async () => ({ token: "ferry-local", expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" }),
    };
  } else {
    const { DefaultAzureCredential } = await import("@azure/identity");
    credential = new DefaultAzureCredential();
  }
  const clientOptions = {
    endpoint,
    credentials: { scopes: [`${endpoint}/.default`] },
    userAgentOptions: { userAgentPrefix: "ferry-hook" },
  };
  return { endpoint, subscriptionId, credential, clientOptions };
}

/**
 * The VMs a hook acts on: all of the context's, or those of `row` (and `blueprint`) when given. Throws when
 * none match, naming the rows there are.
 * @param {HookContext} context
 * @param {{ row?: string, blueprint?: string }} [filter]
 * @returns {HookVm[]}
 */
export function selectVms(context, filter = {}) {
  const vms = context.vms.filter(
    (v) => (!filter.row || v.row === filter.row) && (!filter.blueprint || v.blueprint === filter.blueprint),
  );
  if (vms.length === 0) {
    const known = context.vms.map((v) => `${v.blueprint}/${v.row}`).join(", ") || "none";
    throw new Error(
      `No recovered VM matches ${JSON.stringify(filter)} in group ${context.group}. The group's rows: ${known}.`,
    );
  }
  return vms;
}
