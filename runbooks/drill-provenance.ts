import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { hostname, userInfo } from "node:os";
import type { TokenCredential } from "@azure/core-auth";
import type { AzureConnection } from "../core/schemas/connection";
import { BUILD_INFO, type BuildInfo } from "../core/version";
import type { DrillProvenance, EmulatedLatency } from "./drill-report";

/**
 * ferry's version and commit for a report: the commit the bundle was built from, else the commit of the
 * git checkout the sources run from (`-dirty` when tracked files changed), else `unknown`.
 */
export function ferryBuild(sourceDir: string = import.meta.dirname, built: BuildInfo = BUILD_INFO): BuildInfo {
  if (built.commit !== "unknown") return built;
  try {
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", sourceDir, ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
        timeout: 10_000,
      }).trim();
    const head = git("rev-parse", "HEAD");
    return {
      version: built.version,
      commit: git("status", "--porcelain", "--untracked-files=no") ? `${head}-dirty` : head,
    };
  } catch {
    // Not a checkout (a copied tree) or no git: the report says so rather than guess.
    return built;
  }
}

/**
 * Who ran a drill, for its report: the OS user and host, the Azure identity as ferry.json configures it
 * (kind and client id: never a token or secret), and in an Azure DevOps job who queued the run.
 */
export function whoRan(
  credential: AzureConnection["credential"],
  env: NodeJS.ProcessEnv = process.env,
  token?: string,
): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (some containers).
    user = env.USER || env.USERNAME || "an unknown OS user";
  }
  const host = env.FERRY_HOST || hostname();
  const id = (clientId: string | undefined) => (clientId ? ` (client id ${clientId})` : "");
  const serviceConnection =
    (credential.kind === "azurePipelines" ? credential.serviceConnectionId : undefined) ??
    env.AZURESUBSCRIPTION_SERVICE_CONNECTION_ID ??
    "(from the job)";
  const identity =
    credential.kind === "managedIdentity"
      ? `managed identity${credential.clientId ? id(credential.clientId) : " (system-assigned)"}`
      : credential.kind === "default"
        ? `the DefaultAzureCredential chain${id(credential.clientId ?? env.AZURE_CLIENT_ID)}`
        : credential.kind === "azurePipelines"
          ? `Azure DevOps service connection ${serviceConnection}` +
            id(credential.clientId ?? env.AZURESUBSCRIPTION_CLIENT_ID)
          : credential.kind === "workloadIdentity"
            ? `workload identity${id(credential.clientId ?? env.AZURE_CLIENT_ID)}`
            : "the local emulator's test token (no Azure identity)";
  const requested = env.BUILD_REQUESTEDFOR ? `; pipeline run requested by ${env.BUILD_REQUESTEDFOR}` : "";
  const claimed = token ? `; the token names ${token}` : "";
  return `${user} on ${host}, signed in to Azure as ${identity}${claimed}${requested}`;
}

/**
 * Who Azure's token says signed in: a person's sign-in name, or an application's (service principal's or
 * managed identity's) app id, with its object id — read from the claims of an access token for `scope`
 * (Microsoft Entra's access-token claims: `upn`/`preferred_username`/`unique_name` for users, `appid`/`azp`
 * for applications, `oid`, `idtyp`, `xms_mirid` for a managed identity's resource id). Only those claims are
 * read; the token is never kept or returned. Undefined when no token comes, or it is not a JWT (the local
 * emulator's test token): the report then names the configured identity alone.
 */
export async function signedInAs(credential: TokenCredential, scope: string): Promise<string | undefined> {
  let token: string | undefined;
  try {
    token = (await credential.getToken(scope))?.token;
  } catch {
    return undefined;
  }
  const payload = token?.split(".")[1];
  if (!payload) return undefined;
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const text = (k: string) => (typeof claims[k] === "string" && claims[k] !== "" ? claims[k] : undefined);
  const objectId = text("oid") ? ` (object id ${text("oid")})` : "";
  const user = text("upn") ?? text("preferred_username") ?? text("unique_name");
  if (user && text("idtyp") !== "app") return `user ${user}${objectId}`;
  const app = text("appid") ?? text("azp");
  if (!app) return undefined;
  const mi = text("xms_mirid");
  return mi ? `managed identity ${mi.split("/").pop()} (app id ${app})` : `application ${app}${objectId}`;
}

/** Options of {@link emulatedLatency}. */
export interface EmulatedLatencyOptions {
  /** How long to wait for the emulator's answer, in milliseconds. Default 5000. */
  timeoutInMs?: number;
}

/**
 * How the Azure that `azure` points at answers in time: undefined for Azure; for the local emulator
 * (credential kind `emulator`) its latency profile and speed-up as it says them, or `unknown` when it does not.
 */
export async function emulatedLatency(
  azure: Pick<AzureConnection, "credential" | "armEndpoint" | "caCertPath">,
  options: EmulatedLatencyOptions = {},
): Promise<EmulatedLatency | undefined> {
  if (azure.credential.kind !== "emulator") return undefined;
  if (!azure.armEndpoint) return { profile: "unknown" };
  try {
    const ca = azure.caCertPath ? readFileSync(azure.caCertPath, "utf8") : undefined;
    const url = `${azure.armEndpoint.replace(/\/+$/, "")}/_emulator/latency`;
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        url,
        { method: "GET", ...(ca ? { ca } : {}), timeout: options.timeoutInMs ?? 5000 },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(parts).toString("utf8"))
              : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", reject);
      req.end();
    });
    const said = JSON.parse(body) as { profile?: unknown; speedup?: unknown };
    return {
      profile: typeof said.profile === "string" ? said.profile : "unknown",
      ...(typeof said.speedup === "number" && said.speedup >= 1 ? { speedup: said.speedup } : {}),
    };
  } catch {
    // An emulator that does not say: the report says the times may be scaled.
    return { profile: "unknown" };
  }
}

/** Options of {@link drillProvenance}. */
export interface DrillProvenanceOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides what the emulator says (the local drill, which started it, knows). */
  emulation?: EmulatedLatency;
  /** The credential ferry signs in with: the report names who its token says signed in. Default: not read. */
  credential?: TokenCredential;
}

/** The facts of a drill report's banner, from ferry.json's connection and the blueprint's landing zone. */
export async function drillProvenance(
  azure: AzureConnection,
  where: { sourceRegions: readonly string[]; drRegion: string },
  options: DrillProvenanceOptions = {},
): Promise<DrillProvenance> {
  const emulation = options.emulation ?? (await emulatedLatency(azure));
  const arm = (azure.armEndpoint ?? "https://management.azure.com").replace(/\/+$/, "");
  const token = options.credential ? await signedInAs(options.credential, `${arm}/.default`) : undefined;
  const build = ferryBuild();
  return {
    ferry: { version: build.version, commit: build.commit },
    subscriptionId: azure.subscriptionId,
    sourceRegions: [...new Set(where.sourceRegions)].sort(),
    drRegion: where.drRegion,
    operator: whoRan(azure.credential, options.env, token),
    ...(emulation ? { emulation } : {}),
  };
}
