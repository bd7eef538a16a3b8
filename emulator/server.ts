import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { checkApiVersion } from "./arm/api-versions";
import { registerBlob, serviceHeaders } from "./data/blob";
import { registerDisks } from "./arm/disks";
import { registerNetwork } from "./arm/network";
import { registerOperations } from "./arm/operations";
import { registerPrivateDns } from "./arm/private-dns";
import { registerResourceGroups } from "./arm/resource-groups";
import { registerSnapshots } from "./arm/snapshots";
import { registerQuotas } from "./arm/quotas";
import { registerVms } from "./arm/vms";
import { registerVmAttachDetach } from "./arm/vm-attach-detach";
import { faultHeaders, RegionOutage, sendJson, type Ctx } from "./context";
import type { Emulator } from "./emulator";
import { EmulatorError } from "./errors";
import type { FaultAction, FaultRule } from "./faults";
import { Router } from "./http/router";
import type { TlsMaterial } from "./tls";

const MAX_JSON_BODY = 8 * 1024 * 1024;
const MAX_DATA_BODY = 4 * 1024 * 1024 + 1024;

function armRouter(): Router<Ctx> {
  const r = new Router<Ctx>();
  registerResourceGroups(r);
  registerNetwork(r);
  registerPrivateDns(r);
  registerDisks(r);
  registerSnapshots(r);
  registerVms(r);
  registerVmAttachDetach(r);
  registerQuotas(r);
  registerOperations(r);
  return r;
}

function dataRouter(): Router<Ctx> {
  const r = new Router<Ctx>();
  registerBlob(r);
  return r;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit)
    throw new EmulatorError(413, "RequestBodyTooLarge", `The request body is too large (limit ${limit} bytes).`);
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit)
      throw new EmulatorError(413, "RequestBodyTooLarge", `The request body is too large (limit ${limit} bytes).`);
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

