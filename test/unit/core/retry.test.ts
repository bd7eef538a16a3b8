import { describe, expect, it } from "vitest";
import { FerryError, UserError } from "../../../core/errors";
import { decideRetry, isConcurrentWriteConflict, isRetryableError, withRetry } from "../../../core/retry";

/** The shape of a RestError from @azure/core-rest-pipeline, headers included. */
function restError(
  statusCode: number | undefined,
  options: { code?: string; headers?: Record<string, string>; message?: string } = {},
) {
  const headers = new Map(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return Object.assign(new Error(options.message ?? `HTTP ${statusCode}`), {
    name: "RestError",
    statusCode,
    code: options.code,
    response: { headers: { get: (name: string) => headers.get(name.toLowerCase()) } },
  });
}

const networkError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });
const half = { random: () => 0.5 };

describe("decideRetry", () => {
  it.each([408, 429, 500, 502, 503, 504])("retries HTTP %i", (status) => {
    expect(decideRetry({ attempt: 1, error: restError(status), options: half })).toEqual({ retryAfterInMs: 400 });
  });

  it.each([400, 401, 403, 404, 409, 412, 501])("does not retry HTTP %i", (status) => {
    const error = restError(status);
    expect(decideRetry({ attempt: 1, error })).toEqual({ errorToThrow: error });
  });

  it.each(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "REQUEST_SEND_ERROR"])(
    "retries network error %s",
    (code) => {
      expect(decideRetry({ attempt: 1, error: networkError(code), options: half })).toEqual({ retryAfterInMs: 400 });
    },
  );

  it("retries a socket hang up and RestError's REQUEST_SEND_ERROR without a status", () => {
    expect(isRetryableError(new Error("socket hang up"))).toBe(true);
    expect(isRetryableError(restError(undefined, { code: "REQUEST_SEND_ERROR" }))).toBe(true);
  });

  it("retries ARM's RetryableErrorDueToAnotherOperation, whether 429 or 409", () => {
    expect(isRetryableError(restError(429, { code: "RetryableErrorDueToAnotherOperation" }))).toBe(true);
    expect(isRetryableError(restError(409, { code: "RetryableErrorDueToAnotherOperation" }))).toBe(true);
    expect(
      isRetryableError(
        Object.assign(new Error("x"), {
          statusCode: 409,
          details: { error: { code: "RetryableErrorDueToAnotherOperation" } },
        }),
      ),
    ).toBe(true);
    expect(isRetryableError(restError(409, { code: "Conflict" }))).toBe(false);
  });

  it("retries Compute's refusals of a concurrent write to a VM only when asked to (retryable)", () => {
    const conflict = restError(409, { code: "ConflictingConcurrentWriteNotAllowed" });
    expect(decideRetry({ attempt: 1, error: conflict })).toEqual({ errorToThrow: conflict });
    const options = { ...half, retryable: isConcurrentWriteConflict };
    for (const code of ["Conflict", "ConflictingConcurrentWriteNotAllowed", "AttachDiskWhileBeingDetached"])
      expect(decideRetry({ attempt: 1, error: restError(409, { code }), options })).toEqual({ retryAfterInMs: 400 });
    // Another 409, and the same code with another status, are not a concurrent write.
    for (const error of [restError(409, { code: "OperationNotAllowed" }), restError(400, { code: "Conflict" })])
      expect(decideRetry({ attempt: 1, error, options })).toEqual({ errorToThrow: error });
  });

  it("never retries a UserError, an abort, a plain bug or a non-object", () => {
    for (const error of [
      Object.assign(new UserError("fix your config", { code: "InvalidConfig" }), { statusCode: 503 }),
      Object.assign(new Error("aborted"), { name: "AbortError", code: "ECONNRESET" }),
      new TypeError("x is undefined"),
      new FerryError("planner broke", { code: "Bug" }),
      "ECONNRESET",
      undefined,
    ]) {
      expect(decideRetry({ attempt: 1, error })).toEqual({ errorToThrow: error });
    }
  });

  it("backs off exponentially with full jitter, capped", () => {
    const options = { retryDelayInMs: 100, maxRetryDelayInMs: 1000, maxRetries: 10 };
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) =>
      decideRetry({ attempt, error: restError(503), options: { ...options, random: () => 0.999999 } }),
    );
    expect(delays).toEqual([99, 199, 399, 799, 999, 999].map((ms) => ({ retryAfterInMs: ms })));
    expect(decideRetry({ attempt: 3, error: restError(503), options: { ...options, random: () => 0 } })).toEqual({
      retryAfterInMs: 0,
    });
    expect(decideRetry({ attempt: 3, error: restError(503), options: { ...options, random: () => 0.25 } })).toEqual({
      retryAfterInMs: 100,
    });
  });

  it("uses the defaults: 800 ms base, 60 s cap, 5 retries", () => {
    const top = { random: () => 0.999999999 };
    expect(decideRetry({ attempt: 1, error: restError(500), options: top })).toEqual({ retryAfterInMs: 799 });
    expect(decideRetry({ attempt: 5, error: restError(500), options: top })).toEqual({ retryAfterInMs: 12799 });
    const error = restError(500);
    expect(decideRetry({ attempt: 6, error, options: top })).toEqual({ errorToThrow: error });
    expect(
      decideRetry({
        attempt: 5,
        error: restError(500),
        options: { random: () => 0.999999999, maxRetries: 5, retryDelayInMs: 60_000 },
      }),
    ).toEqual({ retryAfterInMs: 59_999 });
  });

  it("stops after maxRetries", () => {
    const error = restError(503);
    expect(decideRetry({ attempt: 2, error, options: { maxRetries: 2, ...half } })).toEqual({ retryAfterInMs: 800 });
    expect(decideRetry({ attempt: 3, error, options: { maxRetries: 2 } })).toEqual({ errorToThrow: error });
    expect(decideRetry({ attempt: 1, error, options: { maxRetries: 0 } })).toEqual({ errorToThrow: error });
  });

  it("honours Retry-After in seconds, without jitter and beyond the cap", () => {
    const error = restError(429, { headers: { "Retry-After": "120" } });
    expect(decideRetry({ attempt: 1, error, options: { random: () => 0 } })).toEqual({ retryAfterInMs: 120_000 });
  });

  it("prefers retry-after-ms and x-ms-retry-after-ms to Retry-After", () => {
    expect(
      decideRetry({ attempt: 1, error: restError(503, { headers: { "retry-after-ms": "250", "Retry-After": "9" } }) }),
    ).toEqual({ retryAfterInMs: 250 });
    expect(
      decideRetry({ attempt: 1, error: restError(503, { headers: { "x-ms-retry-after-ms": "1500.2" } }) }),
    ).toEqual({ retryAfterInMs: 1501 });
  });

  it("honours Retry-After as an HTTP date against the injected clock", () => {
    const now = () => Date.parse("2025-03-01T10:00:00Z");
    const error = restError(503, { headers: { "Retry-After": "Sat, 01 Mar 2025 10:00:30 GMT" } });
    expect(decideRetry({ attempt: 1, error, options: { now } })).toEqual({ retryAfterInMs: 30_000 });
    const past = restError(503, { headers: { "Retry-After": "Sat, 01 Mar 2025 09:00:00 GMT" } });
    expect(decideRetry({ attempt: 1, error: past, options: { now } })).toEqual({ retryAfterInMs: 0 });
  });

  it("falls back to backoff when the header is unreadable, and ignores headers on errors it does not retry", () => {
    expect(
      decideRetry({ attempt: 1, error: restError(503, { headers: { "Retry-After": "soon" } }), options: half }),
    ).toEqual({ retryAfterInMs: 400 });
    const error = restError(400, { headers: { "Retry-After": "1" } });
    expect(decideRetry({ attempt: 1, error })).toEqual({ errorToThrow: error });
  });
});

