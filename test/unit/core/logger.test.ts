import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { createLogger, parseLogLevel } from "../../../core/logger";

/** A hand-written destination that keeps every line. */
function memoryStream() {
  const lines: string[] = [];
  return {
    lines,
    write(line: string) {
      lines.push(line);
    },
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join(""),
  };
}

const sasUrl = "https://md-abc.z1.blob.storage.azure.net/xyz/abcd?sv=2018-03-28&sr=b&sig=c2VjcmV0LXNpZw%3D%3D";
const bearer = "Bearer eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJhcm0ifQ.c2ln";

function expectNoSecrets(text: string) {
  expect(text).not.toContain("sig=c2Vj");
  expect(text).not.toContain("c2VjcmV0LXNpZw");
  expect(text).not.toContain("eyJ0eXAi");
  expect(text).not.toContain("hunter2");
}

describe("createLogger", () => {
  it("writes JSON lines with name, base bindings and fields", () => {
    const out = memoryStream();
    const log = createLogger({ destination: out, name: "ferry-sync", base: { region: "northeurope" }, level: "debug" });
    log.debug({ diskId: "d1", lagInMs: 1200 }, "applied snapshot");
    expect(out.records()).toEqual([
      expect.objectContaining({
        level: 20,
        name: "ferry-sync",
        region: "northeurope",
        diskId: "d1",
        lagInMs: 1200,
        msg: "applied snapshot",
      }),
    ]);
  });

  it("scrubs a SAS URL and a bearer token in the message and interpolation values", () => {
    const out = memoryStream();
    const log = createLogger({ destination: out });
    log.info(`GET ${sasUrl} with ${bearer}`);
    log.info("retrying with Authorization: Bearer opaque-hunter2-token");
    log.info("reading %s", sasUrl);
    expectNoSecrets(out.text());
    const [first, opaque, third] = out.records();
    expect(first!.msg).toBe("GET https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted> with Bearer <redacted>");
    expect(opaque!.msg).toBe("retrying with Authorization: Bearer <redacted>");
    expect(third!.msg).toBe("reading https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>");
  });

  it("scrubs nested objects and sensitive keys, keeping other fields", () => {
    const out = memoryStream();
    const log = createLogger({ destination: out });
    log.info(
      {
        diskId: "d1",
        request: {
          url: sasUrl,
          headers: { authorization: bearer, "x-ms-previous-snapshot-url": sasUrl, "x-ms-range": "bytes=0-511" },
        },
        grant: { accessSAS: sasUrl },
        password: "hunter2",
      },
      "diff",
    );
    expectNoSecrets(out.text());
    expect(out.records()[0]).toMatchObject({
      diskId: "d1",
      request: {
        url: "https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>",
        headers: {
          authorization: "<redacted>",
          "x-ms-previous-snapshot-url": "<redacted>",
          "x-ms-range": "bytes=0-511",
        },
      },
      grant: { accessSAS: "<redacted>" },
      password: "<redacted>",
    });
  });

  it("scrubs an error's message and stack, logged alone or under err", () => {
    const out = memoryStream();
    const log = createLogger({ destination: out });
    const error = Object.assign(new Error(`403 on ${sasUrl}`), { code: "AuthorizationFailure", sasUrl });
    log.error(error);
    log.error({ err: error, diskId: "d1" }, "copy failed");
    expectNoSecrets(out.text());
    const [alone, nested] = out.records();
    expect(alone!.msg).toBe("403 on https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>");
    expect(alone!.err).toMatchObject({ type: "Error", code: "AuthorizationFailure", sasUrl: "<redacted>" });
    expect((alone!.err as { stack: string }).stack).toContain(
      "403 on https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>",
    );
    expect(nested).toMatchObject({ msg: "copy failed", diskId: "d1" });
    // The caller's error is left intact.
    expect(error.message).toContain("sig=");
  });

  it("protects child loggers, their bindings, and children that replace the formatters", () => {
    const out = memoryStream();
    const log = createLogger({ destination: out });
    const child = log.child({ component: "backfill", sasUrl, source: sasUrl });
    child.info({ token: "hunter2" }, "started");
    const rogue = log.child({}, { redact: [], formatters: { log: (o: object) => o } });
    rogue.info({ deep: { deeper: { token: "hunter2" } }, note: `see ${sasUrl}` }, "rogue");
    expectNoSecrets(out.text());
    const [first, second] = out.records();
    expect(first).toMatchObject({
      component: "backfill",
      sasUrl: "<redacted>",
      source: "https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>",
      token: "<redacted>",
    });
    expect(second).toMatchObject({ deep: { deeper: { token: "<redacted>" } } });
  });

  it("takes its level from FERRY_LOG_LEVEL, else info", () => {
    const out = memoryStream();
    expect(createLogger({ destination: out, env: { FERRY_LOG_LEVEL: "warn" } }).level).toBe("warn");
    expect(createLogger({ destination: out, env: {} }).level).toBe("info");
    expect(createLogger({ destination: out, env: { FERRY_LOG_LEVEL: "warn" }, level: "trace" }).level).toBe("trace");
    const quiet = createLogger({ destination: out, env: { FERRY_LOG_LEVEL: "error" } });
    quiet.warn("hidden");
    expect(out.lines).toHaveLength(0);
  });
});

describe("parseLogLevel", () => {
  it("accepts known levels in any case and refuses others with the list", () => {
    expect(parseLogLevel(" DEBUG ")).toBe("debug");
    expect(parseLogLevel("")).toBe("info");
    let error: unknown;
    try {
      parseLogLevel("verbose");
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    expect((error as Error).message).toBe(
      'FERRY_LOG_LEVEL "verbose" is not a log level. Set it to one of: trace, debug, info, warn, error, fatal, silent.',
    );
  });
});