function sendStorageError(ctx: Ctx, e: EmulatorError): void {
  const service = serviceHeaders(ctx);
  const requestId = service["x-ms-request-id"]!;
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${e.code}</Code><Message>${escapeXml(e.message)}\nRequestId:${requestId}\nTime:${new Date().toISOString()}</Message></Error>`;
  const head = ctx.req.method === "HEAD";
  ctx.res.writeHead(e.status, {
    "content-type": "application/xml",
    "content-length": head ? 0 : Buffer.byteLength(xml),
    "x-ms-error-code": e.code,
    ...service,
    ...e.headers,
  });
  ctx.res.end(head ? undefined : xml);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function sendError(ctx: Ctx, e: EmulatorError): void {
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  if (ctx.plane === "data") return sendStorageError(ctx, e);
  sendJson(
    ctx,
    e.status,
    { error: { code: e.code, message: e.message } },
    { "x-ms-failure-cause": "gateway", ...e.headers },
  );
}

/** Turns a fault action into an answer, or records it on the context for the handler. Returns true when answered. */
function applyFault(ctx: Ctx, action: FaultAction): boolean {
  switch (action.kind) {
    case "delay":
      ctx.delayInMs = (ctx.delayInMs ?? 0) + action.ms;
      return false;
    case "throttle":
      sendError(
        ctx,
        new EmulatorError(
          429,
          action.code ?? "TooManyRequests",
          "The request is being throttled (injected fault).",
          faultHeaders(action),
        ),
      );
      return true;
    case "error":
      sendError(
        ctx,
        new EmulatorError(
          action.status,
          action.code ?? (action.status >= 500 ? "InternalServerError" : "BadRequest"),
          action.message ?? `Injected fault ${action.status}.`,
        ),
      );
      return true;
    case "drop":
      if (!action.afterBytes) {
        ctx.req.socket.destroy();
        return true;
      }
      ctx.dropAfterBytes = action.afterBytes;
      return false;
    case "lroFail":
      ctx.lroFault = {
        code: action.code ?? "InternalExecutionError",
        message: action.message ?? "An internal execution error occurred (injected fault).",
      };
      return false;
  }
}

class FaultAnswered extends Error {}

/**
 * Holds a response's `end` until `release()`. Azure's 2xx means the change is durable, so no answer leaves before
 * the state it may show is on disk; handlers answer as they always did, and the server releases the answer once
 * the state's write has landed. Headers go out with the body, so nothing of a held answer is sent.
 */
function holdAnswer(res: ServerResponse): { release(): void } {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  let held: unknown[] | undefined;
  res.end = ((...args: unknown[]) => {
    held = args;
    return res;
  }) as typeof res.end;
  return {
    release() {
      res.end = end as typeof res.end;
      if (held) end(...held);
    },
  };
}

/**
 * The HTTPS front of the emulator: ARM under `/subscriptions`, the disk data plane under `/md-<region>`, admin under
 * `/_emulator`.
 */
export class EmulatorServer {
  private readonly arm = armRouter();
  private readonly data = dataRouter();
  private server: Server | undefined;

  constructor(private readonly emu: Emulator) {}

  async listen(tls: TlsMaterial, port: number): Promise<number> {
    const server = createServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 30_000 }, (req, res) => {
      void this.handle(req, res);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const emu = this.emu;
    const url = new URL(req.url ?? "/", emu.endpoint);
    const first = url.pathname.split("/")[1] ?? "";
    if (first === "_emulator") return this.admin(req, res, url);
    const plane: "arm" | "data" = first.toLowerCase().startsWith("md-") ? "data" : "arm";
    const router = plane === "data" ? this.data : this.arm;
    const matched = router.match(req, url);
    const operationId = "route" in matched ? matched.route.operationId : "Unknown";
    const ctx: Ctx = {
      req,
      res,
      url,
      emu,
      operationId,
      plane,
      body: undefined,
      raw: Buffer.alloc(0),
      regions: new Set(),
      mutated: false,
      touchRegion(region: string) {
        const r = region.replace(/\s+/g, "").toLowerCase();
        ctx.regions.add(r);
        if (emu.faults.isRegionDown(r)) throw new RegionOutage(r);
        const action = emu.faults.check({
          operationId,
          method: req.method ?? "GET",
          path: url.pathname,
          plane,
          region: r,
        });
        if (action && applyFault(ctx, action)) throw new FaultAnswered();
      },
    };
    const entry = (status: number) => ({
      at: new Date().toISOString(),
      method: req.method ?? "",
      path: url.pathname,
      operationId,
      plane,
      regions: [...ctx.regions],
      status,
      userAgent: String(req.headers["user-agent"] ?? ""),
    });
    res.on("finish", () => emu.log(entry(res.statusCode)));
    res.on("close", () => {
      if (!res.writableFinished) emu.log(entry(0));
    });
    const answer = holdAnswer(res);
    try {
      if (emu.settleDue()) ctx.mutated = true;
      if (plane === "arm") {
        const auth = req.headers.authorization;
        if (!auth || !/^Bearer\s+\S+/i.test(auth)) {
          throw new EmulatorError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing or is not a bearer token.",
          );
        }
        if (!url.searchParams.get("api-version")) {
          throw new EmulatorError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
          );
        }
      }
      if (!("route" in matched)) {
        if (plane === "data")
          throw new EmulatorError(
            400,
            "UnsupportedHttpVerb",
            "The resource doesn't support the specified HTTP verb or operation.",
          );
        if (matched.methodMismatch)
          throw new EmulatorError(
            405,
            "MethodNotAllowed",
            `The method '${req.method}' is not allowed on '${url.pathname}'.`,
          );
        throw new EmulatorError(
          400,
          "InvalidResourceType",
          `The resource type for '${url.pathname}' is not served by the ferry emulator (see emulator/README.md for what it serves).`,
        );
      }
      const latency = plane === "arm" ? emu.profile.armRequestInMs : emu.profile.dataRequestInMs;
      if (latency > 0) await sleep(latency);
      const action = emu.faults.check({ operationId, method: req.method ?? "GET", path: url.pathname, plane });
      if (action && applyFault(ctx, action)) return;
      if (ctx.delayInMs) await sleep(ctx.delayInMs);
      if (plane === "arm") {
        const raw = await readBody(req, MAX_JSON_BODY);
        if (raw.length) {
          try {
            ctx.body = JSON.parse(raw.toString("utf8"));
          } catch {
            throw new EmulatorError(
              400,
              "InvalidRequestContent",
              "The request content was invalid and could not be deserialized: it is not JSON.",
            );
          }
        }
      } else if (req.method === "PUT") {
        ctx.raw = await readBody(req, MAX_DATA_BODY);
      }
      if (plane === "arm") {
        checkApiVersion(ctx, matched.params);
        const refusal = emu.throttling.check(ctx, matched.params);
        if (refusal) return sendJson(ctx, refusal.status, refusal.body, refusal.headers);
      }
      ctx.handlingStartedAt = emu.now();
      await matched.route.handle(ctx, matched.params);
    } catch (e) {
      if (e instanceof FaultAnswered) return;
      if (e instanceof RegionOutage) {
        if (plane === "data") res.destroy();
        else sendError(ctx, new EmulatorError(503, "ServiceUnavailable", `${e.message} (emulated region outage)`));
        return;
      }
      if (e instanceof EmulatorError) return sendError(ctx, e);
      // Anything else is an emulator bug: answer 500 and say so on stderr.
      process.stderr.write(
        `ferry emulator: internal error on ${req.method} ${url.pathname}: ${(e as Error).stack ?? String(e)}\n`,
      );
      sendError(
        ctx,
        new EmulatorError(500, "InternalServerError", `The ferry emulator failed: ${(e as Error).message}`),
      );
    } finally {
      await this.answerWhenDurable(ctx, answer);
    }
  }

  /**
   * Sends the held answer once `state.json` and the chunk index hold every change made so far: this request's, and
   * any other this answer may show (a settled operation, a concurrent request's). When they cannot be written the
   * connection is dropped rather than answered: the change is in memory only, as if the server had failed.
   */
  private async answerWhenDurable(ctx: Ctx, answer: { release(): void }): Promise<void> {
    const emu = this.emu;
    try {
      await Promise.all([ctx.mutated ? emu.state.save() : emu.state.durable(), emu.chunks.save()]);
    } catch (e) {
      process.stderr.write(
        `ferry emulator: cannot write the state for ${ctx.req.method} ${ctx.url.pathname}: ${String(e)}\n`,
      );
      ctx.res.destroy();
      return;
    }
    answer.release();
  }

  /** Run-time control: fault rules, region outages, the request log. Loopback only, like everything else. */
  private async admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      const path = url.pathname.replace(/\/+$/, "");
      const faults = this.emu.faults;
      if (path === "/_emulator/faults" && req.method === "POST") {
        const rule = JSON.parse((await readBody(req, 65_536)).toString("utf8")) as FaultRule;
        return send(201, { id: faults.add(rule) });
      }
      if (path === "/_emulator/faults" && req.method === "GET")
        return send(200, { rules: faults.stats(), regionOutages: faults.regionOutages });
      if (path === "/_emulator/faults" && req.method === "DELETE") {
        faults.clear();
        return send(200, {});
      }
      const outage = /^\/_emulator\/regions\/([^/]+)\/outage$/.exec(path);
      if (outage && (req.method === "PUT" || req.method === "DELETE")) {
        faults.setRegionOutage(decodeURIComponent(outage[1]!), req.method === "PUT");
        return send(200, { regionOutages: faults.regionOutages });
      }
      if (path === "/_emulator/requests" && req.method === "GET") return send(200, { requests: this.emu.requestLog });
      // Benchmarks read how often Azure's limits refused them; the local world switches them on once it is built.
      if (path === "/_emulator/throttling" && req.method === "GET") return send(200, this.emu.throttling.snapshot());
      if (path === "/_emulator/throttling" && req.method === "PUT") {
        const body = JSON.parse((await readBody(req, 65_536)).toString("utf8")) as { mode?: unknown };
        this.emu.throttling.setMode(body.mode as "azure" | "off");
        return send(200, this.emu.throttling.snapshot());
      }
      // What a client's report says of the times it measured here (the drill report's banner).
      if (path === "/_emulator/latency" && req.method === "GET")
        return send(200, { profile: this.emu.profile.name, speedup: this.emu.speedup });
      send(404, {
        error: {
          code: "NotFound",
          message:
            "Admin routes: POST/GET/DELETE /_emulator/faults, PUT/DELETE /_emulator/regions/<region>/outage, GET /_emulator/requests, " +
            "GET /_emulator/latency, GET/PUT /_emulator/throttling.",
        },
      });
    } catch (e) {
      send(400, { error: { code: "BadRequest", message: (e as Error).message } });
    }
  }
}
