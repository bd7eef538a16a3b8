#!/usr/bin/env zx
// A ferry hook: waits until each recovered VM's application answers an HTTP health check, or a given URL does.
//
//   hooks/health-check.mjs [--port 80] [--path /health] [--scheme http] [--url <url>] [--row <row>]
//                          [--host <host>] [--timeout 120] [--interval 5] [--request-timeout 5]
//
// Each VM is asked for <scheme>://<its primary private IP>:<port><path> (or --host instead of the IP, or
// --url alone), again every --interval seconds until it answers 2xx or 3xx; the hook ends 0 when every one
// has, 1 when one has not within --timeout seconds (each failure says what was last seen), 2 for a wrong
// argument. Run it where the VMs' network is reachable (a pipeline agent in the DR virtual network, as ferry's
// app-ready check in runbooks/readiness.ts). Against the local Azure, whose VMs have no network of their own,
// --host 127.0.0.1 points the check at an application served on this machine.
import { argv, sleep } from "zx";
import { hookContext, selectVms } from "./lib/context.mjs";

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

/** @type {{ name: string, url: string }[]} */
let targets;
if (argv.url) targets = [{ name: String(argv.url), url: String(argv.url) }];
else {
  const vms = selectVms(hookContext(), { row: argv.row, blueprint: argv.blueprint });
  targets = vms.map((vm) => {
    const host = argv.host ? String(argv.host) : vm.privateIps[0];
    return { name: `${vm.row} (${vm.name})`, url: `${scheme}://${host}:${port}${path}` };
  });
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
      const r = await probe(t.url);
      if (r === true) {
        console.log(`${t.name}: healthy, ${t.url} answered after ${((Date.now() - started) / 1000).toFixed(1)} s.`);
        return true;
      }
      if (Date.now() + intervalSeconds * 1000 > deadline) {
        console.error(`${t.name}: not healthy within ${timeoutSeconds} s: ${t.url} (last: ${r}, ${attempt} tries).`);
        return false;
      }
      console.log(`${t.name}: ${t.url} not yet healthy (${r}); again in ${intervalSeconds} s.`);
      await sleep(intervalSeconds * 1000);
    }
  }),
);
process.exit(results.every(Boolean) ? 0 : 1);
