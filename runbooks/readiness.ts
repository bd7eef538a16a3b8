import { connect } from "node:net";
import type { Readiness } from "../core/schemas/blueprint";
import type { RecoveredRowPlan } from "../stacks/plan";
import type { RunbookContext } from "./context";

/** When one recovered VM became ready, in seconds from the failover's start; and what never did. */
export interface RowReadiness {
  osReadySeconds?: number;
  appReadySeconds?: number;
  problems: string[];
}

/**
 * Waits until a recovered VM is ready as its row's `readiness` says: the guest OS booted (the VM
 * agent reports Ready in the instance view), then the application answers its probe, made from
 * where ferry runs (a TCP connect, or an HTTP GET answered 2xx/3xx) on the VM's private IP unless
 * the check names a host. Each wait ends at the check's timeout with a problem that says what was
 * last seen.
 */
export async function waitUntilReady(
  ctx: RunbookContext,
  resourceGroup: string,
  row: Pick<RecoveredRowPlan, "row" | "vmName"> & { nic: { name: string } },
  readiness: Readiness,
  startedAt: number,
): Promise<RowReadiness> {
  const out: RowReadiness = { problems: [] };
  const deadline = Date.now() + readiness.timeoutSeconds * 1000;
  const every = Math.min(5000, Math.max(50, ctx.poll.updateIntervalInMs));
  const seconds = () => Math.round(((Date.now() - startedAt) / 1000) * 10) / 10;
  const log = ctx.logger.child({ row: row.row, vm: row.vmName });

  if (readiness.os) {
    let last: string;
    for (;;) {
      try {
        const view = await ctx.azure.compute.virtualMachines.instanceView(resourceGroup, row.vmName);
        const agent = view.vmAgent?.statuses?.[0];
        if (agent?.displayStatus === "Ready") break;
        last = `VM agent ${agent?.displayStatus ?? "not reporting"}${agent?.message ? ` (${agent.message})` : ""}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) {
        out.problems.push(
          `${row.row}: the guest OS of ${row.vmName} did not report ready within ${readiness.timeoutSeconds} s (last: ${last}). Look at its boot diagnostics or serial console.`,
        );
        return out;
      }
      await ctx.sleep(every);
    }
    out.osReadySeconds = seconds();
    log.info({ osReadySeconds: out.osReadySeconds }, `${row.row}: OS ready`);
  }

  if (readiness.app) {
    const app = readiness.app;
    const host = app.host ?? (await privateIp(ctx, resourceGroup, row.nic.name));
    const what = app.kind === "tcp" ? `TCP ${host}:${app.port}` : `http://${host}:${app.port}${app.path}`;
    let last: string;
    for (;;) {
      const r = await probe(app, host);
      if (r === true) break;
      last = r;
      if (Date.now() > deadline) {
        out.problems.push(
          `${row.row}: the application of ${row.vmName} did not answer ${what} within ${readiness.timeoutSeconds} s (last: ${last}). Check that it starts on boot, and that ferry's host can reach it.`,
        );
        return out;
      }
      await ctx.sleep(every);
    }
    out.appReadySeconds = seconds();
    log.info({ appReadySeconds: out.appReadySeconds, probe: what }, `${row.row}: app ready`);
  }
  return out;
}

async function privateIp(ctx: RunbookContext, resourceGroup: string, nicName: string): Promise<string> {
  const nic = await ctx.azure.network.networkInterfaces.get(resourceGroup, nicName);
  const ip = nic.ipConfigurations?.find((c) => c.primary !== false)?.privateIPAddress;
  if (!ip) throw new Error(`NIC ${nicName} has no private IP address to probe.`);
  return ip;
}

/** true when the application answered; otherwise what went wrong. */
async function probe(app: NonNullable<Readiness["app"]>, host: string): Promise<true | string> {
  if (app.kind === "tcp") {
    return new Promise((resolve) => {
      const socket = connect({ host, port: app.port, timeout: 3000 });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("timeout", () => {
        socket.destroy();
        resolve("connect timed out");
      });
      socket.once("error", (e) => resolve(e.message));
    });
  }
  try {
    const res = await fetch(`http://${host}:${app.port}${app.path}`, {
      redirect: "manual",
      signal: AbortSignal.timeout(5000),
    });
    await res.body?.cancel();
    return res.status < 400 ? true : `HTTP ${res.status}`;
  } catch (e) {
    return (e as Error).message;
  }
}