describe("withRetry", () => {
  function fakeSleep() {
    const waits: number[] = [];
    return { waits, sleep: async (ms: number) => void waits.push(ms) };
  }

  it("returns the first success, sleeping as decided between attempts", async () => {
    const { waits, sleep } = fakeSleep();
    const attempts: number[] = [];
    const retried: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt === 1) throw restError(429, { headers: { "Retry-After": "2" } });
        if (attempt === 2) throw networkError("ECONNRESET");
        return "done";
      },
      { sleep, random: () => 0.5, onRetry: ({ attempt }) => retried.push(attempt) },
    );
    expect(result).toBe("done");
    expect(attempts).toEqual([1, 2, 3]);
    expect(waits).toEqual([2000, 800]);
    expect(retried).toEqual([1, 2]);
  });

  it("throws the last error once retries are spent", async () => {
    const { waits, sleep } = fakeSleep();
    const error = restError(503);
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw error;
        },
        { sleep, maxRetries: 2, random: () => 0 },
      ),
    ).rejects.toBe(error);
    expect(calls).toBe(3);
    expect(waits).toEqual([0, 0]);
  });

  it("throws a non-retryable error at once", async () => {
    const { waits, sleep } = fakeSleep();
    const error = new UserError("no", { code: "X" });
    await expect(
      withRetry(
        async () => {
          throw error;
        },
        { sleep },
      ),
    ).rejects.toBe(error);
    expect(waits).toEqual([]);
  });

  it("stops on abort with the abort reason, before or between attempts", async () => {
    const controller = new AbortController();
    const reason = new Error("shutting down");
    let calls = 0;
    const promise = withRetry(
      async () => {
        calls++;
        throw restError(503);
      },
      {
        abortSignal: controller.signal,
        sleep: async () => controller.abort(reason),
      },
    );
    await expect(promise).rejects.toBe(reason);
    expect(calls).toBe(1);

    await expect(withRetry(async () => "never", { abortSignal: controller.signal })).rejects.toBe(reason);
  });

  it("interrupts the default sleep when aborted", async () => {
    const controller = new AbortController();
    const promise = withRetry(
      async () => {
        throw restError(429, { headers: { "Retry-After": "3600" } });
      },
      { abortSignal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error("stop")), 10);
    await expect(promise).rejects.toThrow("stop");
  });
});
