import { pino, stdSerializers } from "pino";
import type { DestinationStream, LogFn, Logger, LoggerOptions } from "pino";
import { UserError } from "./errors";
import { REDACTED, SENSITIVE_KEYS, redactDeep, redactSecrets } from "./redact";

export type { Logger } from "pino";

/** Levels a ferry logger accepts, lowest first; "silent" writes nothing. */
export const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Lowest level written. Default: `FERRY_LOG_LEVEL` from `env`, else "info". */
  level?: LogLevel;
  /**
   * Where JSON lines go: any object with `write(line: string)`, such as a Writable or
   * `pino.destination()`. Default: standard output.
   */
  destination?: DestinationStream;
  /** Value of the `name` field on every line. Default: no name. */
  name?: string;
  /** Fields on every line, replacing pino's defaults. Default: `pid` and `hostname`. */
  base?: Record<string, unknown>;
  /** Environment read for `FERRY_LOG_LEVEL`. Default: `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * A pino logger that cannot write a secret. Four layers, so no single bypass leaks one:
 * arguments are scrubbed as they come in (`hooks.logMethod`: message, interpolation values, an
 * error's message and stack), merged objects and child bindings are scrubbed
 * (`formatters`), `err` is scrubbed after serialisation, sensitive keys are censored by
 * pino's `redact`, and finally every line is scrubbed as text (`hooks.streamWrite`).
 * Child loggers inherit all of it.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const level = options.level ?? parseLogLevel(env.FERRY_LOG_LEVEL);

  const pinoOptions: LoggerOptions = {
    level,
    redact: { paths: redactPaths(), censor: REDACTED },
    serializers: {
      err: (e: unknown) => redactDeep(stdSerializers.err(e as Error)),
    },
    formatters: {
      bindings: (bindings) => redactDeep(bindings),
      log: (object) => redactDeep(object),
    },
    hooks: {
      logMethod(args, method) {
        // Scrubbed before pino picks a message from an error, so `log.error(err)` is safe too.
        const clean = args.map((arg) => redactDeep(arg)) as Parameters<LogFn>;
        method.apply(this, clean);
      },
      streamWrite: (line) => redactSecrets(line),
    },
  };
  if (options.name !== undefined) pinoOptions.name = options.name;
  if (options.base !== undefined) pinoOptions.base = options.base;

  return options.destination === undefined ? pino(pinoOptions) : pino(pinoOptions, options.destination);
}

/** Parses a level name from the environment; unset or empty means "info". */
export function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined || value.trim() === "") return "info";
  const level = value.trim().toLowerCase();
  if ((logLevels as readonly string[]).includes(level)) return level as LogLevel;
  throw new UserError(`FERRY_LOG_LEVEL "${value}" is not a log level. Set it to one of: ${logLevels.join(", ")}.`, {
    code: "InvalidLogLevel",
  });
}

// pino's redact paths are case-sensitive, so each key goes in as written, lower case and
// capitalised (HTTP headers arrive as all three), at the top and two levels down.
// formatters.log has already censored these keys at any depth; this layer holds if a child
// logger swaps the formatters out.
function redactPaths(): string[] {
  const names = new Set<string>();
  for (const key of SENSITIVE_KEYS) {
    names.add(key);
    names.add(key.toLowerCase());
    names.add(key.charAt(0).toUpperCase() + key.slice(1));
  }
  const paths: string[] = [];
  for (const name of names) {
    const isIdentifier = /^[A-Za-z_$][\w$]*$/.test(name);
    const top = isIdentifier ? name : `["${name}"]`;
    const member = isIdentifier ? `.${name}` : `["${name}"]`;
    paths.push(top, `*${member}`, `*.*${member}`);
  }
  return paths;
}
