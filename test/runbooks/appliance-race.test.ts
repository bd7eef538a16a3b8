import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { attachToAppliance, detachFromAppliance } from "../../runbooks/appliance";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "../helpers/azure-env";
import { useEmulator } from "../helpers/emulator";
import { waitFor } from "../helpers/processes";

// Staging disks are attached to and detached from the appliance by more than one host at once: a plan's blueprints
// on two pipeline agents, a runbook beside the daemon's host. Each host here is its own process with its own clients
// (test/helpers/appliance-worker.ts); both start together, and every VM write waits 300 ms before Azure applies it,
// so one host reads while the other's write is on its way. A read-modify-write of the VM's data-disk list (main
// before this test: a VM update with the list read, one at a time per process) loses the other host's disks here;
// attachDetachDataDisks, which names only the caller's disks, loses none.

const f = useEmulator();
const REGION = "westeurope";
const root = resolve(import.meta.dirname, "../..");
let counter = 0;

afterEach(() => f.emu.faults.clear());

/** Every write of a VM is applied 300 ms after it arrives. */
function slowWrites(): void {
  f.emu.faults.add({
    match: { operation: ["VirtualMachines_Update", "VirtualMachines_AttachDetachDataDisks"] },
    action: { kind: "delay", ms: 300 },
  });
}

/** An appliance VM (8 data disks) and `n` empty disks beside it. */
async function appliance(n: number): Promise<{ id: string; rg: string; disks: string[] }> {
  const rg = `race-${++counter}`;
  await createGroup(f.azure, rg, REGION);
  const subnet = await createSubnet(f.azure, rg, REGION, "vnet");
  const nicId = await createNic(f.azure, rg, REGION, "nic", subnet);
  const osDiskId = await createEmptyDisk(f.azure, rg, REGION, "os", 1, { osType: "Linux" });
  const vm = await createVm(f.azure, rg, REGION, "appliance", { osDiskId, nicId, vmSize: "Standard_D4s_v5" });
  const disks: string[] = [];
  for (let i = 0; i < n; i++) disks.push(await createEmptyDisk(f.azure, rg, REGION, `staging${i}`));
  return { id: vm.id!, rg, disks };
}

/** Starts one host per disk list, all released at once; resolves when every one has exited. */
async function hosts(verb: "attach" | "detach", applianceId: string, lists: string[][]): Promise<string[]> {
  const children = lists.map((disks) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/appliance-worker.ts", verb], {
      cwd: root,
      env: {
        ...process.env,
        WORKER_SUBSCRIPTION: f.emu.subscriptionId,
        WORKER_ENDPOINT: f.emu.endpoint,
        WORKER_CA: f.emu.caCertPem,
        WORKER_APPLIANCE: applianceId,
        WORKER_DISKS: disks.join(","),
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: string[] = [];
    const err: string[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d.toString()));
    child.stderr.on("data", (d: Buffer) => err.push(d.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", done));
    return { child, out, err, exited };
  });
  await waitFor(async () => children.every((c) => c.out.join("").includes("ready")), "every host ready", 60_000);
  for (const c of children) c.child.stdin.end("go\n");
  const codes = await Promise.all(children.map((c) => c.exited));
  expect(codes, children.map((c) => c.err.join("")).join("\n")).toEqual(lists.map(() => 0));
  return children.map((c) => c.out.join(""));
}

async function attachedTo(rg: string): Promise<string[]> {
  const vm = await f.azure.compute.virtualMachines.get(rg, "appliance");
  return (vm.storageProfile?.dataDisks ?? []).map((d) => d.managedDisk!.id!.toLowerCase()).sort();
}

describe("the appliance's disks, from two hosts at once", () => {
  it("two hosts attaching three disks each: all six land, each at its own LUN", async () => {
    const a = await appliance(6);
    slowWrites();
    const out = await hosts("attach", a.id, [a.disks.slice(0, 3), a.disks.slice(3)]);
    expect(await attachedTo(a.rg)).toEqual(a.disks.map((d) => d.toLowerCase()).sort());
    const luns = out.flatMap((o) => [...o.matchAll(/lun (\d+)/g)].map((m) => Number(m[1])));
    expect(new Set(luns).size).toBe(6);
  });

  it("two hosts detaching, one disk each while a third stays: both leave, the third is kept", async () => {
    const a = await appliance(3);
    for (const d of a.disks) await attachToAppliance({ azure: f.azure, poll: { updateIntervalInMs: 10 } }, a.id, d);
    slowWrites();
    await hosts("detach", a.id, [[a.disks[0]!], [a.disks[1]!]]);
    expect(await attachedTo(a.rg)).toEqual([a.disks[2]!.toLowerCase()]);
  });

  it("a detach naming a disk already gone detaches the others and counts only them", async () => {
    const a = await appliance(3);
    const ctx = { azure: f.azure, poll: { updateIntervalInMs: 10 } };
    for (const d of a.disks.slice(0, 2)) await attachToAppliance(ctx, a.id, d);
    expect(await detachFromAppliance(ctx, a.id, a.disks)).toBe(2);
    expect(await attachedTo(a.rg)).toEqual([]);
  });

  it("a detach refused while another write holds the appliance (409) is made again, and lands", async () => {
    const a = await appliance(2);
    const ctx = { azure: f.azure, poll: { updateIntervalInMs: 10 } };
    for (const d of a.disks) await attachToAppliance(ctx, a.id, d);
    const id = f.emu.faults.add({
      match: { operation: "VirtualMachines_AttachDetachDataDisks" },
      action: {
        kind: "error",
        status: 409,
        code: "Conflict",
        message: "The request failed due to conflict with a concurrent request.",
      },
      times: 2,
    });
    expect(await detachFromAppliance(ctx, a.id, a.disks)).toBe(2);
    expect(f.emu.faults.stats().find((s) => s.id === id)?.fired).toBe(2);
    expect(await attachedTo(a.rg)).toEqual([]);
  });
});
