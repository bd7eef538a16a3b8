import { setTimeout as delay } from "node:timers/promises";
import { isUserError } from "./errors";

// The one retry policy of ferry (STYLE 6): a pure decision plus the single loop that sleeps.
// Azure SDK clients already retry their own requests (see azure/clients.ts); do not wrap SDK
// calls in withRetry as well, or a throttled call is retried maxRetries² times.

/** Options of the retry policy. */
export interface RetryOptions {
  /** Retries after the first attempt. Default: 5. */
  maxRetries?: number;
  /** Base of the exponential backoff, in milliseconds. Default: 800. */
  retryDelayInMs?: number;
  /**
   * Upper bound of one backoff delay, in milliseconds. A server's Retry-After is honoured even
   * when longer. Default: 60000.
   */
  maxRetryDelayInMs?: number;
  /** Jitter source returning [0, 1). Default: Math.random. */
  random?: () => number;
  /** Clock for HTTP-date Retry-After headers, in milliseconds since the epoch. Default: Date.now. */
  now?: () => number;
  /** Which failures are worth another attempt. Default: {@link isRetryableError}. */
  retryable?: (error: unknown) => boolean;
}

export const defaultRetryOptions = {
  maxRetries: 5,
  retryDelayInMs: 800,
  maxRetryDelayInMs: 60_000,
} as const;

/** Input of {@link decideRetry}. */
export interface DecideRetryInput {
  /** The attempt that just failed, counting from 1. */
  attempt: number;
  error: unknown;
  options?: RetryOptions;
}

/** Wait this long then try again, or give up with this error. */
export type RetryDecision = { retryAfterInMs: number } | { errorToThrow: unknown };

const retryableStatusCodes = new Set([408, 429, 500, 502, 503, 504]);
const networkErrorCodes = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "REQUEST_SEND_ERROR"]);
// ARM returns this (with 409 or 429) while another operation holds the resource; it clears.
const retryableAzureCodes = new Set(["RetryableErrorDueToAnotherOperation"]);

/**
 * Decides whether a failed attempt is retried and after how long: the server's Retry-After
 * (`retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After` in seconds or as an HTTP date)
 * when it sent one, else exponential backoff with full jitter capped at `maxRetryDelayInMs`.
 * Pure: the clock and the jitter come from `options`.
 */
export function decideRetry({ attempt, error, options = {} }: DecideRetryInput): RetryDecision {
  const maxRetries = options.maxRetries ?? defaultRetryOptions.maxRetries;
  if (attempt > maxRetries || !(options.retryable ?? isRetryableError)(error)) return { errorToThrow: error };

  const serverDelay = retryAfterInMs(error, options.now ?? Date.now);
  if (serverDelay !== undefined) return { retryAfterInMs: serverDelay };

  const base = options.retryDelayInMs ?? defaultRetryOptions.retryDelayInMs;
  const cap = options.maxRetryDelayInMs ?? defaultRetryOptions.maxRetryDelayInMs;
  const exponential = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  const random = options.random ?? Math.random;
  return { retryAfterInMs: Math.floor(random() * exponential) };
}

/**
 * True for failures that may pass on a later attempt: HTTP 408, 429, 500, 502, 503, 504,
 * ARM's "RetryableErrorDueToAnotherOperation", and dropped or refused connections. Never a
 * UserError, an abort, or any other 4xx.
 */
export function isRetryableError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  if (isUserError(error)) return false;
  const e = error as RestErrorLike;
  if (e.name === "AbortError") return false;
  const code = errorCodeOf(e);
  if (code !== undefined && retryableAzureCodes.has(code)) return true;
  if (typeof e.statusCode === "number") return retryableStatusCodes.has(e.statusCode);
  if (code !== undefined && networkErrorCodes.has(code)) return true;
  return typeof e.message === "string" && /socket hang up/i.test(e.message);
}

// Compute's 409s for a write that arrived while another write holds the same VM (an attach or detach of another host,
// a disk still being detached): they clear once that write ends. Azure/azure-cli#15765 and kubernetes/kubernetes#50150
// ("Conflict": "The request failed due to conflict with a concurrent request"), Azure-Samples/azuresandbox#553
// ("ConflictingConcurrentWriteNotAllowed": "... Please retry later"), kubernetes/kubernetes#78657
// ("AttachDiskWhileBeingDetached").
const concurrentWriteCodes = new Set([
  "Conflict",
  "ConflictingConcurrentWriteNotAllowed",
  "AttachDiskWhileBeingDetached",
]);

/**
 * True for Compute's refusal of a write to a VM another write holds (409 Conflict,
 * ConflictingConcurrentWriteNotAllowed, AttachDiskWhileBeingDetached): the SDKs do not retry a 409, and a second host
 * writing the same VM (the appliance's disks, from a plan's blueprints on two agents) gets one.
 */
export function isConcurrentWriteConflict(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as RestErrorLike;
  const code = errorCodeOf(e);
  return e.statusCode === 409 && code !== undefined && concurrentWriteCodes.has(code);
}

/** The fields of a RestError (or Node system error) the policy reads. */
interface RestErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  details?: unknown;
  response?: { headers?: { get?(name: string): string | undefined } };
}

function errorCodeOf(e: RestErrorLike): string | undefined {
  if (typeof e.code === "string") return e.code;
  // ARM's error body, when the client did not lift the code onto the error.
  const nested = (e.details as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof nested === "string" ? nested : undefined;
}

function retryAfterInMs(error: unknown, now: () => number): number | undefined {
  const headers = (error as RestErrorLike).response?.headers;
  if (typeof headers?.get !== "function") return undefined;
  const get = (name: string) => headers.get!(name) ?? undefined;

  for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const value = get(name);
    const ms = value === undefined ? NaN : Number(value);
    if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  }
  const retryAfter = get("retry-after");
  if (retryAfter === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(retryAfter)) return Math.ceil(Number(retryAfter) * 1000);
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

/** Options for {@link withRetry}. */
export interface WithRetryOptions extends RetryOptions {
  /** Waits between attempts; rejects when the signal aborts. Default: a timer. */
  sleep?: (ms: number, abortSignal?: AbortSignal) => Promise<void>;
  /** Stops waiting and retrying; the signal's abort reason is thrown. */
  abortSignal?: AbortSignal;
  /** Called before each wait, e.g. to log the retry. */
  onRetry?: (info: { attempt: number; error: unknown; retryAfterInMs: number }) => void;
}

/**
 * Runs `fn` until it succeeds or {@link decideRetry} gives up, sleeping between attempts.
 * `fn` receives the attempt number, counting from 1.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: WithRetryOptions = {}): Promise<T> {
  const { abortSignal } = options;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    abortSignal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      abortSignal?.throwIfAborted();
      const decision = decideRetry({ attempt, error, options });
      if ("errorToThrow" in decision) throw decision.errorToThrow;
      options.onRetry?.({ attempt, error, retryAfterInMs: decision.retryAfterInMs });
      await sleep(decision.retryAfterInMs, abortSignal);
    }
  }
}

async function defaultSleep(ms: number, abortSignal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, abortSignal === undefined ? undefined : { signal: abortSignal });
  } catch (e) {
    // Surface the caller's abort reason rather than Node's generic AbortError.
    abortSignal?.throwIfAborted();
    throw e;
  }
}
