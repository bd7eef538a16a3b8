import { spawn } from "node:child_process";
import { existsSync, realpathSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { createInterface } from "node:readline";
import { UserError } from "../core/errors";
import type { AzureConnection } from "../core/schemas/connection";
import { redactSecrets } from "../core/redact";

/**
 * Hooks of recovery plans: the operator's own steps (switch DNS, drain a queue, call a health endpoint),
 * written as zx scripts in the repository (`hooks/*.mjs`) and run by ferry as child processes. See the
 * README's "Hooks" section for what a hook receives and the rules it runs under.
 */

/** The operation a plan runs; a hook may act differently on the way home (`failback`) or in a drill (`test`). */
export type HookOperationKind = "planned" | "unplanned" | "test" | "failback";

/** One recovered VM, as a hook sees it. */
export interface HookVm {
  /** The blueprint stack the VM belongs to. */
  blueprint: string;
  /** The blueprint row it recovers (`rows[].name`). */
  row: string;
  /** The recovered VM's name. */
  name: string;
  /** The recovered VM's ARM resource id. */
  id: string;
  /** Its NIC's private IPv4 addresses, primary first. */
  privateIps: string[];
  /** The Azure region it runs in (canonical name, e.g. `northeurope`). */
  region: string;
}

/** What a hook is told about the step it runs in. */
export interface HookContext {
  /** The plan's name (its file under `plans/`, without the extension). */
  plan: string;
  /** The group of the plan the hook belongs to. */
  group: string;
  /** The id of the plan's operation in the state store. */
  operationId: string;
  kind: HookOperationKind;
  /** Before the group's failover, after it, or as the group's readiness gate. */
  when: "before" | "after" | "gate";
  /** The VMs the group has recovered so far (none before its failover, unless a re-run). */
  vms: HookVm[];
}

/** One hook of a plan, as the plan file states it. */
export interface HookSpec {
  /** The script, relative to the repository root (`hooks/dns-switch.mjs`); it must stay inside the repository. */
  script: string;
  /** Seconds before the hook is stopped (SIGTERM to its process group, SIGKILL after a grace). Default 300. */
  timeoutSeconds?: number;
  /**
   * What the plan does when the hook fails (exit ≠ 0, or timed out): stop the plan, or record the failure and go
   * on. Default `stop`.
   */
  onFailure?: "stop" | "continue";
  /**
   * Arguments for the script (`--zone`, `--record`…): settings, never secrets, since they show in `ps` and in the
   * plan file. Default none.
   */
  args?: string[];
}

/** How a hook ended. */
export interface HookResult {
  script: string;
  /** The script's exit code; null when a signal ended it (timeout, abort). */
  exitCode: number | null;
  /** True when the hook ran past its timeout and was stopped. */
  timedOut: boolean;
  /** True when the caller's abortSignal stopped it (Ctrl-C). */
  aborted?: boolean;
  /** ISO 8601 times of the start and the end. */
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Lines the hook wrote, stdout and stderr together. */
  outputLines: number;
}

/** Where the hook's Azure calls go, when not to Azure's public cloud (the local Azure, a sovereign cloud). */
export interface HookAzureOptions {
  /** The subscription the hook works in by default: `FERRY_SUBSCRIPTION_ID`. Default: none. */
  subscriptionId?: string;
  /** ARM's endpoint, e.g. the local Azure's `https://127.0.0.1:<port>`: `FERRY_ARM_ENDPOINT`. Default: none (Azure's). */
  armEndpoint?: string;
  /** A CA certificate file the hook's Node trusts (`NODE_EXTRA_CA_CERTS`, and `FERRY_CA_CERT_PATH`). Default: none. */
  caCertPath?: string;
  /**
   * `emulator`: the hook signs in with a fixed token, which the local Azure takes and Azure never would; the
   * helper in `hooks/lib/context.mjs` refuses it for an endpoint that is not loopback. Default `default`
   * (DefaultAzureCredential).
   */
  credential?: "default" | "emulator";
}

/**
 * Where ferry's own clients go (`azure` of ferry.json), as a hook is to be told: the same subscription, ARM
 * endpoint and CA; the fixed token where ferry uses the emulator's credential (the local Azure), else
 * DefaultAzureCredential, which signs a hook in from the identity variables of its environment.
 */
export function hookAzureFor(azure: AzureConnection): HookAzureOptions {
  return {
    subscriptionId: azure.subscriptionId,
    ...(azure.armEndpoint !== undefined ? { armEndpoint: azure.armEndpoint } : {}),
    ...(azure.caCertPath !== undefined ? { caCertPath: azure.caCertPath } : {}),
    credential: azure.credential.kind === "emulator" ? "emulator" : "default",
  };
}

export interface RunHookOptions {
  /** The repository root; `spec.script` is resolved against it and must stay inside it. */
  repoRoot: string;
  context: HookContext;
  /** Receives each line the hook writes, redacted, in the order written per stream. */
  log: (line: string, stream: "stdout" | "stderr") => void;
  /** Stops the hook as a timeout does (Ctrl-C); the result says `aborted`. */
  abortSignal?: AbortSignal;
  /**
   * The environment the allow-list is taken from (see {@link hookEnvironment}). Default: this process's. In an
   * Azure DevOps job, pass the federated token file ferry keeps fresh as AZURE_FEDERATED_TOKEN_FILE here.
   */
  env?: NodeJS.ProcessEnv;
  /** Where the hook's Azure calls go. Default: Azure's public cloud, signed in with DefaultAzureCredential. */
  azure?: HookAzureOptions;
  /** Milliseconds between SIGTERM and SIGKILL when the hook is stopped. Default 5000. */
  killGraceInMs?: number;
}

/** Default seconds a hook may run. */
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 300;

/**
 * Variables a hook inherits from ferry's environment, by name: what a shell needs, and the Azure identity a
 * hook needs to call Azure as the pipeline's identity (workload identity federation: the ids and the path of
 * the federated token file; the Azure CLI's session folder). Everything else is left out: no state store
 * connection string or key, no client secret, no Azure DevOps job token (SYSTEM_ACCESSTOKEN), no variable of
 * ferry's own configuration.
 */
export const HOOK_ENV_ALLOW_LIST: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LANG",
  "LC_ALL",
  "TZ",
  "TMPDIR",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  // A proxy's or a company's CA the agent trusts; azure.caCertPath, when set, takes its place.
  "NODE_EXTRA_CA_CERTS",
  "AZURE_CLIENT_ID",
  "AZURE_TENANT_ID",
  "AZURE_FEDERATED_TOKEN_FILE",
  "AZURE_AUTHORITY_HOST",
  "AZURE_SUBSCRIPTION_ID",
  "AZURE_CONFIG_DIR",
];

