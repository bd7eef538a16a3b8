import type { IncomingMessage, ServerResponse } from "node:http";
import type { Emulator } from "./emulator";
import { badRequest } from "./errors";
import type { FaultAction } from "./faults";

/** Thrown when a request touches a region that is down; ARM answers 503, the data plane drops the connection. */
export class RegionOutage extends Error {
  constructor(readonly region: string) {
    super(`The region '${region}' is unavailable.`);
  }
}

/** One request as the handlers see it. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  emu: Emulator;
  operationId: string;
  plane: "arm" | "data";
  /** Parsed JSON body (ARM) or undefined. */
  body: unknown;
  /** Raw body (data plane writes). */
  raw: Buffer;
  /** Regions this request touched, for the request log. */
  regions: Set<string>;
  /** Set when a fault rule makes this request's long-running operation fail. */
  lroFault?: { code: string; message: string };
  /** Set when a fault rule drops the connection part-way through the response body. */
  dropAfterBytes?: number;
  /** Set when a fault rule delays the answer, in milliseconds. */
  delayInMs?: number;
  /** Whether the request changed state (then it is saved). */
  mutated: boolean;
  /**
   * When the handler began (emulator clock). A long-running operation's time counts from here, so
   * the emulator's own work in the handler (reading a disk for a snapshot) is part of the
   * operation's time, as Azure's work is, not added to it.
   */
  handlingStartedAt?: number;
  /** Declares that the request touches a region: fails when it is down, applies region-scoped faults. */
  touchRegion(region: string): void;
}

export function sendJson(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? "" : JSON.stringify(body);
  ctx.res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
    "x-ms-request-id": ctx.req.headers["x-ms-client-request-id"]?.toString() ?? cryptoId(),
    ...headers,
  });
  ctx.res.end(payload);
}

export function sendEmpty(ctx: Ctx, status: number, headers: Record<string, string> = {}): void {
  ctx.res.writeHead(status, { "content-length": 0, ...headers });
  ctx.res.end();
}

export function faultHeaders(action: Extract<FaultAction, { kind: "throttle" }>): Record<string, string> {
  const headers: Record<string, string> = { "retry-after": String(action.retryAfterSeconds ?? 1) };
  if (action.retryAfterMs !== undefined) headers["x-ms-retry-after-ms"] = String(action.retryAfterMs);
  return headers;
}

let requestCounter = 0;
function cryptoId(): string {
  return `emu-${Date.now().toString(36)}-${(++requestCounter).toString(36)}`;
}

/** The JSON body as an object, or a 400 telling what was expected. */
export function bodyObject(ctx: Ctx): Record<string, unknown> {
  const b = ctx.body;
  if (b === undefined || b === null || typeof b !== "object" || Array.isArray(b)) {
    throw badRequest(
      "InvalidRequestContent",
      "The request content was invalid and could not be deserialized: the body must be a JSON object.",
    );
  }
  return b as Record<string, unknown>;
}
