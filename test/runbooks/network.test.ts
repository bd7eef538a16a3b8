import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createSubnet } from "@ferry/emulator/testing";
import { failover } from "../../runbooks/failover";
import { precheck, type PrecheckResult } from "../../runbooks/precheck";
import type { RunbookContext } from "../../runbooks/context";
import { EXIT } from "../../runbooks/commands/common";
import { useCliWorld } from "../helpers/cli-world";
import { DR, PRIMARY, type DrWorld } from "../helpers/dr-env";

// The world's target subnet is dr-vnet/app, 10.1.0.0/22 in northeurope; its test subnet dr-test-vnet/app,
// 10.99.0.0/22. Every workload row gets a static address of the target subnet from local/world.ts.

const cli = useCliWorld();
const f = cli.f;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});

type Row = Record<string, unknown>;

/** A workload's blueprint, changed by `edit` and stored again. */
async function editRows(stack: string, edit: (rows: Row[]) => void): Promise<void> {
  const config = await world.ctx.deployer.getConfig(stack);
  const blueprint = config.blueprint as { rows: Row[] };
  edit(blueprint.rows);
  await world.ctx.deployer.setConfig(stack, { ...config, blueprint });
}

function check(r: PrecheckResult, name: string) {
  const c = r.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name}: ${r.checks.map((x) => x.name).join(", ")}`);
  return c;
}

describe("the precheck knows the network", () => {
  it("refuses a static IP outside the target subnet, naming the row, the value and the addresses to pick", async () => {
    const w = await world.workload("ipout");
    await editRows(w.stack, (rows) => (rows[0]!.privateIpAddress = "10.2.0.10"));
    const r = await precheck(world.ctx, w.stack);
    expect(check(r, "ipout: private IP 10.2.0.10")).toEqual({
      name: "ipout: private IP 10.2.0.10",
      row: "ipout",
      ok: false,
      message:
        "rows[].privateIpAddress 10.2.0.10 of row ipout is outside the target subnet dr-vnet/app (10.1.0.0/22): " +
        "Azure would refuse the recovered NIC (PrivateIPAddressNotInSubnet). Set rows[].privateIpAddress of ipout " +
        "to a free address from 10.1.0.4 to 10.1.3.254, or remove it for a dynamic one.",
    });
    expect(r.passed).toBe(false);

    // Through the CLI: a FAIL line, exit 3.
    const run = await cli.ferry(["precheck", w.stack]);
    expect(run.code).toBe(EXIT.refused);
    expect(run.out).toMatch(
      /FAIL +ipout: private IP 10\.2\.0\.10 +rows\[\]\.privateIpAddress 10\.2\.0\.10 of row ipout/,
    );
  });

  it("refuses an address Azure reserves in the subnet: its first four and its last", async () => {
    const w = await world.workload("ipres", { vms: 2 });
    await editRows(w.stack, (rows) => {
      rows[0]!.privateIpAddress = "10.1.0.3";
      rows[1]!.privateIpAddress = "10.1.3.255";
    });
    const r = await precheck(world.ctx, w.stack);
    for (const [row, ip] of [
      ["ipresa", "10.1.0.3"],
      ["ipresb", "10.1.3.255"],
    ] as const) {
      const c = check(r, `${row}: private IP ${ip}`);
      expect(c.ok).toBe(false);
      expect(c.message).toBe(
        `rows[].privateIpAddress ${ip} of row ${row} is one of the five addresses Azure reserves in dr-vnet/app ` +
          "(10.1.0.0-10.1.0.3 and 10.1.3.255): Azure would refuse the recovered NIC " +
          "(PrivateIPAddressInReservedRange). " +
          `Set rows[].privateIpAddress of ${row} to a free address from 10.1.0.4 to 10.1.3.254, or remove it for a ` +
          "dynamic one.",
      );
    }
  });

  it("refuses an address another NIC holds in the subnet, naming free ones", async () => {
    const w = await world.workload("ipuse");
    await world.builder.network.networkInterfaces.beginCreateOrUpdateAndWait(DR.networkRg, "squatter-nic", {
      location: DR.location,
      ipConfigurations: [
        {
          name: "ipconfig1",
          subnet: { id: world.targetSubnetId },
          privateIPAllocationMethod: "Static",
          privateIPAddress: "10.1.2.50",
        },
      ],
    });
    await editRows(w.stack, (rows) => (rows[0]!.privateIpAddress = "10.1.2.50"));
    const c = check(await precheck(world.ctx, w.stack), "ipuse: private IP 10.1.2.50");
    expect(c.ok).toBe(false);
    expect(c.message).toBe(
      "rows[].privateIpAddress 10.1.2.50 of row ipuse is in use in dr-vnet/app by another resource: Azure would " +
        "refuse the recovered NIC (PrivateIPAddressIsAllocated). Free it, or set rows[].privateIpAddress of ipuse " +
        "to a free address (free: 10.1.2.51, 10.1.2.52, 10.1.2.53, 10.1.2.54, 10.1.2.55).",
    );
  });

  it("refuses two rows with one address", async () => {
    const w = await world.workload("ipdup", { vms: 2 });
    await editRows(w.stack, (rows) => {
      rows[0]!.privateIpAddress = "10.1.2.70";
      rows[1]!.privateIpAddress = "10.1.2.70";
    });
    const r = await precheck(world.ctx, w.stack);
    expect(check(r, "ipdupa: private IP 10.1.2.70")).toMatchObject({
      ok: true,
      message: "free in dr-vnet/app (10.1.0.0/22)",
    });
    expect(check(r, "ipdupb: private IP 10.1.2.70")).toMatchObject({
      ok: false,
      message:
        "rows[].privateIpAddress 10.1.2.70 of row ipdupb is row ipdupa's too: Azure would refuse the second " +
        "recovered NIC (PrivateIPAddressIsAllocated). Give each row its own address in rows[].privateIpAddress.",
    });
  });

  it("refuses a target subnet whose virtual network is in another region than the landing zone", async () => {
    const w = await world.workload("ipfar");
    // A landing zone pointed at a network of the primary region: outputs as a stale or hand-edited stack has them.
    const far = await createSubnet(world.builder, DR.networkRg, PRIMARY.location, "far-vnet", {
      addressSpace: "10.1.0.0/16",
      subnet: "app",
      subnetPrefix: "10.1.0.0/22",
    });
    const real = world.ctx.deployer;
    const lz = world.config.landingZoneStack;
    const deployer = new Proxy(real, {
      get(target, key) {
        if (key === "outputs")
          return async (stack: string) => {
            const out = await target.outputs(stack);
            return stack === lz ? { ...out, targetSubnetId: far } : out;
          };
        const value: unknown = Reflect.get(target, key);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const ctx: RunbookContext = { ...world.ctx, deployer };
    const r = await precheck(ctx, w.stack);
    expect(check(r, "target subnet region")).toEqual({
      name: "target subnet region",
      ok: false,
      message:
        `Virtual network far-vnet of the target subnet is in ${PRIMARY.location}, not the landing zone's region ` +
        `${DR.location}: Azure refuses a NIC on a subnet of another region (InvalidResourceReference), so no ` +
        `recovered VM can join it. Give the landing zone lz a target subnet in ${DR.location} and deploy it again ` +
        "(pulumi up -s lz).",
    });
    // The world's own landing zone passes it, and reports the subnet's NSG and route table.
    const ok = await precheck(world.ctx, w.stack);
    expect(check(ok, "target subnet region")).toMatchObject({ ok: true, message: `dr-vnet is in ${DR.location}` });
    expect(check(ok, "target subnet NSG and route table")).toMatchObject({
      ok: true,
      message: "no NSG, no route table",
    });
  });

  it("checks a test failover's address against the test subnet", async () => {
    const w = await world.workload("iptest");
    // The row's production address is the target subnet's, which the test subnet does not have.
    await editRows(w.stack, (rows) => (rows[0]!.testPrivateIpAddress = "10.1.0.200"));
    const r = await precheck(world.ctx, w.stack, { mode: "test" });
    expect(check(r, "iptest: test private IP 10.1.0.200")).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        new RegExp(
          "^rows\\[\\]\\.testPrivateIpAddress 10\\.1\\.0\\.200 of row iptest is outside the test subnet " +
            "dr-test-vnet/app \\(10\\.99\\.0\\.0/22\\): .* to a free address from 10\\.99\\.0\\.4 to 10\\.99\\.3\\.254",
        ),
      ),
    });
    // The production address is not a test failover's.
    expect(r.checks.some((c) => c.name.startsWith("iptest: private IP"))).toBe(false);
  });
});

