import { editBlueprint } from "../helpers/blueprint-edit";
import { beforeAll, describe, expect, it } from "vitest";
import { failover } from "../../runbooks/failover";
import { precheck, type PrecheckResult } from "../../runbooks/precheck";
import { useCliWorld } from "../helpers/cli-world";
import { DR, PRIMARY, type DrWorld } from "../helpers/dr-env";
import { isUserError } from "../../core/errors";
import { failbackComplete } from "../../runbooks/failback/complete";
import { prepareFailback } from "../../runbooks/failback/prepare";
import { failbackSync } from "../../runbooks/failback/sync";

// The world's target network is dr-vnet (10.1.0.0/16) with subnet app (10.1.0.0/22); its test network dr-test-vnet
// with app (10.99.0.0/22). These tests give dr-vnet a second subnet, data (10.1.8.0/24), for second NICs.

const cli = useCliWorld();
const f = cli.f;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});

type Blueprint = { target: { vmSizes: string[] }; rows: Record<string, unknown>[] };

/** dr-vnet's subnet `data`: made if missing (a PUT of the same subnet changes nothing). */
async function dataSubnet(): Promise<void> {
  await world.builder.network.subnets.beginCreateOrUpdateAndWait(DR.networkRg, "dr-vnet", "data", {
    addressPrefix: "10.1.8.0/24",
  });
}

