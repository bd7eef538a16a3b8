import { azureProblemOf, formatAzureProblem } from "../core/azure-error";
import { FerryError, isFerryError, isUserError, UserError } from "../core/errors";

/**
 * `e` with what to do next added to its message (a runbook that failed part-way says whether a re-run
 * continues it, and what it left paused), as an error of the same kind: same code, same exit code.
 * An Azure or network error becomes its readable form (what Azure said and its fix) first; `code`
 * names the runbook's failure then (default `FailoverFailed`).
 */
export function withNextStep(e: unknown, next: string, code = "FailoverFailed"): Error {
  const problem = azureProblemOf(e);
  const message = `${isFerryError(e) || !problem ? (e as Error).message : formatAzureProblem(problem)}\n${next}`;
  return withMessage(e, message, code);
}

/**
 * `e` again with another message: a UserError or FerryError keeps its kind, code and details; any other error
 * becomes a FerryError with `code`. The original is the cause.
 */
function withMessage(e: unknown, message: string, code: string): Error {
  if (!isFerryError(e)) return new FerryError(message, { code, cause: e });
  const options = { code: e.code, cause: e, ...(e.details ? { details: e.details } : {}) };
  return isUserError(e) ? new UserError(message, options) : new FerryError(message, options);
}

/**
 * `e` with what Azure said and its fix added to its message when the message does not carry them (a
 * deployment's failed resources name only Azure's message): for reports and step lines, which print
 * an error's message where the CLI would render the whole error.
 */
export function withAzureFix(e: unknown): unknown {
  const problem = azureProblemOf(e);
  if (!problem || !(e instanceof Error) || e.message.includes(problem.fix)) return e;
  return withMessage(e, `${e.message}\n${formatAzureProblem(problem)}`, "AzureFailed");
}
