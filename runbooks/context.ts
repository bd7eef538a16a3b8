import { createInterface } from "node:readline/promises";
import type { TableClient } from "@azure/data-tables";
import type { Logger } from "pino";
import type { AzureClients } from "../adapters/azure/clients";
import { createLogger } from "../core/logger";
import { hostname } from "node:os";
import { connectAzure, stateStoreClient } from "../adapters/state/connect";
import { RunStateStore } from "../adapters/state/run-state";
import { HeartbeatStore } from "../adapters/state/heartbeat";
import { DrPointStore } from "../adapters/state/points";
import { SourceStore } from "../adapters/state/store";
import type { createFerryPolicies } from "../policies/pack";
import type { FerryConfig } from "./config";
import type { Deployer } from "./deployers/deployer";
import { UserError } from "../core/errors";
import type { PulumiDeployerOptions } from "./deployers/pulumi";
import { Journal } from "./journal";
import { pipelineSignInFor } from "../adapters/azure/credentials";
import type { AzurePipelinesSignIn } from "../adapters/azure/pipelines";
import { startPulumiSignIn, type StartPulumiSignInOptions } from "./deployers/pulumi-env";

/** What every runbook receives (STYLE 3): side effects come in here, never through module mocking. */
export interface RunbookContext {
  config: FerryConfig;
  logger: Logger;
  azure: AzureClients;
  store: SourceStore;
  /** What the runbooks record at run time: operations, leases, failback state, each blueprint's mode. */
  runState: RunStateStore;
  /** The sync daemons' heartbeats: whether a source's daemon is alive. */
  heartbeats: HeartbeatStore;
  /** The recovery points in the DR region the daemon records (adapters/state/points.ts). */
  points: DrPointStore;
  deployer: Deployer;
  journal: Journal;
  /** Asks a yes/no question; the answer is no unless the person says yes. */
  confirm(question: string): Promise<boolean>;
  /** Asks to pick one of `choices`; undefined when nobody can answer (not a terminal). */
  choose(question: string, choices: readonly string[]): Promise<string | undefined>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  poll: { updateIntervalInMs: number };
}

export interface CreateContextOptions {
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  deployer?: Deployer;
  /** Prompts; default: the terminal when stdin is one, else nobody. */
  confirm?: RunbookContext["confirm"];
  choose?: RunbookContext["choose"];
  /**
   * Makes the deployer of `deployer.kind: "local"` (the local harness's in-process deployer, which
   * only the harness provides: product code never imports it). Without it that kind is refused.
   */
  localDeployer?: (config: FerryConfig, deps: LocalDeployerDeps) => Deployer;
  /**
   * This host's name in operation leases and records. Default: `FERRY_HOST` from `env` (agents in
   * containers that share a host name), else the machine's host name.
   */
  host?: string;
}

/** What the local harness's deployer is built from. */
export interface LocalDeployerDeps {
  azure: AzureClients;
  logger: Logger;
  policies: ReturnType<typeof createFerryPolicies>;
  now: () => Date;
  /** The state store's table client (no I/O yet): the program reads a blueprint's run state there. */
  stateStore: TableClient;
}

export async function createContext(config: FerryConfig, options: CreateContextOptions = {}): Promise<RunbookContext> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger({ name: "ferry", env });
  const { azure, credential } = connectAzure(config.azure, "ferry", env);
  const now = options.now ?? (() => new Date());
  const c = config.azure.credential;
  // In an Azure DevOps job: the service connection the Pulumi CLI signs in with too (see pulumi-env.ts).
  const signIn = c.kind === "emulator" ? undefined : pipelineSignInFor(c, env);
  const client = stateStoreClient(config.stateStore, credential, env);
  // Before the store is opened: a deployer this process cannot have is refused with no I/O done.
  const deployer =
    options.deployer ?? (await deployerFor(config, options, { azure, logger, now, signIn, stateStore: client }));
  // The landing zone made the table (opening it never creates it); the run state shares it.
  const store = await SourceStore.open({ client });
  const runState = new RunStateStore(client);
  const terminal = process.stdin.isTTY === true;
  return {
    config,
    logger,
    azure,
    store,
    runState,
    heartbeats: new HeartbeatStore(client),
    points: new DrPointStore(client),
    deployer,
    journal: new Journal({
      store: runState,
      host: options.host ?? (env.FERRY_HOST || hostname()),
      leaseInMs: config.operations.leaseSeconds * 1000,
      now,
      cacheDir: config.journalDir,
      logger: logger.child({ component: "journal" }),
    }),
    confirm: options.confirm ?? (terminal ? askYesNo : async () => false),
    choose: options.choose ?? (terminal ? askChoice : async () => undefined),
    now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    poll: { updateIntervalInMs: config.azure.pollIntervalInMs },
  };
}

async function deployerFor(
  config: FerryConfig,
  options: CreateContextOptions,
  deps: {
    azure: AzureClients;
    logger: Logger;
    now: () => Date;
    signIn: AzurePipelinesSignIn | undefined;
    stateStore: TableClient;
  },
): Promise<Deployer> {
  const { signIn, ...localDeps } = deps;
  const logger = deps.logger.child({ component: "deployer" });
  if (config.deployer.kind === "pulumi")
    return lazyPulumiDeployer(
      { workDir: config.deployer.workDir, logger },
      { subscriptionId: config.azure.subscriptionId, logger, ...(signIn ? { signIn } : {}) },
    );
  if (!options.localDeployer)
    throw new UserError(
      'ferry.json: deployer.kind "local" is the local harness\'s in-process deployer and works only against the ' +
        'local Azure, through `npm run ferry:local`. Against Azure, use "kind": "pulumi".',
      { code: "LocalDeployerOutsideHarness" },
    );
  const { createFerryPolicies } = await import("../policies/pack");
  return options.localDeployer(config, { ...localDeps, logger, policies: createFerryPolicies() });
}

/**
 * The Pulumi deployer, loaded at its first call: the Automation API and the policy rules (azure-native)
 * take seconds to import, and commands that only read the state store (`ferry sources list`) never call it.
 * Its sign-in (a federated token file, in a job) starts then too, and ends with the process.
 */
function lazyPulumiDeployer(options: PulumiDeployerOptions, signIn: StartPulumiSignInOptions): Deployer {
  let loaded: Promise<Deployer> | undefined;
  const load = async (): Promise<Deployer> => {
    const [{ PulumiDeployer }, session] = await Promise.all([import("./deployers/pulumi"), startPulumiSignIn(signIn)]);
    process.once("exit", () => session.close());
    return new PulumiDeployer({ ...options, envVars: session.envVars });
  };
  const deployer = () => (loaded ??= load());
  return {
    setConfig: async (stack, values) => (await deployer()).setConfig(stack, values),
    getConfig: async (stack) => (await deployer()).getConfig(stack),
    stacks: async () => (await deployer()).stacks(),
    up: async (stack, o) => (await deployer()).up(stack, o),
    preview: async (stack, o) => (await deployer()).preview(stack, o),
    destroy: async (stack, o) => (await deployer()).destroy(stack, o),
    history: async (stack) => (await deployer()).history(stack),
    outputs: async (stack) => (await deployer()).outputs(stack),
  };
}

async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function askChoice(question: string, choices: readonly string[]): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    for (;;) {
      const answer = (await rl.question(`${question} (${choices.join("/")}) `)).trim();
      if (choices.includes(answer)) return answer;
    }
  } finally {
    rl.close();
  }
}