function check(r: PrecheckResult, name: string) {
  const c = r.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name}: ${r.checks.map((x) => x.name).join(", ")}`);
  return c;
}

/** Two NICs, the second primary on subnet data, both with static addresses and accelerated networking. */
function twoNics(k: number) {
  return [
    { privateIpAddress: `10.1.2.${10 + k}`, testPrivateIpAddress: `10.99.2.${10 + k}`, acceleratedNetworking: true },
    { subnet: "data", privateIpAddress: `10.1.8.${10 + k}`, acceleratedNetworking: true, primary: true },
  ];
}

/** A VM's NICs as Azure has them: name, primary, subnet, allocation, address, accelerated networking. */
async function nicsOf(vmName: string, rg = DR.rg) {
  const vm = await f.azure.compute.virtualMachines.get(rg, vmName);
  return Promise.all(
    vm.networkProfile!.networkInterfaces!.map(async (ref) => {
      const nic = await f.azure.network.networkInterfaces.get(rg, ref.id!.split("/").at(-1)!);
      const ip = nic.ipConfigurations![0]!;
      return {
        name: nic.name,
        primary: ref.primary,
        subnet: ip.subnet!.id!.split("/").slice(-3).join("/"),
        allocation: ip.privateIPAllocationMethod,
        address: ip.privateIPAddress,
        acceleratedNetworking: nic.enableAcceleratedNetworking,
      };
    }),
  );
}

describe("a row with two NICs and accelerated networking", () => {
  it("fails over with both strategies: each VM has both NICs in order, the primary, the addresses and SR-IOV", async () => {
    await dataSubnet();
    const w = await world.workload("twonic", {
      vmSize: "Standard_D8s_v5",
      strategies: [
        { os: "attachAsIs", data: "attachAsIs" },
        { os: "fromSnapshot", data: "fromSnapshot" },
      ],
    });
    await editBlueprint<Blueprint>(world, w.stack, (b) =>
      b.rows.forEach((row, k) => {
        delete row.privateIpAddress;
        row.nics = twoNics(k);
      }),
    );
    const checked = await precheck(world.ctx, w.stack);
    expect(check(checked, "twonica: 2 NICs")).toMatchObject({ ok: true, message: "Standard_D8s_v5 takes up to 4" });
    expect(check(checked, "twonica: accelerated networking")).toMatchObject({ ok: true });
    expect(check(checked, "twonica: NIC 2 subnet data")).toMatchObject({
      ok: true,
      message: "dr-vnet/data (10.1.8.0/24): no NSG, no route table",
    });
    expect(check(checked, "twonicb: private IP 10.1.8.11")).toMatchObject({ ok: true });

    await world.protect(w);
    const op = await world.unplannedFailover(w);
    expect(op.status).toBe("succeeded");
    for (const [k, v] of w.vms.entries()) {
      expect(await nicsOf(v.vm)).toEqual([
        {
          name: `${v.vm}-nic`,
          primary: false,
          subnet: "dr-vnet/subnets/app",
          allocation: "Static",
          address: `10.1.2.${10 + k}`,
          acceleratedNetworking: true,
        },
        {
          name: `${v.vm}-nic2`,
          primary: true,
          subnet: "dr-vnet/subnets/data",
          allocation: "Static",
          address: `10.1.8.${10 + k}`,
          acceleratedNetworking: true,
        },
      ]);
    }
    // The NIC says it is its VM's primary, as Azure's NIC resource does.
    expect((await f.azure.network.networkInterfaces.get(DR.rg, `${w.vms[0]!.vm}-nic2`)).primary).toBe(true);
  });

  it("a drill puts both NICs in the test network, with the row's test address", async () => {
    await dataSubnet();
    const w = await world.workload("twonictest", { vmSize: "Standard_D8s_v5" });
    await editBlueprint<Blueprint>(world, w.stack, (b) => {
      delete b.rows[0]!.privateIpAddress;
      b.rows[0]!.nics = twoNics(0);
    });
    await world.protect(w);
    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "test" }), world.sourcesOf(w));
    expect(op.status).toBe("succeeded");
    expect((await nicsOf(`${w.vm}-test`)).map((n) => [n.name, n.primary, n.subnet, n.address])).toEqual([
      [`${w.vm}-test-nic`, false, "dr-test-vnet/subnets/app", "10.99.2.10"],
      [`${w.vm}-test-nic2`, true, "dr-test-vnet/subnets/app", expect.stringMatching(/^10\.99\./)],
    ]);
  });
});

describe("the precheck knows a row's NICs", () => {
  it("fails a size without accelerated networking, naming sizes of the region that take it", async () => {
    await dataSubnet();
    const w = await world.workload("nican");
    await editBlueprint<Blueprint>(world, w.stack, (b) => {
      b.target.vmSizes = ["Standard_B2s"];
      b.rows[0]!.vmSize = "Standard_B2s";
      delete b.rows[0]!.privateIpAddress;
      b.rows[0]!.nics = [{ acceleratedNetworking: true }];
    });
    const r = await precheck(world.ctx, w.stack);
    const c = check(r, "nican: accelerated networking");
    expect(c.ok).toBe(false);
    expect(c.message).toMatch(
      new RegExp(
        "^Standard_B2s does not take accelerated networking \\(Resource SKUs: AcceleratedNetworkingEnabled False\\), " +
          "and NIC 1 of the row asks for it \\(rows\\[\\]\\.nics\\[\\]\\.acceleratedNetworking\\): the recovered VM " +
          "would be refused \\(VMSizeIsNotPermittedToEnableAcceleratedNetworking\\)\\. Pick a size that takes 1 NIC " +
          "with accelerated networking for rows\\[\\]\\.vmSize: Standard_",
      ),
    );
    // Named: sizes that take it; never one that does not.
    expect(c.message).toContain("Standard_D2s_v5");
    expect(c.message).not.toMatch(/Standard_B1s|Standard_DS1_v2|Standard_A2_v2/);
    expect(r.passed).toBe(false);
  });

  it("fails a size that takes fewer NICs than the row has, naming sizes that take them", async () => {
    await dataSubnet();
    const w = await world.workload("nicmany");
    await editBlueprint<Blueprint>(world, w.stack, (b) => {
      delete b.rows[0]!.privateIpAddress;
      b.rows[0]!.nics = [{}, { subnet: "data" }, { subnet: "data" }];
    });
    const c = check(await precheck(world.ctx, w.stack), "nicmany: 3 NICs");
    expect(c.ok).toBe(false);
    expect(c.message).toMatch(
      /^Standard_D2s_v5 takes 2 NICs, and the row has 3 \(rows\[\]\.nics\): the recovered VM would be refused \(NetworkInterfaceCountExceeded\)\. Pick a size that takes 3 NICs for rows\[\]\.vmSize: /,
    );
    expect(c.message).toContain("Standard_D8s_v5");
    expect(c.message).toContain("Standard_B2s");
    expect(c.message).not.toContain("Standard_D4s_v5");
  });

  it("fails a NIC whose subnet is not in the target network, naming the subnets there", async () => {
    await dataSubnet();
    const w = await world.workload("nicsub");
    await editBlueprint<Blueprint>(world, w.stack, (b) => {
      delete b.rows[0]!.privateIpAddress;
      b.rows[0]!.nics = [{}, { subnet: "backend", privateIpAddress: "10.1.9.9" }];
    });
    const r = await precheck(world.ctx, w.stack);
    expect(check(r, "nicsub: NIC 2 subnet backend")).toEqual({
      name: "nicsub: NIC 2 subnet backend",
      row: "nicsub",
      ok: false,
      message:
        "rows[].nics[1].subnet backend of row nicsub is not a subnet of dr-vnet, the virtual network of the landing " +
        "zone's target subnet: Azure would refuse the recovered NIC (InvalidResourceReference), and a VM's NICs " +
        "share one virtual network. Create backend in dr-vnet, or set rows[].nics[1].subnet of nicsub to one of its " +
        "subnets: app, data.",
    });
    // Its address has no subnet to be checked against: no line of its own.
    expect(r.checks.some((c) => c.name === "nicsub: private IP 10.1.9.9")).toBe(false);
  });

  it("checks a second NIC's static address against its own subnet, naming the NIC's key", async () => {
    await dataSubnet();
    const w = await world.workload("nicip");
    await editBlueprint<Blueprint>(world, w.stack, (b) => {
      delete b.rows[0]!.privateIpAddress;
      b.rows[0]!.nics = [{}, { subnet: "data", privateIpAddress: "10.1.0.50" }];
    });
    const c = check(await precheck(world.ctx, w.stack), "nicip: private IP 10.1.0.50");
    expect(c).toMatchObject({
      ok: false,
      message:
        "rows[].nics[1].privateIpAddress 10.1.0.50 of row nicip is outside the subnet dr-vnet/data (10.1.8.0/24): " +
        "Azure would refuse the recovered NIC (PrivateIPAddressNotInSubnet). Set rows[].nics[1].privateIpAddress " +
        "of nicip to a free address from 10.1.8.4 to 10.1.8.254, or remove it for a dynamic one.",
    });
  });
});

describe("failback into a new VM of a row with two NICs", () => {
  it("gives the new VM every NIC of the row, in order, with its primary and accelerated networking", async () => {
    await dataSubnet();
    const w = await world.workload("nicfb", { vmSize: "Standard_D8s_v5" });
    await editBlueprint<Blueprint>(world, w.stack, (b) => {
      delete b.rows[0]!.privateIpAddress;
      b.rows[0]!.nics = twoNics(5);
    });
    await world.protect(w);
    expect((await world.unplannedFailover(w)).status).toBe("succeeded");
    // The primary VM is lost with its region; its NIC is left behind, unattached.
    await f.azure.compute.virtualMachines.beginDeleteAndWait(PRIMARY.rg, w.vm, { updateIntervalInMs: 10 });
    const vnet = `/subscriptions/${f.emu.subscriptionId}/resourceGroups/${PRIMARY.rg}/providers/Microsoft.Network/virtualNetworks/prod-vnet`;

    // The second NIC's subnet, data, is not in the primary network yet: refused before anything is made.
    const e = await prepareFailback(world.ctx, w.stack, { toNewVm: true, subnetId: `${vnet}/subnets/app` }).catch(
      (x: unknown) => x,
    );
    expect(isUserError(e)).toBe(true);
    expect((e as Error).message).toContain(
      "nicfb: NIC 2 names the subnet data (rows[].nics[1].subnet), and prod-vnet, the virtual network of --subnet, " +
        "has none: a new VM's NICs share that network. Create data in prod-vnet",
    );

    await world.builder.network.subnets.beginCreateOrUpdateAndWait(PRIMARY.rg, "prod-vnet", "data", {
      addressPrefix: "10.0.8.0/24",
    });
    await prepareFailback(world.ctx, w.stack, { toNewVm: true, subnetId: `${vnet}/subnets/app` });
    await world.whileSyncing(() => failbackSync(world.ctx, w.stack), world.sourcesOf(w));
    await world.whileSyncing(() => failbackComplete(world.ctx, w.stack));

    // As the recovered VM had them: the row's order, its second NIC primary, both with accelerated networking;
    // the first is the NIC the lost VM left behind (its address kept), the second new, in the primary's data subnet.
    expect((await nicsOf(w.vm, PRIMARY.rg)).map((n) => [n.name, n.primary, n.subnet, n.acceleratedNetworking])).toEqual(
      [
        [`${w.vm}-nic`, false, "prod-vnet/subnets/app", true],
        [`${w.vm}-nic2`, true, "prod-vnet/subnets/data", true],
      ],
    );
    const vm = await f.azure.compute.virtualMachines.get(PRIMARY.rg, w.vm, { expand: "instanceView" });
    expect(vm.instanceView!.statuses!.some((s) => s.code === "PowerState/running")).toBe(true);
  });
});
