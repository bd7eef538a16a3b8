import { sendJson, type Ctx } from "../context";
import { EmulatorError } from "../errors";
import type { Router } from "../http/router";
import { requireSubscription } from "./common";

const BASE = "/subscriptions/{subscriptionId}/providers/{provider}/locations/{location}";

function requireOperation(ctx: Ctx, p: Record<string, string>) {
  requireSubscription(ctx, p.subscriptionId!);
  ctx.touchRegion(p.location!);
  const op = ctx.emu.state.operations.get(p.operationId!);
  if (!op) throw new EmulatorError(404, "NotFound", `The operation '${p.operationId}' was not found.`);
  return op;
}

/** Polling of long-running operations: `Azure-AsyncOperation` status and `Location` results. */
export function registerOperations(router: Router<Ctx>): void {
  router.add("GET", `${BASE}/operations/{operationId}`, "Operations_Get", (ctx, p) => {
    const op = requireOperation(ctx, p);
    const retry = ctx.emu.retryAfterSeconds(op);
    sendJson(
      ctx,
      200,
      {
        name: op.id,
        status: op.status,
        startTime: op.startTime,
        ...(op.endTime ? { endTime: op.endTime } : {}),
        ...(op.status === "Failed" && op.error ? { error: op.error } : {}),
        ...(op.status === "Succeeded" && op.output !== undefined ? { properties: { output: op.output } } : {}),
      },
      retry !== undefined ? { "retry-after": String(retry) } : {},
    );
  });

  router.add("GET", `${BASE}/operationResults/{operationId}`, "Operations_GetResult", (ctx, p) => {
    const op = requireOperation(ctx, p);
    if (op.status === "InProgress") {
      const retry = ctx.emu.retryAfterSeconds(op);
      ctx.res.writeHead(202, {
        "content-length": 0,
        location: ctx.url.toString().replace(/^https?:\/\/[^/]+/, ctx.emu.endpoint),
        ...(retry !== undefined ? { "retry-after": String(retry) } : {}),
      });
      ctx.res.end();
      return;
    }
    if (op.status === "Failed") {
      sendJson(ctx, 500, { error: op.error ?? { code: "InternalOperationError", message: "The operation failed." } });
      return;
    }
    if (op.output === undefined) {
      // Azure answers 200 with no body for actions without a result (revoke access, power actions).
      ctx.res.writeHead(200, { "content-length": 0 });
      ctx.res.end();
      return;
    }
    sendJson(ctx, 200, op.output);
  });
}