describe("targets validate knows the network", () => {
  it("fails a row's static IP outside its subnet online, and says offline what it cannot check", async () => {
    const w = await world.workload("iptv");
    await editRows(w.stack, (rows) => (rows[0]!.privateIpAddress = "10.1.8.8"));
    const live = await cli.ferry(["targets", "validate", w.stack]);
    expect(live.code).toBe(EXIT.usage);
    expect(live.out).toMatch(
      new RegExp(
        "FAIL +iptv: private IP 10\\.1\\.8\\.8: rows\\[\\]\\.privateIpAddress 10\\.1\\.8\\.8 of row iptv is " +
          "outside the target subnet dr-vnet/app",
      ),
    );
    expect(live.out).toMatch(/ok +target subnet NSG and route table: no NSG, no route table/);

    // Offline reads stack files: the example's row web1 names 10.1.0.20.
    const offline = await cli.ferry(["targets", "validate", join("stacks", "Pulumi.web-linux.yaml"), "--offline"]);
    expect(offline.code).toBe(EXIT.ok);
    expect(offline.out).toContain(
      "static private IPs: not checked offline (rows web1): whether each is inside its subnet, not reserved by Azure " +
        "and free is read from the landing zone's subnets in Azure. Run targets validate without --offline.",
    );
  });
});