/**
 * The whole environment of a hook: the allow-listed variables of `env`, then the context (FERRY_PLAN,
 * FERRY_GROUP, FERRY_OPERATION_ID, FERRY_KIND, FERRY_WHEN, FERRY_VMS as JSON, FERRY_HOOK_CONTEXT_FILE) and
 * where Azure is (FERRY_SUBSCRIPTION_ID, FERRY_ARM_ENDPOINT, FERRY_CA_CERT_PATH and NODE_EXTRA_CA_CERTS,
 * FERRY_AZURE_CREDENTIAL). Pure: the tests read the rule here.
 */
export function hookEnvironment(
  env: NodeJS.ProcessEnv,
  context: HookContext,
  contextFile: string,
  azure: HookAzureOptions = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of HOOK_ENV_ALLOW_LIST) {
    const value = env[name];
    if (value !== undefined) out[name] = value;
  }
  out.FERRY_HOOK_CONTEXT_FILE = contextFile;
  out.FERRY_PLAN = context.plan;
  out.FERRY_GROUP = context.group;
  out.FERRY_OPERATION_ID = context.operationId;
  out.FERRY_KIND = context.kind;
  out.FERRY_WHEN = context.when;
  out.FERRY_VMS = JSON.stringify(context.vms);
  if (azure.subscriptionId !== undefined) out.FERRY_SUBSCRIPTION_ID = azure.subscriptionId;
  if (azure.armEndpoint !== undefined) out.FERRY_ARM_ENDPOINT = azure.armEndpoint;
  if (azure.caCertPath !== undefined) {
    out.FERRY_CA_CERT_PATH = azure.caCertPath;
    out.NODE_EXTRA_CA_CERTS = azure.caCertPath;
  }
  out.FERRY_AZURE_CREDENTIAL = azure.credential ?? "default";
  return out;
}

/**
 * The script's absolute path, or a UserError when the path leaves the repository (`..`, an absolute path
 * elsewhere, or a symbolic link pointing out of it).
 */
export function resolveHookScript(script: string, repoRoot: string): string {
  const root = realpathOr(resolve(repoRoot));
  const path = resolve(root, script);
  const outside = (p: string) => {
    const rel = relative(root, p);
    return rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel);
  };
  if (outside(path) || outside(realpathOr(path))) {
    throw new UserError(
      `The hook ${script} is outside the repository ${root}. Put the script in the repository (hooks/*.mjs) ` +
        "and name it by its path from the repository root.",
      { code: "HookOutsideRepository", details: { script } },
    );
  }
  return path;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The zx command-line entry of the installed zx package. */
function zxCli(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("zx/package.json")), "build", "cli.js");
}

