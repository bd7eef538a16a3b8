import { redactSecrets } from "./redact";

// Symbol.for so a FerryError thrown by one copy of this module (a bundled policy pack, a second
// node_modules tree) is still recognised by another: instanceof alone would say no.
const ferryErrorBrand = Symbol.for("ferry.FerryError");
const userErrorBrand = Symbol.for("ferry.UserError");

/** Options for {@link FerryError} and {@link UserError}. */
export interface FerryErrorOptions {
  /** Stable, machine-readable code (PascalCase, e.g. "InvalidConfig"). Tools and tests match on it. */
  code: string;
  /** The error that led to this one. */
  cause?: unknown;
  /** Structured facts for `--json` output and logs. Must not hold secrets. */
  details?: Record<string, unknown>;
}

/** Base error of ferry: anything thrown on purpose carries a stable `code`. */
export class FerryError extends Error {
  readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(message: string, options: FerryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // Non-enumerable like Error's own `name`, so logs and inspect do not repeat it.
    Object.defineProperty(this, "name", { value: new.target.name, configurable: true, writable: true });
    this.code = options.code;
    if (options.details !== undefined) this.details = options.details;
    Object.defineProperty(this, ferryErrorBrand, { value: true });
  }
}

/**
 * An error the operator can fix: the message says what is wrong and what to do. The CLI prints
 * the message alone, without a stack, and exits non-zero.
 */
export class UserError extends FerryError {
  constructor(message: string, options: FerryErrorOptions) {
    super(message, options);
    Object.defineProperty(this, userErrorBrand, { value: true });
  }
}

function hasBrand(e: unknown, brand: symbol): boolean {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[brand] === true;
}

/** True for any {@link FerryError}, including one from another copy of this module. */
export function isFerryError(e: unknown): e is FerryError {
  return e instanceof FerryError || hasBrand(e, ferryErrorBrand);
}

/** True for a {@link UserError}, including one from another copy of this module. */
/** Whether an Azure SDK call failed because the resource does not exist (HTTP 404). */
export function isNotFound(e: unknown): boolean {
  return (e as { statusCode?: unknown } | null)?.statusCode === 404;
}

/** What an Azure read gives, or undefined when the resource is not there (404); other errors are thrown. */
export async function unlessNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError || hasBrand(e, userErrorBrand);
}

/**
 * Text for the terminal: the message of a UserError (the operator's to fix), the stack and
 * causes of anything else (a bug). Secrets are scrubbed either way.
 */
export function formatErrorForCli(e: unknown): string {
  if (isUserError(e)) return redactSecrets(e.message);
  return redactSecrets(describeWithCauses(e, 0));
}

function describeWithCauses(e: unknown, depth: number): string {
  if (!(e instanceof Error)) {
    return typeof e === "string" ? e : `Non-error value thrown: ${safeString(e)}`;
  }
  // The stack already starts with "Name: message"; fall back when an engine did not set it.
  let text = e.stack ?? `${e.name}: ${e.message}`;
  if (isFerryError(e)) text += `\n  code: ${e.code}`;
  // Bounded so a cause cycle cannot loop forever.
  if (e.cause !== undefined && depth < 5) {
    text += `\nCaused by: ${describeWithCauses(e.cause, depth + 1)}`;
  }
  return text;
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
