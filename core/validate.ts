import type { z } from "zod";
import { UserError } from "./errors";
import { redactSecrets } from "./redact";

/** Options for {@link parseWith}. */
export interface ParseWithOptions {
  /** What is being parsed, for the first line of the error, e.g. "blueprint 'web'". Default: "configuration". */
  what?: string;
}

/** One problem found by {@link parseWith}, as carried in `details.issues`. */
export interface ValidationIssue {
  /** Where, like `rows[0].osDisk.sourceDiskId`; "(root)" for the value itself. */
  path: string;
  /** The zod issue code, e.g. "invalid_type", or "custom" for ferry's own checks. */
  code: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/**
 * Parses `value` with `schema` and returns the typed result, or throws a {@link UserError} with
 * code "InvalidConfig" whose message lists every problem, one per line, as
 * `<path>: <what is wrong>. <how to fix>`. The issues are also in `details.issues`.
 * Input values are never copied into the error except short enum-like values, so a secret
 * pasted into the wrong field does not end up in a log.
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, options: ParseWithOptions = {}): z.output<S> {
  const result = schema.safeParse(value, { error: describeIssue });
  if (result.success) return result.data;

  const issues = result.error.issues
    .flatMap((issue) => toValidationIssues(issue, []))
    .map((issue) => ({ ...issue, message: redactSecrets(issue.message) }));
  const what = options.what ?? "configuration";
  const count = issues.length === 1 ? "1 problem" : `${issues.length} problems`;
  const lines = issues.map((i) => `  ${i.path}: ${i.message}`);
  throw new UserError(`Invalid ${what} (${count}):\n${lines.join("\n")}`, {
    code: "InvalidConfig",
    details: { what, issues },
  });
}

/** Formats a zod path as `rows[0].osDisk["x-y"]`; the empty path is "(root)". */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === "" ? "(root)" : out;
}

// zod hands a raw issue to the parse-time error map with the schema that raised it (`inst`) and
// the input; neither survives into the final issue, so what needs them is worked out here.
type RawIssue = z.core.$ZodRawIssue;

