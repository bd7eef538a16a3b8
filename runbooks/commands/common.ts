import type { Writable } from "node:stream";
import type { Argv } from "yargs";
import type { LogLevel, Logger } from "../../core/logger";
import type { createContext, RunbookContext } from "../context";

// Every command module imports this one, and `ferry --help` loads every command module: the logger,
// the config schema and the runbook context (the Azure SDK, Pulumi) are imported when a command runs.

/** Exit codes of `ferry` (also in `ferry --help`). */
export const EXIT = {
  ok: 0,
  /** An operation failed (Azure refused, a resource failed, a bug): run it again once the cause is fixed. */
  failed: 1,
  /** Bad input: usage, config, or a blueprint that does not validate. Nothing was changed. */
  usage: 2,
  /** The gates said no: the precheck failed, or the policy pack refused. Nothing was failed over. */
  refused: 3,
  /** Data did not verify: a recovered disk differs from its recovery point. */
  mismatch: 4,
  /** A drill ran and verified, but missed the blueprint's RPO or RTO target. */
  targetMissed: 5,
  interrupted: 130,
} as const;

export const EXIT_EPILOGUE =
  "Exit codes: 0 ok; 1 an operation failed (run it again once the cause is fixed: it continues); 2 bad usage or config (nothing changed); 3 the precheck or policy pack refused (nothing failed over); 4 a recovered disk differs from its recovery point; 5 a drill missed its RPO or RTO target; 130 interrupted.";

/** Where a command writes: results on stdout, logs on stderr. Tests pass their own. */
export interface CliIo {
  out(text: string): void;
  /** The log stream (pino lines, or readable lines on a terminal). */
  logStream: NodeJS.WritableStream;
  /** Whether the log stream is a terminal (readable lines instead of JSON). */
  logIsTty: boolean;
  env: NodeJS.ProcessEnv;
  /** Context options for tests (prompts, clock). */
  context?: Parameters<typeof createContext>[1];
}

export interface GlobalArgs {
  config?: string;
  json: boolean;
  "log-level"?: string;
  "log-format"?: "json" | "pretty";
}

export function globalOptions<T>(y: Argv<T>) {
  return y
    .option("config", {
      type: "string",
      describe: "ferry's config file (default: $FERRY_CONFIG, else ./ferry.json)",
      global: true,
    })
    .option("json", {
      type: "boolean",
      default: false,
      describe: "Print the result as JSON on stdout (an error: one JSON object on stderr)",
      global: true,
    })
    .option("log-level", {
      type: "string",
      describe: "trace, debug, info, warn, error or silent (default: $FERRY_LOG_LEVEL, else info)",
      global: true,
    })
    .option("log-format", {
      choices: ["json", "pretty"] as const,
      describe: "Logs on stderr: pino JSON, or readable lines (default: readable on a terminal)",
      global: true,
    });
}

/** The logger of a command: pino JSON lines, or readable lines on a terminal; secrets redacted either way. */
export async function cliLogger(args: GlobalArgs, io: CliIo): Promise<Logger> {
  const { createLogger, parseLogLevel } = await import("../../core/logger");
  const level: LogLevel = args["log-level"] ? parseLogLevel(args["log-level"]) : parseLogLevel(io.env.FERRY_LOG_LEVEL);
  const readable = args["log-format"] ? args["log-format"] === "pretty" : io.logIsTty;
  // Only readable lines need pino-pretty; pipelines (JSON lines) do without loading it.
  const destination = readable
    ? (await import("pino-pretty")).default({
        destination: io.logStream,
        sync: true,
        colorize: io.logIsTty,
        translateTime: "HH:MM:ss",
        ignore: "pid,hostname,name",
        singleLine: true,
      })
    : io.logStream;
  return createLogger({ name: "ferry", level, destination: destination as Writable, env: io.env });
}

/** Builds the runbook context of a command from its config file. */
export async function contextFor(args: GlobalArgs, io: CliIo): Promise<RunbookContext> {
  const { loadFerryConfig } = await import("../config");
  const config = loadFerryConfig(args.config ?? io.env.FERRY_CONFIG ?? "ferry.json");
  const { createContext } = await import("../context");
  return createContext(config, { env: io.env, logger: await cliLogger(args, io), ...io.context });
}

/** Prints `value` as JSON with --json, else the text. */
export function emit(io: CliIo, args: GlobalArgs, value: unknown, text: () => string): void {
  io.out(args.json ? JSON.stringify(value, null, 2) : text());
}

/** A fixed-width table for the terminal. */
export function table(header: string[], rows: (string | number | undefined)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === undefined ? "—" : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

/** Seconds as `12.3 s`, or `—`. */
export function seconds(s: number | undefined): string {
  return s === undefined ? "—" : `${s.toFixed(1)} s`;
}
