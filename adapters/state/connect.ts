import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import type { TableClient } from "@azure/data-tables";
import { createAzureClients, type AzureClients } from "../azure/clients";
import { azureCredential, staticTokenCredential } from "../azure/credentials";
import { UserError } from "../../core/errors";
import type { AzureConnection, StateStoreConnection } from "../../core/schemas/connection";
import { SourceStore, sourceStoreClient } from "./store";

/** Azure clients (and their credential) for a connection config: real Azure or the local emulator. */
export function connectAzure(
  conn: AzureConnection,
  userAgentPrefix?: string,
  env: NodeJS.ProcessEnv = process.env,
): { azure: AzureClients; credential: TokenCredential } {
  const caCertPem = conn.caCertPath ? readCa(conn.caCertPath) : undefined;
  const c = conn.credential;
  const credential = c.kind === "emulator" ? staticTokenCredential() : azureCredential(c, env);
  const azure = createAzureClients({
    subscriptionId: conn.subscriptionId,
    credential,
    ...(conn.armEndpoint ? { armEndpoint: conn.armEndpoint } : {}),
    ...(caCertPem ? { caCertPem } : {}),
    ...(userAgentPrefix ? { userAgentPrefix } : {}),
    ...(conn.retry ? { retryOptions: conn.retry } : {}),
  });
  return { azure, credential };
}

/** The source-state store of a connection config (a connection string only ever from the environment). */
export async function openStateStore(
  conn: StateStoreConnection,
  credential: TokenCredential,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SourceStore> {
  return SourceStore.open({ client: stateStoreClient(conn, credential, env) });
}

/**
 * The state store's table client of a connection config: the sources' rows and the runbooks' run
 * state (`RunStateStore`) share it. Throws {@link UserError} "InvalidConfig" when the connection
 * string's variable is not set.
 */
export function stateStoreClient(
  conn: StateStoreConnection,
  credential: TokenCredential,
  env: NodeJS.ProcessEnv = process.env,
): TableClient {
  if (conn.kind === "connectionStringEnv") {
    const connectionString = env[conn.variable];
    if (!connectionString) {
      throw new UserError(
        `The state store's connection string is read from the environment variable ${conn.variable}, which is not set. Set it, or use stateStore.kind "identity".`,
        {
          code: "InvalidConfig",
        },
      );
    }
    return sourceStoreClient({ connectionString, tableName: conn.tableName });
  }
  return sourceStoreClient({ url: conn.url, tableName: conn.tableName, credential });
}

function readCa(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(
      `Cannot read azure.caCertPath ${path}: ${(e as Error).message}. Point it at the emulator's ca.pem, or remove it for real Azure.`,
      { code: "InvalidConfig", cause: e },
    );
  }
}