/**
 * Runs one hook with zx, in a process group of its own, and reports how it ended. Its output goes to
 * `options.log` one line at a time, each scrubbed of SAS signatures, tokens and keys. A hook past its
 * timeout, or stopped by `abortSignal`, gets SIGTERM on its whole process group (its children too), then
 * SIGKILL after `killGraceInMs`. A hook that fails is reported, not thrown: the plan decides (`onFailure`).
 * Throws a UserError for a script outside the repository or missing.
 */
export async function runHook(spec: HookSpec, options: RunHookOptions): Promise<HookResult> {
  const path = resolveHookScript(spec.script, options.repoRoot);
  if (!existsSync(path)) {
    throw new UserError(
      `The hook ${spec.script} does not exist in ${options.repoRoot}. Commit the script, or fix its path in the plan.`,
      { code: "HookNotFound", details: { script: spec.script } },
    );
  }
  const timeoutSeconds = spec.timeoutSeconds ?? DEFAULT_HOOK_TIMEOUT_SECONDS;
  const graceInMs = options.killGraceInMs ?? 5000;
  const dir = await mkdtemp(join(tmpdir(), "ferry-hook-"));
  const contextFile = join(dir, "context.json");
  await writeFile(contextFile, `${JSON.stringify(options.context, null, 2)}\n`, { mode: 0o600 });
  const started = Date.now();
  let outputLines = 0;
  let timedOut = false;
  let aborted = false;
  try {
    const child = spawn(process.execPath, [zxCli(), path, ...(spec.args ?? [])], {
      cwd: realpathOr(resolve(options.repoRoot)),
      env: hookEnvironment(options.env ?? process.env, options.context, contextFile, options.azure),
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a stop reaches whatever the script started ($`…` children).
      detached: true,
    });
    const lines = (stream: NodeJS.ReadableStream, name: "stdout" | "stderr") =>
      new Promise<void>((done) => {
        const rl = createInterface({ input: stream, crlfDelay: Infinity });
        rl.on("line", (line) => {
          outputLines++;
          options.log(redactSecrets(line), name);
        });
        rl.on("close", () => done());
      });
    const outputs = Promise.all([lines(child.stdout, "stdout"), lines(child.stderr, "stderr")]);
    const exited = new Promise<number | null>((done, fail) => {
      child.once("error", fail);
      child.once("exit", (code) => done(code));
    });
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      signalGroup(child.pid, "SIGTERM");
      killTimer ??= setTimeout(() => signalGroup(child.pid, "SIGKILL"), graceInMs);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutSeconds * 1000);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (options.abortSignal?.aborted) onAbort();
    else options.abortSignal?.addEventListener("abort", onAbort, { once: true });
    let exitCode: number | null;
    try {
      exitCode = await exited;
      // The script is gone; children it left behind in its group go with it when it was stopped.
      if (timedOut || aborted) signalGroup(child.pid, "SIGKILL");
      await Promise.race([outputs, new Promise((r) => setTimeout(r, graceInMs))]);
    } finally {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.abortSignal?.removeEventListener("abort", onAbort);
    }
    const ended = Date.now();
    return {
      script: spec.script,
      exitCode,
      timedOut,
      ...(aborted ? { aborted } : {}),
      startedAt: new Date(started).toISOString(),
      endedAt: new Date(ended).toISOString(),
      durationMs: ended - started,
      outputLines,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * What stops a hook from running, for the plan's precheck: outside the repository, missing, not a file, or
 * not parseable by Node (`node --check`). Empty when it can run.
 */
export async function checkHook(spec: HookSpec, repoRoot: string): Promise<string[]> {
  let path: string;
  try {
    path = resolveHookScript(spec.script, repoRoot);
  } catch (e) {
    return [(e as Error).message];
  }
  if (!existsSync(path)) return [`The hook ${spec.script} does not exist. Commit the script, or fix its path.`];
  if (!statSync(path).isFile()) return [`The hook ${spec.script} is not a file.`];
  if (spec.timeoutSeconds !== undefined && !(spec.timeoutSeconds > 0)) {
    return [`The hook ${spec.script} has timeoutSeconds ${spec.timeoutSeconds}: give a number of seconds above 0.`];
  }
  const syntax = await nodeCheck(path);
  return syntax === undefined ? [] : [`The hook ${spec.script} does not parse: ${syntax}`];
}

/** Node's own syntax check of a script: undefined when it parses, else the first lines of what Node said. */
function nodeCheck(path: string): Promise<string | undefined> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--check", path], { stdio: ["ignore", "ignore", "pipe"], env: {} });
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
    child.once("error", fail);
    child.once("exit", (code) => {
      if (code === 0) return done(undefined);
      const lines = err.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("Node.js v"));
      done(redactSecrets(lines.slice(0, 5).join(" | ")) || `node --check exited ${code}`);
    });
  });
}
