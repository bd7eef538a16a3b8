/** What a secret is replaced with. */
export const REDACTED = "<redacted>";

/**
 * Property names whose values are secrets whatever they hold, compared case-insensitively.
 * `x-ms-previous-snapshot-url` carries the SAS of the previous snapshot in diff requests.
 */
export const SENSITIVE_KEYS: readonly string[] = [
  "authorization",
  "proxy-authorization",
  "accessSAS",
  "sas",
  "sasUrl",
  "sasUri",
  "token",
  "accessToken",
  "password",
  "secret",
  "clientSecret",
  "accountKey",
  "connectionString",
  "x-ms-previous-snapshot-url",
];

const sensitiveKeySet = new Set(SENSITIVE_KEYS.map((k) => k.toLowerCase()));

/** True when a property of this name must never be logged. */
export function isSensitiveKey(key: string): boolean {
  return sensitiveKeySet.has(key.toLowerCase());
}

// A value ends at whitespace, quotes, angle brackets or a backslash, so the patterns stop at
// the end of a JSON string ("...\n" in a serialised stack) and never eat `<redacted>` itself.
// A secret starts at the beginning, after a non-letter, or after an escaped \n, \r or \t
// (a serialised line: `\b` would see the "n" of "\nBearer" as part of the word).
const connectionStringSecret =
  /(?<=^|[^A-Za-z0-9]|\\[nrt])(AccountKey|SharedAccessSignature)=(?!<redacted>)[^;\s"'`<>\\]+/gi;
const urlWithQuery = /(https?:\/\/[^\s?#"'`<>\\]+)\?([^\s#"'`<>\\]*)/gi;
// Loose on purpose: a SAS nested URL-encoded in another query ("...%26sig%3D...") counts too.
const sasSignatureInQuery = /(?<![A-Za-z])sig(?:=|%3D)/i;
const sasSignature = /(?<=^|[^A-Za-z]|\\[nrt])sig(=|%3D)(?!<redacted>)[^&\s"'`<>\\]+/gi;
const bearerToken = /(?<=^|[^A-Za-z0-9]|\\[nrt])(Bearer)\s+(?!<redacted>)[A-Za-z0-9\-._~+/]+=*/gi;
const sharedKeySignature =
  /(?<=^|[^A-Za-z0-9]|\\[nrt])(SharedKey(?:Lite)?)\s+([^\s:"'`<>\\]+):(?!<redacted>)[A-Za-z0-9+/]+=*/g;
const jwt = /(?<=^|[^A-Za-z0-9_-]|\\[nrt])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/**
 * Removes SAS signatures, bearer tokens, storage keys and JWTs from free text. A URL carrying a
 * SAS keeps its scheme, host and path (useful in logs) and loses its whole query string.
 * Idempotent: scrubbing scrubbed text changes nothing.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(connectionStringSecret, `$1=${REDACTED}`)
    .replace(urlWithQuery, (whole, base: string, query: string) =>
      sasSignatureInQuery.test(query) ? `${base}?${REDACTED}` : whole,
    )
    .replace(sasSignature, `sig$1${REDACTED}`)
    .replace(bearerToken, `$1 ${REDACTED}`)
    .replace(sharedKeySignature, `$1 $2:${REDACTED}`)
    .replace(jwt, REDACTED);
}

// Deeper than any configuration or log object we write; stops runaway graphs (sockets, streams).
const maxDepth = 32;

/**
 * Returns a copy of a JSON-ish value with every string scrubbed by {@link redactSecrets} and every
 * property named in {@link SENSITIVE_KEYS} replaced by `<redacted>` (null and undefined stay as
 * they are: there is nothing to hide). Cycles become "[Circular]". Errors stay errors (same
 * prototype) with message, stack, cause and enumerable properties scrubbed; objects with
 * `toJSON` (HTTP header collections, for one) are scrubbed as they would serialise. Binary data
 * and dates are kept as they are.
 */
export function redactDeep<T>(value: T): T {
  return scrub(value, new Set(), 0) as T;
}

function scrub(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Date || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value;
  if (ancestors.has(value)) return "[Circular]";
  if (depth >= maxDepth) return "[Truncated]";
  ancestors.add(value);
  try {
    return scrubObject(value, ancestors, depth + 1);
  } finally {
    // Only ancestors count: the same object reached twice by different paths is not a cycle.
    ancestors.delete(value);
  }
}

function scrubObject(value: object, ancestors: Set<object>, depth: number): unknown {
  if (value instanceof Error) return scrubError(value, ancestors, depth);
  if (Array.isArray(value)) return value.map((item) => scrub(item, ancestors, depth));
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return scrub(toJSON.call(value), ancestors, depth);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = scrubProperty(String(k), v, ancestors, depth);
    return out;
  }
  if (value instanceof Set) return [...value].map((item) => scrub(item, ancestors, depth));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubProperty(k, v, ancestors, depth);
  return out;
}

function scrubProperty(key: string, value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (isSensitiveKey(key) && value !== undefined && value !== null) return REDACTED;
  return scrub(value, ancestors, depth);
}

function scrubError(error: Error, ancestors: Set<object>, depth: number): Error {
  // Same prototype so `instanceof`, `name` and pino's error serializer still see an error.
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error;
  const hidden = (key: string, v: unknown) =>
    Object.defineProperty(copy, key, { value: v, enumerable: false, writable: true, configurable: true });
  hidden("message", redactSecrets(error.message));
  if (error.stack !== undefined) hidden("stack", redactSecrets(error.stack));
  if (error.cause !== undefined) hidden("cause", scrub(error.cause, ancestors, depth));
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) hidden("errors", scrub(errors, ancestors, depth));
  // Enumerable own properties only: RestError hides request and response (with their headers)
  // as non-enumerable on purpose, and a log copy has no use for them.
  for (const [k, v] of Object.entries(error)) {
    Object.defineProperty(copy, k, {
      value: scrubProperty(k, v, ancestors, depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  // Brands (see errors.ts) are symbol-keyed and must survive the copy.
  for (const sym of Object.getOwnPropertySymbols(error)) {
    const v = (error as unknown as Record<symbol, unknown>)[sym];
    if (typeof v !== "function") Object.defineProperty(copy, sym, { value: v });
  }
  return copy;
}
