/**
 * How the emulator's state writes cost its event loop with many resources:
 * `npx tsx emulator/bench/state-writes.ts [vms]` (default 55 VMs, each with a NIC, an OS disk, a data disk and two
 * incremental snapshots of each disk). Prints the size of state.json, the time of one save (State.save on a copy of
 * the loaded state), and, while 16 clients tag disks concurrently, the event-loop delay and the answers' latency.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { startEmulator } from "../index";
import { State } from "../state";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm, tempDir } from "../testing";
import { clientsFor } from "../test/helpers/clients";

const POLL = { updateIntervalInMs: 10 };
const vms = Number(process.argv[2] ?? 55);
const location = "westeurope";
const rg = "bench";

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function inParallel<T>(items: T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await each(items[next++]!);
    }),
  );
}

const dataDir = tempDir("ferry-state-bench-");
const emu = await startEmulator({ dataDir, guestDevices: "links", warn: () => undefined });
const azure = clientsFor(emu);
try {
  await createGroup(azure, rg, location);
  const subnet = await createSubnet(azure, rg, location, "net");
  const indexes = Array.from({ length: vms }, (_, i) => i);
  const disks: string[] = [];
  await inParallel(indexes, 8, async (i) => {
    const nic = await createNic(azure, rg, location, `nic${i}`, subnet);
    const os = await createEmptyDisk(azure, rg, location, `os${i}`);
    const data = await createEmptyDisk(azure, rg, location, `data${i}`);
    await createVm(azure, rg, location, `vm${i}`, { osDiskId: os, nicId: nic, dataDisks: [{ lun: 0, diskId: data }] });
    disks.push(`os${i}`, `data${i}`);
  });
  await inParallel(disks, 8, async (name) => {
    for (const n of [1, 2]) {
      await azure.compute.snapshots.beginCreateOrUpdateAndWait(
        rg,
        `${name}-s${n}`,
        {
          location,
          incremental: true,
          creationData: { createOption: "Copy", sourceResourceId: (await azure.compute.disks.get(rg, name)).id! },
        },
        POLL,
      );
    }
  });
  const stateBytes = statSync(join(dataDir, "state.json")).size;

  // One save of the whole state, as each mutating request and each settling operation costs.
  const copy = State.load(dataDir);
  const saves: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await copy.save();
    saves.push(performance.now() - t0);
  }
  saves.sort((a, b) => a - b);

  // Concurrent mutations: 16 clients tag disks, 20 each.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const latencies: number[] = [];
  const started = performance.now();
  await inParallel(
    Array.from({ length: 320 }, (_, i) => disks[i % disks.length]!),
    16,
    async (name) => {
      const t0 = performance.now();
      await azure.compute.disks.beginUpdateAndWait(rg, name, { tags: { at: String(t0) } }, POLL);
      latencies.push(performance.now() - t0);
    },
  );
  const elapsed = performance.now() - started;
  delay.disable();
  latencies.sort((a, b) => a - b);
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(
    JSON.stringify({
      vms,
      stateKiB: Math.round(stateBytes / 1024),
      saveMs: { median: quantile(saves, 0.5).toFixed(1), max: saves[saves.length - 1]!.toFixed(1) },
      eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
      diskUpdate: {
        count: latencies.length,
        p50Ms: quantile(latencies, 0.5).toFixed(1),
        p99Ms: quantile(latencies, 0.99).toFixed(1),
        perSecond: ((latencies.length / elapsed) * 1000).toFixed(0),
      },
    }),
  );
} finally {
  await emu.close();
}
