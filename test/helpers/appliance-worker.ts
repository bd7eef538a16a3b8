import { createInterface } from "node:readline";
import { createAzureClients } from "../../adapters/azure/clients";
import { staticTokenCredential } from "../../adapters/azure/credentials";
import { attachToAppliance, detachFromAppliance } from "../../runbooks/appliance";

// One host of appliance-race.test.ts: its own process and clients, as a second pipeline agent or the daemon's host
// would be. It prints "ready", waits for a line on standard input (so that every host starts at once), then
// attaches (`attach`) or detaches (`detach`) the disks of WORKER_DISKS one after another, and prints each LUN.

const env = process.env;
const azure = createAzureClients({
  subscriptionId: env.WORKER_SUBSCRIPTION!,
  credential: staticTokenCredential(),
  armEndpoint: env.WORKER_ENDPOINT!,
  caCertPem: env.WORKER_CA!,
  retryOptions: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
});
const ctx = { azure, poll: { updateIntervalInMs: 10 } };
const appliance = env.WORKER_APPLIANCE!;
const disks = env.WORKER_DISKS!.split(",");

process.stdout.write("ready\n");
const go = createInterface({ input: process.stdin });
go.once("line", () => {
  go.close();
  void (async () => {
    for (const disk of disks) {
      if (process.argv[2] === "detach") await detachFromAppliance(ctx, appliance, [disk]);
      else process.stdout.write(`lun ${await attachToAppliance(ctx, appliance, disk)}\n`);
    }
  })().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
});
