import { randomUUID } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { Agent, request } from "node:https";
import type { Mapper, OperationSpec } from "@azure/core-client";
import type { PageBlobClient } from "@azure/storage-blob";
import { beforeAll, describe, expect, it } from "vitest";
import { createEmptyDisk, createGroup, pattern } from "../../testing";
import { useEmulator } from "../helpers/emulator";
import { checkHeaders, checkXml, dataSpecOf, parseXml, serviceVersionOf, type Problem } from "./data-spec";

// The managed-disk data plane (emulator/README.md, "Managed-disk data plane") against the Blob service's
// specification as `@azure/storage-blob` carries it: each answer's status is one its operation documents, its
// headers are the spec's with the spec's types (and those the REST reference says every answer carries), its
// XML body has the spec's shape, and an error is the service's `<Error><Code>` with `x-ms-error-code`. The
// requests are sent as the client sends them, with the `x-ms-version` of its specs.

const fx = useEmulator();
const REGION = "westeurope";
const RG = "dataconf";
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const DISK_BYTES = 1024 * MiB;
const UPLOAD_BYTES = 20 * MiB + 512;

let agent: Agent;
let older: string;
let newer: string;
let upload: string;

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** One raw data-plane request, as `@azure/storage-blob` sends it (its version, a client request id). */
function sendData(
  method: string,
  url: string,
  spec: OperationSpec,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<Answer & { clientRequestId: string }> {
  const clientRequestId = randomUUID();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: {
          "x-ms-version": serviceVersionOf(spec),
          "x-ms-client-request-id": clientRequestId,
          ...(body ? { "content-length": String(body.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = String(v);
          resolve({
            status: res.statusCode ?? 0,
            headers: h,
            text: Buffer.concat(parts).toString("latin1"),
            clientRequestId,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const withQuery = (sas: string, query: Record<string, string>) => {
  const u = new URL(sas);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
};

/** The query parameters a spec sends with constant values (`comp=pagelist`). */
function constantQuery(spec: OperationSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of spec.queryParameters ?? []) {
    if (p.mapper.isConstant) out[p.mapper.serializedName!] = String(p.mapper.defaultValue);
  }
  return out;
}

/** What every answer carries per the REST reference: request id, version, date, and the echoed client id. */
const ALWAYS = ["x-ms-request-id", "x-ms-version", "date", "x-ms-client-request-id"];

/** Asserts an answer conforms to its operation's spec for its status. */
function expectConforms(
  spec: OperationSpec,
  answer: Answer & { clientRequestId: string },
  returned: readonly string[],
  bodyMapper?: Mapper,
): void {
  const documented = Object.keys(spec.responses).filter((k) => k !== "default");
  expect(documented, `${answer.status}: ${answer.text.slice(0, 300)}`).toContain(String(answer.status));
  const models = spec.serializer.modelMappers;
  const problems: Problem[] = checkHeaders(answer.headers, spec.responses[answer.status]!.headersMapper, models, {
    returned: [...ALWAYS, ...returned],
  });
  expect(problems).toEqual([]);
  expect(answer.headers["x-ms-version"]).toBe(serviceVersionOf(spec));
  expect(answer.headers["x-ms-client-request-id"]).toBe(answer.clientRequestId);
  if (bodyMapper) expect(checkXml(parseXml(answer.text), bodyMapper, models)).toEqual([]);
}

/** Asserts an error answer is the Blob service's: documented headers, `x-ms-error-code`, `<Error><Code>`. */
function expectStorageError(spec: OperationSpec, answer: Answer & { clientRequestId: string }, code: string): void {
  const models = spec.serializer.modelMappers;
  const error = spec.responses.default!;
  // "Status and error codes" of the Blob service REST reference: every error answer has the request id and version.
  const documented = ["x-ms-request-id", "x-ms-version", "x-ms-client-request-id"];
  expect(
    checkHeaders(answer.headers, error.headersMapper, models, { returned: [...ALWAYS, "x-ms-error-code"], documented }),
  ).toEqual([]);
  expect(answer.headers["x-ms-error-code"]).toBe(code);
  expect(answer.headers["x-ms-client-request-id"]).toBe(answer.clientRequestId);
  if (answer.text === "") return;
  expect(answer.headers["content-type"]).toMatch(/^application\/xml/);
  const xml = parseXml(answer.text);
  expect(xml.name).toBe("Error");
  expect(checkXml(xml, error.bodyMapper!, models)).toEqual([]);
  expect(xml.children.find((c) => c.name === "Code")?.text).toBe(code);
}

function writeFileAt(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

async function readSas(kind: "disks" | "snapshots", name: string): Promise<string> {
  const c = fx.azure.compute;
  const grant =
    kind === "disks"
      ? await c.disks.grantAccess(RG, name, { access: "Read", durationInSeconds: 3600 })
      : await c.snapshots.grantAccess(RG, name, { access: "Read", durationInSeconds: 3600 });
  return grant.accessSAS!;
}

beforeAll(async () => {
  agent = new Agent({ ca: fx.emu.caCertPem, keepAlive: true });
  await createGroup(fx.azure, RG, REGION);
  const diskId = await createEmptyDisk(fx.azure, RG, REGION, "src", 1);
  const file = fx.emu.diskFile(diskId)!;
  const snap = (name: string) =>
    fx.azure.compute.snapshots.createOrUpdate(RG, name, {
      location: REGION,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: diskId },
    });
  // The older point holds a chunk at 0 and one at 1 MiB; the newer one zeroes the first and changes 8 MiB.
  writeFileAt(file, 0, pattern(1, CHUNK));
  writeFileAt(file, MiB, pattern(2, CHUNK));
  await snap("older");
  writeFileAt(file, 0, Buffer.alloc(CHUNK));
  writeFileAt(file, 8 * MiB, pattern(3, 2 * CHUNK));
  await snap("newer");
  older = await readSas("snapshots", "older");
  newer = await readSas("snapshots", "newer");
  await fx.azure.compute.disks.createOrUpdate(RG, "up", {
    location: REGION,
    creationData: { createOption: "Upload", uploadSizeBytes: UPLOAD_BYTES },
  });
  upload = (await fx.azure.compute.disks.grantAccess(RG, "up", { access: "Write", durationInSeconds: 3600 }))
    .accessSAS!;
}, 60_000);

const getPageRanges = (b: PageBlobClient) => b.getPageRanges(0, DISK_BYTES);
const getPageRangesDiff = (b: PageBlobClient) => b.getPageRangesDiffForManagedDisks(0, DISK_BYTES, older);

describe("PageBlob_GetPageRanges", () => {
  it("the valid ranges of a snapshot: 200, its headers, a PageList", async () => {
    const spec = await dataSpecOf(getPageRanges);
    const answer = await sendData("GET", withQuery(older, constantQuery(spec)), spec);
    expectConforms(
      spec,
      answer,
      ["last-modified", "etag", "x-ms-blob-content-length"],
      spec.responses[200]!.bodyMapper,
    );
    expect(answer.headers["x-ms-blob-content-length"]).toBe(String(DISK_BYTES));
    const ranges = parseXml(answer.text).children.filter((c) => c.name === "PageRange");
    expect(ranges.map((r) => r.children.map((c) => Number(c.text)))).toEqual([
      [0, CHUNK - 1],
      [MiB, MiB + CHUNK - 1],
    ]);
  });

  it("with x-ms-previous-snapshot-url, the diff: PageRange to copy, ClearRange to zero, in order", async () => {
    const spec = await dataSpecOf(getPageRangesDiff);
    expect(spec.headerParameters?.map((p) => p.mapper.serializedName)).toContain("x-ms-previous-snapshot-url");
    const answer = await sendData("GET", withQuery(newer, constantQuery(spec)), spec, {
      "x-ms-previous-snapshot-url": older,
    });
    expectConforms(
      spec,
      answer,
      ["last-modified", "etag", "x-ms-blob-content-length"],
      spec.responses[200]!.bodyMapper,
    );
    const items = parseXml(answer.text)
      .children.filter((c) => c.name !== "NextMarker")
      .map((c) => [c.name, ...c.children.map((x) => Number(x.text))]);
    expect(items).toEqual([
      ["ClearRange", 0, CHUNK - 1],
      ["PageRange", 8 * MiB, 8 * MiB + 2 * CHUNK - 1],
    ]);
  });

  it("a window (x-ms-range) and a page of results (maxresults) keep the PageList's shape", async () => {
    const spec = await dataSpecOf(getPageRanges);
    const answer = await sendData("GET", withQuery(older, { ...constantQuery(spec), maxresults: "1" }), spec, {
      "x-ms-range": `bytes=0-${2 * MiB - 1}`,
    });
    expectConforms(
      spec,
      answer,
      ["last-modified", "etag", "x-ms-blob-content-length"],
      spec.responses[200]!.bodyMapper,
    );
    const list = parseXml(answer.text).children;
    expect(list.filter((c) => c.name === "PageRange")).toHaveLength(1);
    expect(list.find((c) => c.name === "NextMarker")?.text).not.toBe("");
  });
});

describe("Blob_Download and Blob_GetProperties", () => {
  it("a ranged read: 206 with Content-Range and the range's bytes", async () => {
    const spec = await dataSpecOf((b) => b.download(MiB, CHUNK));
    const answer = await sendData("GET", older, spec, { "x-ms-range": `bytes=${MiB}-${MiB + CHUNK - 1}` });
    expectConforms(spec, answer, [
      "last-modified",
      "etag",
      "content-length",
      "content-range",
      "x-ms-blob-type",
      "accept-ranges",
    ]);
    expect(answer.status).toBe(206);
    expect(answer.headers["content-range"]).toBe(`bytes ${MiB}-${MiB + CHUNK - 1}/${DISK_BYTES}`);
    expect(Buffer.from(answer.text, "latin1").equals(pattern(2, CHUNK))).toBe(true);
  });

  it("the properties: 200 with the blob's length and type, no body", async () => {
    const spec = await dataSpecOf((b) => b.getProperties());
    const answer = await sendData("HEAD", newer, spec);
    expectConforms(spec, answer, ["last-modified", "etag", "content-length", "x-ms-blob-type"]);
    expect(answer.headers["content-length"]).toBe(String(DISK_BYTES));
    expect(answer.headers["x-ms-blob-type"]).toBe("PageBlob");
  });
});

describe("PageBlob_UploadPages", () => {
  it("writes a page: 201 with the blob's new ETag", async () => {
    const spec = await dataSpecOf((b) => b.uploadPages(Buffer.alloc(512), 0, 512));
    const answer = await sendData(
      "PUT",
      withQuery(upload, constantQuery(spec)),
      spec,
      { "x-ms-range": "bytes=0-511", "x-ms-page-write": "update" },
      pattern(4, 512),
    );
    expectConforms(spec, answer, ["last-modified", "etag", "x-ms-blob-sequence-number"]);
  });

  it("clears a page (x-ms-page-write: clear): 201", async () => {
    const spec = await dataSpecOf((b) => b.clearPages(0, 512));
    const answer = await sendData("PUT", withQuery(upload, constantQuery(spec)), spec, {
      "x-ms-range": "bytes=0-511",
      "x-ms-page-write": "clear",
      "content-length": "0",
    });
    expectConforms(spec, answer, ["last-modified", "etag", "x-ms-blob-sequence-number"]);
  });
});

describe("errors", () => {
  it("a tampered SAS: 403 AuthenticationFailed as the Blob service answers it", async () => {
    const spec = await dataSpecOf(getPageRanges);
    const bad = new URL(older);
    bad.searchParams.set("sig", "AAAA");
    const answer = await sendData("GET", withQuery(bad.toString(), constantQuery(spec)), spec);
    expect(answer.status).toBe(403);
    expectStorageError(spec, answer, "AuthenticationFailed");
  });

  it("a range past the end: 416 InvalidRange", async () => {
    const spec = await dataSpecOf((b) => b.download(0, 512));
    const answer = await sendData("GET", older, spec, { "x-ms-range": `bytes=${DISK_BYTES}-${DISK_BYTES + 511}` });
    expect(answer.status).toBe(416);
    expectStorageError(spec, answer, "InvalidRange");
  });

  it("a HEAD that fails carries its code in x-ms-error-code and no body", async () => {
    const spec = await dataSpecOf((b) => b.getProperties());
    const bad = new URL(newer);
    bad.searchParams.set("sig", "AAAA");
    const answer = await sendData("HEAD", bad.toString(), spec);
    expect(answer.status).toBe(403);
    expect(answer.text).toBe("");
    expectStorageError(spec, answer, "AuthenticationFailed");
  });

  it("a diff against a snapshot of another disk: 409 with the service's code", async () => {
    const other = await createEmptyDisk(fx.azure, RG, REGION, "other", 1);
    await fx.azure.compute.snapshots.createOrUpdate(RG, "other-snap", {
      location: REGION,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: other },
    });
    const spec = await dataSpecOf(getPageRangesDiff);
    const answer = await sendData("GET", withQuery(newer, constantQuery(spec)), spec, {
      "x-ms-previous-snapshot-url": await readSas("snapshots", "other-snap"),
    });
    expect(answer.status).toBe(409);
    expectStorageError(spec, answer, "PreviousSnapshotOperationNotSupported");
  });
});