function describeIssue(issue: RawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return describeInvalidType(issue.expected, issue.input, issue.path);
    case "invalid_value":
      return describeInvalidValue(issue.values, issue.input, issue.path);
    case "unrecognized_keys": {
      // The final issue keeps extra own properties; toValidationIssues uses this to write one
      // line per unknown key with the keys that are allowed there.
      const shape = (issue.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def
        ?.shape;
      (issue as { allowedKeys?: string[] }).allowedKeys = shape ? Object.keys(shape) : [];
      return `Unrecognised key(s): ${issue.keys.join(", ")}`;
    }
    case "invalid_union": {
      const options = (issue as { options?: unknown[] }).options;
      if (issue.discriminator !== undefined && options !== undefined) {
        const allowed = options as z.core.util.Primitive[];
        const value = isRecord(issue.input) ? issue.input[issue.discriminator] : undefined;
        return describeInvalidValue(allowed, value, [issue.discriminator]);
      }
      // Only reached without branch errors; with them, toValidationIssues shows the closest branch.
      return "does not match any of the allowed forms. Check it against the documented shapes";
    }
    case "too_small":
      return describeBound("small", issue.origin, issue.minimum, issue.inclusive ?? true);
    case "too_big":
      return describeBound("big", issue.origin, issue.maximum, issue.inclusive ?? true);
    case "invalid_format":
      return describeFormat(issue.format);
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}. Round it to one`;
    default:
      return "is not valid. Check it against the documented format";
  }
}

const expectedNames: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "an object (key: value mapping)",
  null: "null",
};

function describeInvalidType(expected: string, input: unknown, path: readonly PropertyKey[] | undefined): string {
  const wanted = expectedNames[expected] ?? expected;
  if (input === undefined) {
    const field = path?.at(-1);
    return typeof field === "string" ? `is missing. Add "${field}" (${wanted})` : `is missing. Add ${wanted}`;
  }
  return `must be ${wanted}, not ${describeKind(input)}. Change it to ${wanted}`;
}

function describeKind(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "a list";
  if (typeof input === "number" && Number.isInteger(input)) return "an integer";
  return expectedNames[typeof input] ?? typeof input;
}

function describeInvalidValue(
  values: readonly z.core.util.Primitive[],
  input: unknown,
  path: readonly PropertyKey[] | undefined,
): string {
  const allowed = values.map((v) => JSON.stringify(v)).join(", ");
  const field = path?.at(-1);
  if (input === undefined) {
    return typeof field === "string"
      ? `is missing. Add "${field}" with one of: ${allowed}`
      : `is missing. Use one of: ${allowed}`;
  }
  // Echoing short values helps ("linux" vs "Linux"); anything long may be a pasted secret.
  const shown = typeof input === "string" && input.length <= 40 ? `"${input}"` : "this value";
  const close =
    typeof input === "string"
      ? closest(
          input,
          values.filter((v): v is string => typeof v === "string"),
        )
      : undefined;
  const hint = close !== undefined ? `Did you mean "${close}"? ` : "";
  return `${shown} is not allowed. ${hint}Use one of: ${allowed}`;
}

function describeBound(which: "small" | "big", origin: string, limit: number | bigint, inclusive: boolean): string {
  const atLeast = which === "small";
  const bound = inclusive ? limit : atLeast ? `more than ${limit}` : `less than ${limit}`;
  switch (origin) {
    case "string":
      if (atLeast && Number(limit) === 1) return "must not be empty. Set a value";
      return atLeast
        ? `is too short. Use at least ${bound} characters`
        : `is too long. Use at most ${bound} characters`;
    case "array":
      return atLeast
        ? `needs at least ${bound} item(s). Add the missing entries`
        : `has too many items. Keep at most ${bound}`;
    default:
      return atLeast
        ? `is too small. Use a value of at least ${bound}`
        : `is too large. Use a value of at most ${bound}`;
  }
}

const formatHints: Record<string, string> = {
  guid: "is not a GUID. Use the form 00000000-0000-0000-0000-000000000000",
  uuid: "is not a UUID. Use the form 00000000-0000-0000-0000-000000000000",
  datetime: "is not an ISO 8601 date-time. Use the form 2025-01-31T12:00:00Z",
  ipv4: "is not an IPv4 address. Use dotted form such as 10.0.1.4",
  url: "is not a URL. Use an absolute URL such as https://example.com/path",
};

function describeFormat(format: string): string {
  return formatHints[format] ?? `is not a valid ${format}. Check its format`;
}

function toValidationIssues(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): ValidationIssue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "unrecognized_keys") {
    const allowed = (issue as { allowedKeys?: string[] }).allowedKeys ?? [];
    return issue.keys.map((key) => ({
      path: formatIssuePath([...path, key]),
      code: issue.code,
      message: describeUnknownKey(key, allowed),
    }));
  }
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    // The branch the author most likely meant: one whose type matched (its problems are inside
    // the value), then the one with the fewest problems.
    const rank = (branch: z.core.$ZodIssue[]) =>
      (branch.some((i) => i.code === "invalid_type" && i.path.length === 0) ? 1000 : 0) + branch.length;
    const best = issue.errors.reduce((a, b) => (rank(b) < rank(a) ? b : a));
    return best.flatMap((inner) => toValidationIssues(inner, path));
  }
  return [{ path: formatIssuePath(path), code: issue.code, message: withFullStop(issue.message) }];
}

function withFullStop(message: string): string {
  return /[.?!]$/.test(message) ? message : `${message}.`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeUnknownKey(key: string, allowed: readonly string[]): string {
  const close = closest(key, allowed);
  const list = allowed.join(", ");
  if (close !== undefined) return `is not a recognised key. Did you mean "${close}"? Allowed keys here: ${list}.`;
  return allowed.length > 0
    ? `is not a recognised key. Remove it; allowed keys here: ${list}.`
    : "is not a recognised key. Remove it.";
}

/** The candidate closest to `input` (case-insensitive edit distance ≤ 2, or a case-only difference). */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const needle = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(needle.length / 2));
  for (const candidate of candidates) {
    const d = editDistance(needle, candidate.toLowerCase());
    if (d <= bestDistance && (best === undefined || d < editDistance(needle, best.toLowerCase()))) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