describe("a static-IP row keeps its address", () => {
  it("after a failover, its NIC has exactly that address, and a re-run's precheck finds it the row's own", async () => {
    const w = await world.workload("ipkeep");
    await editRows(w.stack, (rows) => (rows[0]!.privateIpAddress = "10.1.2.99"));
    await world.protect(w);
    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
    expect(op.status).toBe("succeeded");
    const vm = await f.azure.compute.virtualMachines.get(DR.rg, w.vm);
    const nicId = vm.networkProfile!.networkInterfaces![0]!.id!;
    const nic = await f.azure.network.networkInterfaces.get(DR.rg, nicId.split("/").at(-1)!);
    expect(nic.ipConfigurations?.map((c) => [c.privateIPAllocationMethod, c.privateIPAddress])).toEqual([
      ["Static", "10.1.2.99"],
    ]);
    const again = await precheck(world.ctx, w.stack);
    expect(check(again, "ipkeep: private IP 10.1.2.99")).toMatchObject({
      ok: true,
      message: "held by the row's recovered NIC ipkeep-nic already (a re-run keeps it)",
    });
  });

  it("a test failover's NIC has the row's test address in the test subnet", async () => {
    const w = await world.workload("iptestkeep");
    await editRows(w.stack, (rows) => (rows[0]!.testPrivateIpAddress = "10.99.1.23"));
    await world.protect(w);
    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "test" }), world.sourcesOf(w));
    expect(op.status).toBe("succeeded");
    const nic = await f.azure.network.networkInterfaces.get(DR.rg, "iptestkeep-test-nic");
    expect(
      nic.ipConfigurations?.map((c) => [c.subnet?.id?.split("/").slice(-3).join("/"), c.privateIPAddress]),
    ).toEqual([["dr-test-vnet/subnets/app", "10.99.1.23"]]);
  });
});
