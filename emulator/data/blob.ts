import { randomUUID } from "node:crypto";
import { statSync } from "node:fs";
import { open } from "node:fs/promises";
import type { Ctx } from "../context";
import { EmulatorError } from "../errors";
import type { Emulator } from "../emulator";
import type { Router } from "../http/router";
import type { DiskRecord, SnapshotRecord } from "../model";
import { verifySas } from "../arm/access";
import { copyProgress, loadManifest } from "../arm/snapshots";
import { diffManifests, validRanges, type Manifest, type PageRange } from "../storage/manifest";

const BLOB = "/{account}/{container}/{blob}";
const MAX_PUT_PAGE = 4 * 1024 * 1024;
const STREAM_PIECE = 4 * 1024 * 1024;
const VERSION = "2025-01-05";

/** The bytes behind a SAS URL: a live disk file or a snapshot's manifest in the chunk store. */
interface Content {
  resource: DiskRecord | SnapshotRecord;
  sizeBytes: number;
  etag: string;
  lastModified: string;
  read(offset: number, length: number): Promise<Buffer>;
  manifest(): Promise<Manifest>;
}

function contentOf(emu: Emulator, resource: DiskRecord | SnapshotRecord): Content {
  if (resource.kind === "snapshot") {
    let m: Manifest | undefined;
    const manifest = async () => (m ??= loadManifest(emu, resource));
    return {
      resource,
      sizeBytes: resource.sizeBytes,
      // A snapshot never changes: its id serves as its ETag.
      etag: `"0x${resource.uniqueId.replace(/-/g, "").slice(0, 15).toUpperCase()}"`,
      lastModified: new Date(resource.timeCreated).toUTCString(),
      manifest,
      read: async (offset, length) => emu.chunks.readRange(await manifest(), offset, length),
    };
  }
  const path = emu.diskPath(resource.file);
  const st = statSync(path, { bigint: true });
  return {
    resource,
    sizeBytes: resource.sizeBytes,
    etag: `"0x${st.mtimeNs.toString(16).toUpperCase()}"`,
    lastModified: new Date(Number(st.mtimeMs)).toUTCString(),
    manifest: () => emu.chunks.scanFile(path, resource.sizeBytes),
    read: async (offset, length) => {
      const fh = await open(path, "r");
      try {
        const buf = Buffer.alloc(length);
        await fh.read(buf, 0, length, offset);
        return buf;
      } finally {
        await fh.close();
      }
    },
  };
}

function storageError(status: number, code: string, message: string): EmulatorError {
  return new EmulatorError(status, code, message);
}

/** Resolves and authorises a data-plane request; the region comes from the account name `md-<region>`. */
function resolve(ctx: Ctx, p: Record<string, string>, needWrite: boolean): Content {
  const account = p.account!;
  if (!account.startsWith("md-"))
    throw storageError(400, "InvalidUri", "The requested URI does not represent any resource on the server.");
  ctx.touchRegion(account.slice(3));
  const check = verifySas(ctx.emu, p.container!, ctx.url.searchParams, needWrite);
  if (!check.ok) throw storageError(check.status, check.code, check.message);
  if (check.resource.kind === "snapshot" && copyProgress(ctx.emu, check.resource) < 100) {
    throw storageError(409, "SnapshotCopyInProgress", "The snapshot is still being copied to this region.");
  }
  return contentOf(ctx.emu, check.resource);
}

/** Parses `bytes=a-b` (end inclusive) or `bytes=a-`; undefined when absent. */
function parseRange(ctx: Ctx, size: number): { start: number; end: number } | undefined {
  const header = ctx.req.headers["x-ms-range"] ?? ctx.req.headers.range;
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(String(header).trim());
  if (!m)
    throw storageError(
      400,
      "InvalidHeaderValue",
      `The value for one of the HTTP headers is not in the correct format: range '${header}'.`,
    );
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start)
    throw storageError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
  return { start, end };
}

/**
 * What every Blob service answer carries, errors included (the REST reference of each operation): a request id,
 * the version that served it (the request's `x-ms-version`, else its SAS's `sv`), and the caller's
 * `x-ms-client-request-id` echoed.
 */
export function serviceHeaders(ctx: Ctx): Record<string, string> {
  const version = ctx.req.headers["x-ms-version"] ?? ctx.url.searchParams.get("sv") ?? VERSION;
  const clientRequestId = ctx.req.headers["x-ms-client-request-id"];
  return {
    "x-ms-request-id": randomUUID(),
    "x-ms-version": String(version),
    ...(clientRequestId === undefined ? {} : { "x-ms-client-request-id": String(clientRequestId) }),
  };
}

/** The headers of an answer about the blob itself; each operation adds the ones its specification lists. */
function blobHeaders(ctx: Ctx, c: Content): Record<string, string> {
  return { ...serviceHeaders(ctx), etag: c.etag, "last-modified": c.lastModified };
}

