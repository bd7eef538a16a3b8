import { redactSecrets } from "./redact";

/** What went wrong talking to Azure (or the state store), in one sentence, and what the operator can do. */
export interface AzureProblem {
  /** `403 AuthorizationFailed: …`, `cannot connect: …`: what Azure or the network said. */
  what: string;
  /** What to do about it. */
  fix: string;
  /** `throttled` and `unavailable` pass by themselves; `denied`, `untrusted` and `failed` need the operator. */
  kind: "denied" | "throttled" | "unavailable" | "untrusted" | "failed";
}

// Node's TLS verification failures: an endpoint whose certificate this process does not trust.
const TLS_CODES = new RegExp(
  [
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT",
    "CERT_HAS_EXPIRED",
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "self[- ]signed certificate",
    "unable to verify the first certificate",
  ].join("|"),
  "i",
);
// Node's socket failures: nothing answered, or the connection went away.
const NETWORK_CODES = new RegExp(
  [
    "ECONNREFUSED",
    "ECONNRESET",
    "ENOTFOUND",
    "ETIMEDOUT",
    "EAI_AGAIN",
    "EPIPE",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "socket hang up",
    "UND_ERR_SOCKET",
    "other side closed",
    "REQUEST_SEND_ERROR",
  ].join("|"),
  "i",
);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  cause?: unknown;
}

/**
 * Reads an Azure SDK error (a `RestError`, a failed long-running operation) or a network error, here
 * or in the cause chain of another error, as an {@link AzureProblem}; undefined for anything else
 * (a bug, or a ferry error that already says what to do). `where` names the service in the fix.
 */
export function azureProblemOf(e: unknown, where = "Azure"): AzureProblem | undefined {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === "object" && depth < 6; depth++) {
    const problem = problemOf(cur as ErrorLike, where);
    if (problem) return problem;
    cur = (cur as ErrorLike).cause;
  }
  return undefined;
}

// A request to Table storage (the state store): its host, its table list, or an entity's keys.
const TABLE_URL = /\.table\.core\.|\/Tables\b|PartitionKey/i;

function problemOf(e: ErrorLike, given: string): AzureProblem | undefined {
  const url = (e as { request?: { url?: unknown } }).request?.url;
  const where = given === "Azure" && typeof url === "string" && TABLE_URL.test(url) ? "the state store" : given;
  const message = redactSecrets(typeof e.message === "string" ? firstLine(e.message) : "");
  const code = typeof e.code === "string" ? e.code : undefined;
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  const text = `${code ?? ""} ${message}`;
  if (TLS_CODES.test(text)) {
    return {
      kind: "untrusted",
      what: `the TLS certificate of ${where} is not trusted: ${message}`,
      fix:
        "Point `azure.caCertPath` in ferry.json at the endpoint's CA certificate (the local Azure's is in its data " +
        "directory), or use the public Azure endpoint.",
    };
  }
  if (status === undefined && NETWORK_CODES.test(text)) {
    return {
      kind: "unavailable",
      what: `cannot reach ${where}: ${message}`,
      fix: `Check the network and the endpoint in ferry.json, then run the same command again.`,
    };
  }
  const rest = e.name === "RestError" || status !== undefined;
  const lro = !rest && /long[- ]running operation|LRO|provisioning state.*failed/i.test(message);
  if (!rest && !lro) return undefined;
  const said = `${status ?? ""}${status && code ? " " : ""}${code ?? ""}`.trim();
  const what = `${where} answered ${said ? `${said}: ` : ""}${message || "(no message)"}`;
  if (status === 401 || status === 403) {
    return {
      kind: "denied",
      what,
      fix:
        "The identity ferry signs in with lacks a role there: grant it (see the README's roles), or sign in " +
        "with the right identity, then run the same command again.",
    };
  }
  if (status === 429) {
    return { kind: "throttled", what, fix: "Azure is throttling this subscription: wait a minute and run again." };
  }
  if (status !== undefined && status >= 500) {
    return { kind: "unavailable", what, fix: "Azure failed on its side: run the same command again shortly." };
  }
  return { kind: "failed", what, fix: "Fix the cause it names, then run the same command again." };
}

function firstLine(s: string): string {
  const line = s.split("\n").find((l) => l.trim()) ?? "";
  return line.length > 400 ? `${line.slice(0, 400)}…` : line;
}

/** An Azure problem as one line: what happened, and what to do. */
export function formatAzureProblem(p: AzureProblem): string {
  return `${p.what.replace(/\.+$/, "")}. ${p.fix}`;
}
