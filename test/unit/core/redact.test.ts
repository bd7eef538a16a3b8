import { describe, expect, it } from "vitest";
import { FerryError } from "../../../core/errors";
import { REDACTED, redactDeep, redactSecrets } from "../../../core/redact";

const sasUrl =
  "https://md-abc.z1.blob.storage.azure.net/xyz/abcd?sv=2018-03-28&sr=b&si=6b1e&sig=bW9yZSUyRnNlY3JldA%3D%3D";
const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJl-_x";

describe("redactSecrets", () => {
  it("drops the whole query of a SAS URL and keeps scheme, host and path", () => {
    expect(redactSecrets(`GET ${sasUrl} 200`)).toBe(
      "GET https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted> 200",
    );
  });

  it("keeps the query of URLs without a signature", () => {
    const url = "https://management.azure.com/subscriptions/x?api-version=2024-03-02";
    expect(redactSecrets(url)).toBe(url);
  });

  it("stops at the end of a JSON string or an escaped newline", () => {
    const json = JSON.stringify({ msg: `failed\n${sasUrl}`, next: "kept" });
    const out = redactSecrets(json);
    expect(JSON.parse(out)).toEqual({
      msg: "failed\nhttps://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>",
      next: "kept",
    });
  });

  it("finds secrets right after an escaped newline in a serialised line", () => {
    const json = JSON.stringify({ stack: `Error: x\nBearer abc\nsig=def\n${jwt}\nAccountKey=k` });
    expect(JSON.parse(redactSecrets(json))).toEqual({
      stack: "Error: x\nBearer <redacted>\nsig=<redacted>\n<redacted>\nAccountKey=<redacted>",
    });
  });

  it("redacts a loose sig= and a URL-encoded one", () => {
    expect(redactSecrets("query was sv=1&sig=abc%2Bdef&se=2025")).toBe("query was sv=1&sig=<redacted>&se=2025");
    expect(redactSecrets("copySource=https%3A%2F%2Fa%2Fb%3Fsv%3D1%26sig%3Dabc")).toBe(
      "copySource=https%3A%2F%2Fa%2Fb%3Fsv%3D1%26sig%3D<redacted>",
    );
  });

  it("redacts bearer tokens, SharedKey signatures and JWTs", () => {
    expect(redactSecrets("Authorization: Bearer abc.DEF-123_x/y+z==")).toBe("Authorization: Bearer <redacted>");
    expect(redactSecrets("authorization: bearer xyz")).toBe("authorization: bearer <redacted>");
    expect(redactSecrets("Authorization: SharedKey acct:c2lnbmF0dXJl")).toBe(
      "Authorization: SharedKey acct:<redacted>",
    );
    expect(redactSecrets(`token ${jwt} end`)).toBe("token <redacted> end");
  });

  it("redacts account keys and SAS in connection strings, keeping the rest", () => {
    const cs =
      "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5a2V5a2V5+/==;EndpointSuffix=core.windows.net";
    expect(redactSecrets(cs)).toBe(
      "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=<redacted>;EndpointSuffix=core.windows.net",
    );
    expect(redactSecrets("BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2020&sig=abc")).toBe(
      "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=<redacted>",
    );
  });

  it("is idempotent and leaves ordinary text alone", () => {
    const once = redactSecrets(`${sasUrl} Bearer abc ${jwt} sig=zzz AccountKey=k`);
    expect(redactSecrets(once)).toBe(once);
    const plain = "applied snapshot os1-0001 to lun 3 (design signature check passed)";
    expect(redactSecrets(plain)).toBe(plain);
  });
});

describe("redactDeep", () => {
  it("scrubs strings and sensitive keys at any depth, case-insensitively, without touching the input", () => {
    const input = {
      diskId: "d1",
      request: { url: sasUrl, headers: { Authorization: "Bearer abc", "X-MS-Previous-Snapshot-Url": "whatever" } },
      list: [{ accessSAS: "https://x/y?sig=1" }, { PASSWORD: "p" }, "Bearer qqq"],
      credentials: { clientSecret: "s", connectionString: "c", accountKey: "k", token: "t", secret: null },
      count: 3,
    };
    const copy = structuredClone(input);
    expect(redactDeep(input)).toEqual({
      diskId: "d1",
      request: {
        url: "https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>",
        headers: { Authorization: REDACTED, "X-MS-Previous-Snapshot-Url": REDACTED },
      },
      list: [{ accessSAS: REDACTED }, { PASSWORD: REDACTED }, "Bearer <redacted>"],
      credentials: {
        clientSecret: REDACTED,
        connectionString: REDACTED,
        accountKey: REDACTED,
        token: REDACTED,
        secret: null,
      },
      count: 3,
    });
    expect(input).toEqual(copy);
  });

  it("replaces cycles but copies shared (non-cyclic) references", () => {
    const shared = { sas: "x", name: "s" };
    const a: Record<string, unknown> = { left: shared, right: shared };
    a.self = a;
    expect(redactDeep(a)).toEqual({
      left: { sas: REDACTED, name: "s" },
      right: { sas: REDACTED, name: "s" },
      self: "[Circular]",
    });
  });

  it("keeps errors as errors, with message, stack, cause and fields scrubbed", () => {
    const cause = new Error(`read ${sasUrl}`);
    const e = new FerryError(`copy failed for ${sasUrl}`, {
      code: "CopyFailed",
      cause,
      details: { sasUrl, diskId: "d1" },
    });
    const out = redactDeep(e);
    expect(out).not.toBe(e);
    expect(out).toBeInstanceOf(FerryError);
    expect(out.message).toBe("copy failed for https://md-abc.z1.blob.storage.azure.net/xyz/abcd?<redacted>");
    expect(out.stack).not.toContain("sig=");
    expect(out.stack).toContain("copy failed for");
    expect((out.cause as Error).message).not.toContain("sig=");
    expect(out.code).toBe("CopyFailed");
    expect(out.details).toEqual({ sasUrl: REDACTED, diskId: "d1" });
    expect(e.message).toContain("sig=");
  });

  it("serialises objects with toJSON (header collections) before scrubbing", () => {
    const headers = { toJSON: () => ({ authorization: "Bearer abc", "content-type": "json" }) };
    expect(redactDeep({ headers })).toEqual({ headers: { authorization: REDACTED, "content-type": "json" } });
  });

  it("passes primitives, dates and buffers through", () => {
    const date = new Date(0);
    const buffer = Buffer.from("sig=abc");
    expect(redactDeep(42)).toBe(42);
    expect(redactDeep(null)).toBe(null);
    expect(redactDeep(date)).toBe(date);
    expect(redactDeep(buffer)).toBe(buffer);
  });
});
