import { Writable } from "node:stream";
import { createLogger } from "../../core/logger";
import { FerryConfigSchema, type FerryConfig } from "../../runbooks/config";
import { createContext, type RunbookContext } from "../../runbooks/context";
import { SyncConfigSchema } from "../../sync/config";
import { createSyncRuntime, type SyncRuntime } from "../../sync/runtime";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "./azure-env";
import type { AzuriteFixture } from "./azurite";
import { tempDir, type EmulatorFixture } from "./emulator";

export const PRIMARY = { rg: "prod", location: "westeurope" };
export const DR = { rg: "dr-rg", networkRg: "dr-network-rg", location: "northeurope" };
const POLL = { updateIntervalInMs: 10 };

/** A DR setup on the emulator and Azurite: landing zone deployed, a ferry context, a sync daemon. */
export interface DrWorld {
  ctx: RunbookContext;
  config: FerryConfig;
  sync: SyncRuntime;
  logLines: string[];
  targetSubnetId: string;
  /** A primary VM with an OS disk and data disks, and its blueprint stack in standby. */
  workload(name: string, options?: { osStrategy?: "attachAsIs" | "fromSnapshot"; dataStrategy?: "attachAsIs" | "fromSnapshot"; dataLuns?: number[] }): Promise<Workload>;
  /** Runs the daemon's ticks until `until` holds (or fails after a while). */
  syncUntil(until: () => Promise<boolean>, what: string): Promise<void>;
  close(): Promise<void>;
}

export interface Workload {
  stack: string;
  vm: string;
  osDiskId: string;
  dataDiskIds: Map<number, string>;
  sourceDevice(lun: number | "os"): string;
}

export async function createDrWorld(f: EmulatorFixture, a: AzuriteFixture): Promise<DrWorld> {
  const az = f.azure;
  await createGroup(az, PRIMARY.rg, PRIMARY.location);
  const primarySubnet = await createSubnet(az, PRIMARY.rg, PRIMARY.location);
  await createGroup(az, DR.networkRg, DR.location);
  const vnet = await az.network.virtualNetworks.beginCreateOrUpdateAndWait(
    DR.networkRg,
    "dr-vnet",
    { location: DR.location, addressSpace: { addressPrefixes: ["10.1.0.0/16"] }, subnets: [{ name: "app", addressPrefix: "10.1.0.0/24" }] },
    POLL,
  );
  const targetSubnetId = vnet.subnets![0]!.id!;
  const tableName = a.newTableName();
  const env = { ...process.env, FERRY_TEST_TABLE: a.azurite.connectionString };
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      logLines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: "debug", destination: sink, env: {} });
  const azure = { subscriptionId: f.emu.subscriptionId, armEndpoint: f.emu.endpoint, caCertPath: f.emu.caCertPath, credential: { kind: "emulator" as const }, pollIntervalInMs: 10 };
  const config = FerryConfigSchema.parse({
    azure,
    stateStore: { kind: "connectionStringEnv", variable: "FERRY_TEST_TABLE", tableName },
    deployer: { kind: "local", stateDir: tempDir("ferry-stacks-") },
    landingZoneStack: "lz",
    journalDir: tempDir("ferry-journal-"),
    timeouts: { pauseSeconds: 30, finalSyncSeconds: 30 },
  });
  const ctx = await createContext(config, { env, logger });
  await ctx.deployer.setConfig("lz", {
    kind: "landing-zone",
    region: DR.location,
    resourceGroup: DR.rg,
    targetSubnetId,
    testNetwork: { name: "dr-test-vnet", addressPrefix: "10.99.0.0/16", subnetName: "app", subnetPrefix: "10.99.1.0/24" },
    stateStore: { accountName: "ferrystate01", tableName },
    appliance: { sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test" },
    sourceScopes: [`/subscriptions/${f.emu.subscriptionId}/resourceGroups/${PRIMARY.rg}`],
  });
  const lz = await ctx.deployer.up("lz", { message: "landing zone" });
  const applianceId = (lz.outputs.appliance as { vmId: string }).vmId;
  const sync = await createSyncRuntime(
    SyncConfigSchema.parse({
      instanceId: "appliance",
      applianceId,
      deviceDir: f.emu.deviceDir(DR.rg, "ferry-appliance"),
      azure,
      stateStore: { kind: "connectionStringEnv", variable: "FERRY_TEST_TABLE", tableName },
      sync: { intervalInSeconds: 43, tickSeconds: 0.05, leaseSeconds: 10 },
      metrics: { enabled: false, port: 0 },
    }),
    { env, logger: logger.child({ component: "sync" }) },
  );
  let n = 0;
  const world: DrWorld = {
    ctx,
    config,
    sync,
    logLines,
    targetSubnetId,
    async workload(name, options = {}) {
      const luns = options.dataLuns ?? [0];
      const nic = await createNic(az, PRIMARY.rg, PRIMARY.location, `${name}-nic`, primarySubnet);
      const os = await createEmptyDisk(az, PRIMARY.rg, PRIMARY.location, `${name}-os`, 1, { osType: "Linux" });
      const data = new Map<number, string>();
      for (const lun of luns) data.set(lun, await createEmptyDisk(az, PRIMARY.rg, PRIMARY.location, `${name}-data${lun}`, 1));
      const vm = await createVm(az, PRIMARY.rg, PRIMARY.location, name, { osDiskId: os, nicId: nic, dataDisks: [...data].map(([lun, diskId]) => ({ lun, diskId })) });
      const stack = `bp-${name}`;
      await ctx.deployer.setConfig(stack, {
        kind: "blueprint",
        mode: "standby",
        blueprint: {
          name: stack,
          target: {
            tenantId: "11111111-1111-1111-1111-111111111111",
            subscriptionId: f.emu.subscriptionId,
            region: DR.location,
            resourceGroup: DR.rg,
            networkResourceGroup: DR.networkRg,
            virtualNetwork: "dr-vnet",
            subnet: "app",
            testVirtualNetwork: "dr-test-vnet",
            testSubnet: "app",
            vmSizes: ["Standard_D2s_v5"],
            credentials: { kind: "workloadIdentity", clientId: "22222222-2222-2222-2222-222222222222" },
          },
          rows: [
            {
              name,
              sourceVmId: vm.id!,
              sourceRegion: PRIMARY.location,
              osDisk: { sourceDiskId: os, osType: "Linux", sizeGiB: 1 },
              dataDisks: [...data].map(([lun, sourceDiskId]) => ({ lun, sourceDiskId, sizeGiB: 1 })),
              vmSize: "Standard_D2s_v5",
              privateIpAddress: `10.1.0.${100 + ++n}`,
              osStrategy: options.osStrategy ?? "attachAsIs",
              dataStrategy: options.dataStrategy ?? "attachAsIs",
            },
          ],
        },
      });
      await ctx.deployer.up(stack, { message: `enable DR ${stack}` });
      return { stack, vm: name, osDiskId: os, dataDiskIds: data, sourceDevice: (lun) => f.emu.devicePath(PRIMARY.rg, name, lun) };
    },
    async syncUntil(until, what) {
      const deadline = Date.now() + 60_000;
      while (!(await until())) {
        if (Date.now() > deadline) throw new Error(`the sync did not reach: ${what}`);
        await sync.daemon.tick();
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await sync.daemon.stop(10_000);
    },
  };
  return world;
}
