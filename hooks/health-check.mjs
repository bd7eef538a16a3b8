#!/usr/bin/env zx
// A ferry hook: waits until each recovered VM's application answers an HTTP health check, or a given URL does.
//
//   hooks/health-check.mjs [--port 80] [--path /health] [--scheme http] [--url <url>] [--row <row>]
//                          [--host <host>] [--timeout 120] [--interval 5] [--request-timeout 5]
//                          [--vm-agent] [--no-http]
//
// With --vm-agent each VM must first be booted: its VM agent reports Ready in the VM's instance view (an
// ARM read: the identity needs Reader on the VM), as ferry's OS-ready check; --no-http stops there.
// Each VM is asked for <scheme>://<its primary private IP>:<port><path> (or --host instead of the IP, or
// --url alone), again every --interval seconds until it answers 2xx or 3xx; the hook ends 0 when every one
// has, 1 when one has not within --timeout seconds (each failure says what was last seen), 2 for a wrong
// argument. Run it where the VMs' network is reachable (a pipeline agent in the DR virtual network, as ferry's
// app-ready check in runbooks/readiness.ts). Against the local Azure, whose VMs have no network of their own,
// --host 127.0.0.1 points the check at an application served on this machine.
import { argv, sleep } from "zx";
import { azureTarget, hookContext, selectVms } from "./lib/context.mjs";

const number = (name, fallback) => {
  const value = argv[name] === undefined ? fallback : Number(argv[name]);
  if (!(Number.isFinite(value) && value > 0)) {
    console.error(`health-check: --${name} must be a number above 0, not ${argv[name]}.`);
    process.exit(2);
  }
  return value;
};
const timeoutSeconds = number("timeout", 120);
const intervalSeconds = number("interval", 5);
const requestSeconds = number("request-timeout", 5);
const port = number("port", 80);
const path = String(argv.path ?? "/");
const scheme = String(argv.scheme ?? "http");

const http = argv.http !== false;
if (!http && !argv["vm-agent"]) {
  console.error("health-check: --no-http leaves nothing to check; add --vm-agent, or drop --no-http.");
  process.exit(2);
}
/** @type {{ name: string, url?: string, vmId?: string }[]} */
let targets;
if (argv.url) targets = [{ name: String(argv.url), url: String(argv.url) }];
else {
  const vms = selectVms(hookContext(), { row: argv.row, blueprint: argv.blueprint });
  targets = vms.map((vm) => {
    const host = argv.host ? String(argv.host) : vm.privateIps[0];
    return {
      name: `${vm.row} (${vm.name})`,
      vmId: vm.id,
      ...(http ? { url: `${scheme}://${host}:${port}${path}` } : {}),
    };
  });
}

let compute;
if (argv["vm-agent"]) {
  const { ComputeManagementClient } = await import("@azure/arm-compute");
  const target = await azureTarget({ subscriptionId: argv.subscription });
  compute = new ComputeManagementClient(target.credential, target.subscriptionId, target.clientOptions);
}

/** true when the VM agent of the VM reports Ready, else what was seen. */
async function agentReady(vmId) {
  const m = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i.exec(vmId);
  if (!m) return `not a VM id: ${vmId}`;
  try {
    const view = await compute.virtualMachines.instanceView(m[1], m[2]);
    const status = view.vmAgent?.statuses?.[0];
    return status?.displayStatus === "Ready" ? true : `VM agent ${status?.displayStatus ?? "not reporting"}`;
  } catch (e) {
    return e.code ?? e.message;
  }
}

/** true when healthy, else what was seen. */
async function probe(url) {
  try {
    const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(requestSeconds * 1000) });
    await res.body?.cancel();
    return res.status < 400 ? true : `HTTP ${res.status}`;
  } catch (e) {
    return e.cause?.code ?? e.message;
  }
}

const deadline = Date.now() + timeoutSeconds * 1000;
const results = await Promise.all(
  targets.map(async (t) => {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      let r = compute && t.vmId ? await agentReady(t.vmId) : true;
      if (r === true && t.url) r = await probe(t.url);
      const what = t.url ?? "its VM agent";
      if (r === true) {
        console.log(`${t.name}: healthy, ${what} answered after ${((Date.now() - started) / 1000).toFixed(1)} s.`);
        return true;
      }
      if (Date.now() + intervalSeconds * 1000 > deadline) {
        console.error(`${t.name}: not healthy within ${timeoutSeconds} s: ${what} (last: ${r}, ${attempt} tries).`);
        return false;
      }
      console.log(`${t.name}: ${what} not yet healthy (${r}); again in ${intervalSeconds} s.`);
      await sleep(intervalSeconds * 1000);
    }
  }),
);
process.exit(results.every(Boolean) ? 0 : 1);
