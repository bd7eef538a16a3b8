import { writeSync } from "node:fs";
import yargs from "yargs";
import { formatErrorForCli, isFerryError, isUserError, UserError } from "../core/errors";
import { azureProblemOf, formatAzureProblem } from "../core/azure-error";
import { redactSecrets } from "../core/redact";
import { versionLine } from "../core/version";
import { blueprintsCommand, targetsCommand } from "./commands/blueprints";
import { EXIT, EXIT_EPILOGUE, globalOptions, type CliIo } from "./commands/common";
import { drillCommand } from "./commands/drill";
import { failbackCommand } from "./commands/failback";
import { planCommand } from "./commands/plan";
import { cleanupCommand, failoverCommand } from "./commands/failover";
import { historyCommand } from "./commands/history";
import { pointsCommand } from "./commands/points";
import { precheckCommand } from "./commands/precheck";
import { protectCommand } from "./commands/protect";
import { sourcesCommand } from "./commands/sources";
import { Journal } from "./journal";
import { takeJobToken } from "../adapters/azure/job-token";

/** Error codes that mean a gate said no (exit 3), not that something broke. */
const REFUSALS = new Set(["PrecheckFailed", "PolicyViolation", "NotReady"]);

/** The exit code for an error: refused by a gate, bad input, or failed. */
export function exitCodeOf(e: unknown): number {
  if (isFerryError(e) && REFUSALS.has(e.code)) return EXIT.refused;
  if (isFerryError(e) && e.code === "DataMismatch") return EXIT.mismatch;
  return isUserError(e) ? EXIT.usage : EXIT.failed;
}

/** Runs the `ferry` CLI on `argv`; resolves with the exit code (errors are printed, not thrown). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const state = { code: EXIT.ok as number };
  let helpText: string | undefined;
  try {
    await globalOptions(yargs(argv))
      .scriptName("ferry")
      .usage(
        "$0 <command> [options]\n\nAzure-to-Azure disaster recovery: protect disks, check, fail over, drill.\nConfig: --config, $FERRY_CONFIG, or ./ferry.json (see README).",
      )
      .command(sourcesCommand(io))
      .command(protectCommand(io))
      .command(targetsCommand(io, state))
      .command(blueprintsCommand(io, state))
      .command(precheckCommand(io, state))
      .command(failoverCommand(io))
      .command(cleanupCommand(io))
      .command(historyCommand(io))
      .command(pointsCommand(io))
      .command(drillCommand(io, state))
      .command(failbackCommand(io, state))
      .command(planCommand(io))
      .demandCommand(1, "Name a command.")
      .example("$0 sources enable web --prepare empty", "Protect the disks of blueprint web")
      .example("$0 protect web", "Protect blueprint web as its stack file says (staging disks, DR, RPO, retention)")
      .example("$0 precheck web --junit precheck.xml", "Check before a failover (exit 3 when it fails)")
      .example("$0 failover web --test", "A drill in the test network (then: ferry cleanup web)")
      .example("$0 failover web --planned --yes", "A planned failover")
      .epilogue(EXIT_EPILOGUE)
      .strict()
      .recommendCommands()
      .wrap(Math.min(120, process.stdout.columns ?? 100))
      .fail((msg, err) => {
        if (err) throw err;
        if (/^Not enough non-option arguments/.test(msg)) throw new UserError(msg, { code: "MissingArgument" });
        throw new UserError(
          `${/[.?!]$/.test(msg) ? msg : `${msg}.`} Run \`ferry --help\`, or \`ferry <command> --help\`, for the commands and options.`,
          { code: "Usage" },
        );
      })
      .help()
      .version(versionLine("ferry"))
      .parseAsync(argv, {}, (_err, _argv, output) => {
        if (output) helpText = output;
      });
    if (helpText) io.out(helpText);
    return state.code;
  } catch (caught) {
    const e = isUserError(caught) && caught.code === "MissingArgument" ? await missingArgument(argv) : caught;
    const code = exitCodeOf(e);
    if (wantsJson(argv)) writeErr(io, `${JSON.stringify({ error: jsonError(e, code) })}\n`);
    else writeErr(io, `ferry: ${renderError(e, verbose(argv, io.env))}\n`);
    return code;
  }
}

/**
 * An error for the operator: what failed and what to do, in a few lines. Azure's and the network's
 * errors (a RestError, a refused connection, an untrusted certificate) and ferry's own say that
 * without a stack; only a bug (anything else) shows one, and `--log-level debug` shows it for all.
 */
