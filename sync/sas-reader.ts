import type { PageBlobClient } from "@azure/storage-blob";
import { withRetry, type WithRetryOptions } from "../core/retry";
import type { RangeSource } from "./apply";
import type { Range } from "./ranges";

export interface SasRangeSourceOptions {
  /** A page-blob client for a SAS URL (`AzureClients.pageBlob`). */
  pageBlob: (sasUrl: string) => PageBlobClient;
  /** The SAS URL to read through now. */
  sasUrl: () => Promise<string>;
  /** Grants a new SAS after the current one was refused (expired or revoked); returns it. */
  regrant: () => Promise<string>;
  /** Retries of a read whose connection broke mid-body. Default: the shared policy's defaults. */
  retry?: WithRetryOptions;
}

/**
 * Reads recovery-point ranges through a SAS URL with ranged GETs. The storage SDK retries what
 * fails before an answer; a connection that breaks mid-body it reports as an abort and does not
 * resume, so those reads are retried here with the shared policy. A refused SAS is granted anew once
 * per attempt.
 */
export function sasRangeSource(options: SasRangeSourceOptions): RangeSource {
  const clients = new Map<string, PageBlobClient>();
  const client = (url: string) => {
    let c = clients.get(url);
    if (!c) {
      clients.clear();
      c = options.pageBlob(url);
      clients.set(url, c);
    }
    return c;
  };
  const readOnce = async (
    url: string,
    range: Range,
    abortSignal: AbortSignal | undefined,
    target: Buffer | undefined,
  ) => {
    const count = range.end - range.start;
    const response = await client(url).download(range.start, count, { abortSignal, maxRetryRequests: 0 });
    return collect(response.readableStreamBody, count, abortSignal, target);
  };
  return {
    read(range, abortSignal, target) {
      if (target && target.length !== range.end - range.start)
        throw new RangeError("the target buffer must be exactly the range's length");
      return withRetry(
        async () => {
          const url = await options.sasUrl();
          try {
            return await readOnce(url, range, abortSignal, target);
          } catch (e) {
            if (statusOf(e) !== 403) throw e;
            return readOnce(await options.regrant(), range, abortSignal, target);
          }
        },
        { ...options.retry, ...(abortSignal ? { abortSignal } : {}) },
      );
    },
  };
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** A broken response stream, told apart from a caller's abort so that the retry policy retries it. */
function connectionDropped(cause: unknown): Error {
  return Object.assign(
    new Error(`the connection dropped while reading: ${(cause as Error)?.message ?? String(cause)}`),
    {
      code: "ECONNRESET",
      cause,
    },
  );
}

/** Copies a response body into one buffer with 'data' events (an async iterator costs a promise per chunk). */
function collect(
  stream: NodeJS.ReadableStream | undefined,
  count: number,
  abortSignal: AbortSignal | undefined,
  target: Buffer | undefined,
): Promise<Buffer> {
  if (!stream) return Promise.reject(new Error("the data plane answered without a body"));
  const out = target ?? Buffer.allocUnsafe(count);
  let filled = 0;
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      reject(abortSignal?.aborted ? abortSignal.reason : connectionDropped(e));
    };
    stream.on("data", (chunk: Buffer) => {
      if (settled) return;
      if (filled + chunk.length > count) {
        fail(new Error(`the data plane sent more than the ${count} bytes asked for`));
        return;
      }
      chunk.copy(out, filled);
      filled += chunk.length;
    });
    stream.once("error", fail);
    stream.once("close", () => fail(new Error("the stream closed before its end")));
    stream.once("end", () => {
      if (settled) return;
      if (filled !== count) return fail(new Error(`got ${filled} of ${count} bytes`));
      settled = true;
      resolve(out);
    });
  });
}
