#!/usr/bin/env zx
// A ferry hook: points an Azure Private DNS A record at the recovered VMs' private IPs.
//
//   hooks/dns-switch.mjs --resource-group <zone's group> --zone <zone> --record <name|@>
//                        [--row <row>] [--blueprint <stack>] [--subscription <id>] [--ttl <seconds>]
//
// The addresses are the primary private IP of each recovered VM of the hook's group (or of --row's VM).
// The record set is written under its ETag (If-Match), so a concurrent change is re-read, not overwritten;
// a record set that does not exist is created (If-None-Match: *). A record already pointing there is left
// alone. Azure: the identity needs "Private DNS Zone Contributor" on the zone. The local Azure: ferry hands
// the emulator's endpoint and CA over (FERRY_ARM_ENDPOINT, NODE_EXTRA_CA_CERTS). Exit 0 when the record
// points at the VMs, 1 otherwise, 2 for a wrong argument.
import { PrivateDnsManagementClient } from "@azure/arm-privatedns";
import { argv } from "zx";
import { azureTarget, hookContext, selectVms } from "./lib/context.mjs";

const usage =
  "usage: dns-switch.mjs --resource-group <group> --zone <zone> --record <name|@> [--row <row>] " +
  "[--blueprint <stack>] [--subscription <id>] [--ttl <seconds>]";
const resourceGroup = argv["resource-group"];
const zone = argv.zone;
const record = argv.record === undefined ? undefined : String(argv.record);
if (!resourceGroup || !zone || !record) {
  console.error(`dns-switch: --resource-group, --zone and --record are required. ${usage}`);
  process.exit(2);
}
const ttl = argv.ttl === undefined ? undefined : Number(argv.ttl);
if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) {
  console.error(`dns-switch: --ttl must be a whole number of seconds above 0, not ${argv.ttl}.`);
  process.exit(2);
}

const context = hookContext();
const vms = selectVms(context, { row: argv.row, blueprint: argv.blueprint });
const ips = [...new Set(vms.map((v) => v.privateIps[0]).filter(Boolean))].sort();
if (ips.length === 0) {
  console.error(`dns-switch: the VMs ${vms.map((v) => v.name).join(", ")} have no private IP in the context.`);
  process.exit(1);
}

const target = await azureTarget({ subscriptionId: argv.subscription });
const client = new PrivateDnsManagementClient(target.credential, target.subscriptionId, target.clientOptions);
const fqdn = record === "@" ? zone : `${record}.${zone}`;

for (let attempt = 1; ; attempt++) {
  let current;
  try {
    current = await client.recordSets.get(resourceGroup, zone, "A", record);
  } catch (e) {
    if (e.statusCode !== 404) throw e;
  }
  const before = (current?.aRecords ?? []).map((r) => r.ipv4Address).sort();
  if (before.join(",") === ips.join(",") && (ttl === undefined || current?.ttl === ttl)) {
    console.log(`A ${fqdn} already points at ${ips.join(", ")}: nothing to change.`);
    process.exit(0);
  }
  // The client's models are flat: it sends these under `properties` on the wire.
  const recordSet = {
    ...(current?.metadata ? { metadata: current.metadata } : {}),
    ttl: ttl ?? current?.ttl ?? 60,
    aRecords: ips.map((ipv4Address) => ({ ipv4Address })),
  };
  try {
    await client.recordSets.createOrUpdate(
      resourceGroup,
      zone,
      "A",
      record,
      recordSet,
      current ? { ifMatch: current.etag } : { ifNoneMatch: "*" },
    );
  } catch (e) {
    // 412: someone changed (or created) the record set since it was read; read it again.
    if (e.statusCode === 412 && attempt < 3) {
      console.log(`A ${fqdn} changed while it was being switched; reading it again.`);
      continue;
    }
    throw e;
  }
  const from = before.length ? before.join(", ") : "nothing (new record set)";
  console.log(`A ${fqdn} switched from ${from} to ${ips.join(", ")} (TTL ${recordSet.ttl} s, ${context.kind}).`);
  break;
}