export function renderError(e: unknown, withStack = false): string {
  if (withStack || isUserError(e)) return formatErrorForCli(e);
  if (isFerryError(e)) {
    // Thrown on purpose: its message says what happened. A cause from Azure adds its fix.
    const problem = azureProblemOf(e.cause);
    const fix = problem && !saysAlready(e.message, problem.what) ? `\n${formatAzureProblem(problem)}` : "";
    return redactSecrets(`${e.message}${fix}\n(code ${e.code})`);
  }
  const problem = azureProblemOf(e);
  if (problem) return `${formatAzureProblem(problem)}\nRun with --log-level debug for the details.`;
  return formatErrorForCli(e);
}

/** Whether `message` already names what Azure said in `what` (its errno, or its status and code). */
function saysAlready(message: string, what: string): boolean {
  const token = /E[A-Z]{4,}|\b[45]\d\d\b(?: \w+)?/.exec(what)?.[0];
  return token !== undefined && message.includes(token);
}

/** Whether the operator asked for debug output (`--log-level debug|trace`, or FERRY_LOG_LEVEL). */
function verbose(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const i = argv.findIndex((a) => a === "--log-level" || a.startsWith("--log-level="));
  const level = i < 0 ? env.FERRY_LOG_LEVEL : argv[i]!.includes("=") ? argv[i]!.split("=")[1] : argv[i + 1];
  return level === "debug" || level === "trace";
}

/** Global options that take a value: their value is not a command word. */
const VALUED_GLOBALS = new Set(["--config", "--log-level", "--log-format"]);

/** The words of `argv` that are commands and positionals, in order. */
function wordsOf(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (VALUED_GLOBALS.has(t)) i++;
    else if (!t.startsWith("-")) words.push(t);
  }
  return words;
}

/**
 * yargs says "Not enough non-option arguments: got 0, need at least 1": this says which argument is
 * missing and how the command is called, from its own usage line (its help's first line).
 */
async function missingArgument(argv: string[]): Promise<UserError> {
  const words = wordsOf(argv);
  const help: string[] = [];
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  await runCli([...words, "--help"], { out: (t) => help.push(t), logStream: sink, logIsTty: false, env: {} });
  const usage = (help.join("\n").split("\n")[0] ?? "").trim();
  const tokens = usage.split(/\s+/).slice(1);
  const missing = tokens.slice(words.length).filter((t) => /^<.+>$/.test(t));
  const command = tokens.filter((t) => !/^[<[]/.test(t)).join(" ");
  const what = missing.length ? `missing ${missing.join(" ")}` : "an argument is missing";
  return new UserError(
    `ferry ${command}: ${what}. Usage: ${usage}. Run \`ferry ${command} --help\` for its arguments and options.`,
    { code: "MissingArgument", details: { missing, usage } },
  );
}

/** Whether the command line asks for JSON (then errors are JSON too). */
function wantsJson(argv: string[]): boolean {
  const last = argv.filter((t) => t === "--json" || t === "--no-json" || t.startsWith("--json=")).at(-1);
  return last !== undefined && last !== "--no-json" && last !== "--json=false";
}

/** An error under `--json`: one object on stderr (stdout carries results only), never a stack trace. */
function jsonError(e: unknown, exitCode: number): { code: string; message: string; exitCode: number } {
  const code = isFerryError(e) ? e.code : e instanceof Error ? e.name : "Error";
  // What the text would say (an Azure error's fix included), but never a bug's stack.
  const message =
    isFerryError(e) || azureProblemOf(e) ? renderError(e) : redactSecrets(e instanceof Error ? e.message : String(e));
  return { code, message, exitCode };
}

function writeErr(io: CliIo, text: string): void {
  io.logStream.write(text);
}

/** The process's own I/O. */
export function processIo(): CliIo {
  return {
    out: (text) => writeSync(1, text.endsWith("\n") ? text : `${text}\n`),
    logStream: process.stderr,
    logIsTty: process.stderr.isTTY === true,
    // The job's token stays with this process: no child (Pulumi, its plugins, hooks) inherits it.
    env: takeJobToken(process.env),
  };
}

/** Ends the process after a Ctrl-C, saying how to go on. */
export function exitInterrupted(): never {
  process.stderr.write("\nferry: interrupted. Run the same command again: it continues where this one stopped.\n");
  process.exit(EXIT.interrupted);
}

/**
 * Ctrl-C (or SIGTERM, what a cancelled pipeline job gets): operations of this process are marked canceled (a
 * re-run continues them), then exit 130. Recording the cancel takes a round trip to the state store: bounded, and
 * a second Ctrl-C exits at once (an operation not recorded as canceled is taken over once its lease lapses).
 */
export function interrupted(): void {
  setTimeout(exitInterrupted, 5000).unref();
  void Journal.cancelOpenOperations("interrupted (Ctrl-C)").finally(exitInterrupted);
}
