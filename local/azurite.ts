import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

// Azurite's Table service as a child process: ferry's source state store (Azure Table storage)
// runs on it in tests and local drills. Nothing of ferry is imported here, so the emulator folder
// stays usable on its own.

/** Azurite's fixed development account (documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT_NAME = "devstoreaccount1";
/** The well-known key of {@link AZURITE_ACCOUNT_NAME}, the same in every Azurite. */
export const AZURITE_ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** Options for {@link startAzurite}. */
export interface StartAzuriteOptions {
  /** Folder for Azurite's database (created if missing). State survives a restart on the same folder. */
  dataDir: string;
  /** TCP port on 127.0.0.1. Default: a free port picked at start. */
  port?: number;
  /** How long to wait for Azurite to listen, in milliseconds. Default: 30000. */
  startTimeoutInMs?: number;
  /** How long `close()` waits for a graceful exit before killing, in milliseconds. Default: 5000. */
  closeTimeoutInMs?: number;
}

/** A running Azurite Table service. */
export interface RunningAzurite {
  /** e.g. "http://127.0.0.1:41234/devstoreaccount1" (path-style: the account is the first segment). */
  tableEndpoint: string;
  accountName: string;
  accountKey: string;
  /** For `TableClient.fromConnectionString` (plain http: pass `allowInsecureConnection: true`). */
  connectionString: string;
  port: number;
  dataDir: string;
  /** Stops Azurite (gracefully, so its database is saved) and resolves once the process has exited. Idempotent. */
  close(): Promise<void>;
}

const host = "127.0.0.1";
const readyLine = /Azurite Table service successfully started/;
// Enough of Azurite's output to explain a failed start; the rest is dropped.
const keptOutputChars = 8192;

/** Starts Azurite's Table service on 127.0.0.1 and resolves once it accepts connections. */
export async function startAzurite(options: StartAzuriteOptions): Promise<RunningAzurite> {
  const main = azuriteTableMain();
  // A port picked in advance can be taken by someone else before Azurite binds it: try again with
  // another. Azurite itself cannot be asked for port 0: it prints the port it was given, not the
  // one it got, so we would not learn where it listens.
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOnce(main, port, options);
    } catch (e) {
      lastError = e;
      if (!(e instanceof AzuriteStartError && e.addressInUse)) throw e;
    }
  }
  throw lastError;
}

class AzuriteStartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = "AzuriteStartError";
  }
}

/** Path of Azurite's table entry point, found through its package.json so a hoisted or nested install works. */
function azuriteTableMain(): string {
  const require = createRequire(import.meta.url);
  let packageJsonPath: string;
  try {
    packageJsonPath = require.resolve("azurite/package.json");
  } catch (e) {
    throw new Error("Azurite is not installed: run `npm install` (it is a devDependency of ferry)", { cause: e });
  }
  const manifest = JSON.parse(readFileSync(packageJsonPath, "utf8")) as { bin?: Record<string, string> };
  return join(dirname(packageJsonPath), manifest.bin?.["azurite-table"] ?? "dist/src/table/main.js");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not pick a free port"))));
    });
  });
}

// Preloaded into Azurite: it exits when its parent goes away (the parent was killed, a test worker
// timed out), instead of living on as an orphan that holds a port and a temp folder. A changed
// ppid means the process was re-parented. The timer is unref'd so it never keeps Azurite alive.
const exitWithParent =
  "data:text/javascript," +
  encodeURIComponent("const p=process.ppid;setInterval(()=>{if(process.ppid!==p)process.exit(0)},500).unref();");

function startOnce(main: string, port: number, options: StartAzuriteOptions): Promise<RunningAzurite> {
  const args = [
    "--import",
    exitWithParent,
    main,
    "--disableTelemetry",
    "--tableHost",
    host,
    "--tablePort",
    String(port),
    "--location",
    options.dataDir,
    // --silent turns off the per-request access log only; the start and close lines still print.
    "--silent",
    // ferry does not test API-version negotiation; without this a newer @azure/data-tables than
    // this Azurite knows would fail every request.
    "--skipApiVersionCheck",
  ];
  // The parent's NODE_OPTIONS (--inspect, a test runner's loaders) are not Azurite's business.
  const { NODE_OPTIONS: _parentNodeOptions, ...env } = process.env;
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
  const output = { stdout: "", stderr: "" };
  const keep = (which: "stdout" | "stderr") => (chunk: Buffer) => {
    output[which] = (output[which] + chunk.toString("utf8")).slice(-keptOutputChars);
  };
  child.stdout!.on("data", keep("stdout"));
  child.stderr!.on("data", keep("stderr"));
  // Kept for the start error; an 'error' event without a listener would crash the parent.
  child.on("error", (e) => void (output.stderr += `\n${e.message}`));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const timeoutInMs = options.startTimeoutInMs ?? 30_000;
  return new Promise<RunningAzurite>((resolve, reject) => {
    const describe = (what: string) => {
      const text = `${output.stderr}\n${output.stdout}`.trim();
      return (
        `Azurite (table service on ${host}:${port}, data in ${options.dataDir}) ${what}` +
        (text === "" ? "" : `. Its output:\n${text}`)
      );
    };
    const fail = (what: string) => {
      cleanup();
      const addressInUse = /EADDRINUSE/.test(output.stderr + output.stdout);
      // Never leave a half-started Azurite behind.
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      void exited.then(() => reject(new AzuriteStartError(describe(what), addressInUse)));
    };
    const onData = () => {
      if (!readyLine.test(output.stdout)) return;
      cleanup();
      resolve(running(child, exited, port, options));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited before it was ready (${signal ?? `exit code ${code}`})`);
    const onError = (e: Error) => fail(`could not be started: ${e.message}`);
    const timer = setTimeout(() => fail(`did not start within ${timeoutInMs} ms`), timeoutInMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
    };
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}

function running(
  child: ChildProcess,
  exited: Promise<void>,
  port: number,
  options: StartAzuriteOptions,
): RunningAzurite {
  const tableEndpoint = `http://${host}:${port}/${AZURITE_ACCOUNT_NAME}`;
  let closing: Promise<void> | undefined;
  return {
    tableEndpoint,
    accountName: AZURITE_ACCOUNT_NAME,
    accountKey: AZURITE_ACCOUNT_KEY,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
      `TableEndpoint=${tableEndpoint};`,
    port,
    dataDir: options.dataDir,
    close() {
      closing ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        // SIGINT is Azurite's own shutdown path: it closes the server and saves its database.
        child.kill("SIGINT");
        const closeTimeoutInMs = options.closeTimeoutInMs ?? 5_000;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), closeTimeoutInMs)));
        const slow = await Promise.race([exited.then(() => false), timedOut]);
        clearTimeout(timer);
        if (slow) {
          child.kill("SIGKILL");
          await exited;
        }
      })();
      return closing;
    },
  };
}