/** Get Blob and Get Blob Properties describe the blob: its type, encryption, sequence number, ranges. */
function propertyHeaders(ctx: Ctx, c: Content): Record<string, string> {
  return {
    ...blobHeaders(ctx, c),
    "x-ms-blob-type": "PageBlob",
    "x-ms-server-encrypted": "true",
    "x-ms-blob-sequence-number": "0",
    "accept-ranges": "bytes",
  };
}

function checkConditions(ctx: Ctx, c: Content): void {
  const ifMatch = ctx.req.headers["if-match"];
  if (ifMatch && ifMatch !== "*" && ifMatch !== c.etag) {
    throw storageError(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
  }
}

async function writeBody(ctx: Ctx, c: Content, start: number, end: number): Promise<void> {
  const res = ctx.res;
  const limit = ctx.dropAfterBytes;
  let sent = 0;
  if (limit === undefined && end - start + 1 <= STREAM_PIECE) {
    // One piece: one write, headers and body together.
    res.end(await c.read(start, end - start + 1));
    return;
  }
  for (let pos = start; pos <= end; pos += STREAM_PIECE) {
    const len = Math.min(STREAM_PIECE, end - pos + 1);
    let piece = await c.read(pos, len);
    if (limit !== undefined && sent + piece.length > limit) {
      piece = piece.subarray(0, limit - sent);
      if (piece.length) res.write(piece);
      await new Promise((r) => setImmediate(r));
      ctx.req.socket.destroy();
      return;
    }
    sent += piece.length;
    if (!res.write(piece)) await new Promise<void>((resolve) => res.once("drain", resolve));
    if (res.destroyed) return;
  }
  res.end();
}

function pageListXml(items: { clear: boolean; r: PageRange }[], nextMarker: string | undefined): string {
  const parts = items.map(({ clear, r }) =>
    clear
      ? `<ClearRange><Start>${r.start}</Start><End>${r.end}</End></ClearRange>`
      : `<PageRange><Start>${r.start}</Start><End>${r.end}</End></PageRange>`,
  );
  const marker = nextMarker ? `<NextMarker>${nextMarker}</NextMarker>` : "<NextMarker />";
  return `<?xml version="1.0" encoding="utf-8"?><PageList>${parts.join("")}${marker}</PageList>`;
}

/** Finds the content behind an `x-ms-previous-snapshot-url` and checks it can be diffed against `current`. */
function previousSnapshot(ctx: Ctx, current: Content, prevUrl: string): Content {
  let url: URL;
  try {
    url = new URL(prevUrl);
  } catch {
    throw storageError(400, "InvalidHeaderValue", "x-ms-previous-snapshot-url is not a URL.");
  }
  const [account, container] = url.pathname.split("/").filter(Boolean);
  if (!account?.startsWith("md-") || !container)
    throw storageError(400, "InvalidHeaderValue", "x-ms-previous-snapshot-url does not name a managed disk snapshot.");
  ctx.touchRegion(account.slice(3));
  const check = verifySas(ctx.emu, container, url.searchParams, false);
  if (!check.ok) {
    if (check.code === "BlobNotFound")
      throw storageError(409, "PreviousSnapshotNotFound", "The previous snapshot is not found.");
    throw storageError(check.status, check.code, `Previous snapshot URL: ${check.message}`);
  }
  const prev = check.resource;
  if (prev.kind !== "snapshot" || !prev.incremental) {
    throw storageError(
      409,
      "PreviousSnapshotOperationNotSupported",
      "The previous snapshot must be an incremental snapshot of the same disk.",
    );
  }
  const cur = current.resource;
  const curFamily = cur.kind === "disk" ? cur.familyId : cur.incremental ? cur.familyId : undefined;
  if (!curFamily || curFamily !== prev.familyId || cur.location !== prev.location) {
    throw storageError(
      409,
      "PreviousSnapshotOperationNotSupported",
      "Changed ranges are only available between incremental snapshots of the same disk " +
        "(the same incrementalSnapshotFamilyId, in the same region).",
    );
  }
  if (cur.kind === "snapshot" && prev.timeCreated > cur.timeCreated) {
    throw storageError(
      400,
      "PreviousSnapshotCannotBeNewer",
      "The prevsnapshot query parameter value cannot be newer than snapshot query parameter value.",
    );
  }
  return contentOf(ctx.emu, prev);
}

export function registerBlob(router: Router<Ctx>): void {
  router.add("HEAD", BLOB, "Blob_GetProperties", (ctx, p) => {
    const c = resolve(ctx, p, false);
    checkConditions(ctx, c);
    ctx.res.writeHead(200, {
      ...propertyHeaders(ctx, c),
      "content-length": c.sizeBytes,
      "content-type": "application/octet-stream",
    });
    ctx.res.end();
  });

  router.add(
    "GET",
    BLOB,
    "PageBlob_GetPageRanges",
    async (ctx, p) => {
      const c = resolve(ctx, p, false);
      checkConditions(ctx, c);
      if (ctx.url.searchParams.has("prevsnapshot")) {
        throw storageError(
          400,
          "UnsupportedQueryParameter",
          "Managed disks diff with the x-ms-previous-snapshot-url header, not the prevsnapshot query parameter.",
        );
      }
      const range = parseRange(ctx, c.sizeBytes);
      const from = range?.start ?? 0;
      const to = range ? range.end + 1 : c.sizeBytes;
      const prevUrl = ctx.req.headers["x-ms-previous-snapshot-url"];
      let items: { clear: boolean; r: PageRange }[];
      if (prevUrl) {
        const prev = previousSnapshot(ctx, c, String(prevUrl));
        const d = diffManifests(await prev.manifest(), await c.manifest(), from, to);
        items = [...d.changed.map((r) => ({ clear: false, r })), ...d.cleared.map((r) => ({ clear: true, r }))].sort(
          (a, b) => a.r.start - b.r.start,
        );
      } else {
        items = validRanges(await c.manifest(), from, to).map((r) => ({ clear: false, r }));
      }
      const marker = ctx.url.searchParams.get("marker");
      if (marker) items = items.filter((i) => i.r.start >= Number(marker));
      const max = Number(ctx.url.searchParams.get("maxresults") ?? "0");
      let next: string | undefined;
      if (max > 0 && items.length > max) {
        next = String(items[max]!.r.start);
        items = items.slice(0, max);
      }
      const xml = pageListXml(items, next);
      ctx.res.writeHead(200, {
        ...blobHeaders(ctx, c),
        "content-type": "application/xml",
        "content-length": Buffer.byteLength(xml),
        "x-ms-blob-content-length": String(c.sizeBytes),
      });
      ctx.res.end(xml);
    },
    { comp: "pagelist" },
  );

  router.add("GET", BLOB, "Blob_Download", async (ctx, p) => {
    const c = resolve(ctx, p, false);
    checkConditions(ctx, c);
    const range = parseRange(ctx, c.sizeBytes);
    const start = range?.start ?? 0;
    const end = range?.end ?? c.sizeBytes - 1;
    ctx.res.writeHead(range ? 206 : 200, {
      ...propertyHeaders(ctx, c),
      "content-type": "application/octet-stream",
      "content-length": end - start + 1,
      ...(range ? { "content-range": `bytes ${start}-${end}/${c.sizeBytes}` } : {}),
    });
    await writeBody(ctx, c, start, end);
  });

  router.add(
    "PUT",
    BLOB,
    "PageBlob_UploadPages",
    async (ctx, p) => {
      const c = resolve(ctx, p, true);
      const disk = c.resource;
      if (disk.kind !== "disk" || disk.upload !== "ready") {
        throw storageError(
          403,
          "AuthorizationPermissionMismatch",
          "Only a disk created for upload can be written, and only until its write access is revoked.",
        );
      }
      const range = parseRange(ctx, c.sizeBytes);
      if (!range)
        throw storageError(
          400,
          "MissingRequiredHeader",
          "An HTTP header that's mandatory for this request is not specified: x-ms-range.",
        );
      const length = range.end - range.start + 1;
      if (range.start % 512 !== 0 || length % 512 !== 0) {
        throw storageError(416, "InvalidPageRange", "The page range specified is invalid: pages are 512-byte aligned.");
      }
      if (length > MAX_PUT_PAGE)
        throw storageError(413, "RequestBodyTooLarge", "The request body is too large: Put Page writes at most 4 MiB.");
      const mode = String(ctx.req.headers["x-ms-page-write"] ?? "").toLowerCase();
      if (mode !== "update" && mode !== "clear") {
        throw storageError(400, "InvalidHeaderValue", "x-ms-page-write must be 'update' or 'clear'.");
      }
      if (mode === "update" && ctx.raw.length !== length) {
        throw storageError(
          400,
          "InvalidHeaderValue",
          `The body holds ${ctx.raw.length} bytes; the range holds ${length}.`,
        );
      }
      const fh = await open(ctx.emu.diskPath(disk.file), "r+");
      try {
        await fh.write(mode === "update" ? ctx.raw : Buffer.alloc(length), 0, length, range.start);
      } finally {
        await fh.close();
      }
      const after = contentOf(ctx.emu, disk);
      // Put Page's answer (Clear Pages has no x-ms-request-server-encrypted: nothing was written to encrypt).
      ctx.res.writeHead(201, {
        ...blobHeaders(ctx, after),
        "x-ms-blob-sequence-number": "0",
        "content-length": 0,
        ...(mode === "update" ? { "x-ms-request-server-encrypted": "true" } : {}),
      });
      ctx.res.end();
    },
    { comp: "page" },
  );
}
