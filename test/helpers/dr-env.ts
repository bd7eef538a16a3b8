import { Writable } from "node:stream";
import { createLogger } from "../../core/logger";
import type { Source } from "../../core/schemas/source";
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
  workload(name: string, options?: { osStrategy?: "attachAsIs" | "fromSnapshot"; dataStrategy?: "attachAsIs" | "fromSnapshot"; dataLuns?: number[]; vms?: number }): Promise<Workload>;
  /** Runs `fn` while the daemon ticks in the background (for the sources `only` keeps). */
  whileSyncing<T>(fn: () => Promise<T>, only?: (s: Source) => boolean): Promise<T>;
  /** Runs the daemon's ticks until `until` holds (or fails after a while). */
  syncUntil(until: () => Promise<boolean>, what: string, only?: (s: Source) => boolean): Promise<void>;
  close(): Promise<void>;
}

/** A primary VM of a workload: one blueprint row. */
export interface WorkloadVm {
  vm: string;
  vmId: string;
  osDiskId: string;
  dataDiskIds: Map<number, string>;
  sourceDevice(lun: number | "os"): string;
}

/** A blueprint stack (`bp-<name>`) of one or more VMs; the first VM's fields are repeated at the top. */
export interface Workload extends WorkloadVm {
  stack: string;
  vms: WorkloadVm[];
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
  const azure = { subscriptionId: f.emu.subscriptionId, armEndpoint: f.emu.endpoint, caCertPath: f.emu.caCertPath, credential: { kind: "emulator" as const }, pollIntervalInMs: 10, retry: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 } };
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
    appliance: { sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test", vmSize: "Standard_D16s_v5" },
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
      const count = options.vms ?? 1;
      const names = count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}${String.fromCharCode(97 + i)}`);
      const vms: WorkloadVm[] = [];
      for (const vmName of names) {
        const nic = await createNic(az, PRIMARY.rg, PRIMARY.location, `${vmName}-nic`, primarySubnet);
        const os = await createEmptyDisk(az, PRIMARY.rg, PRIMARY.location, `${vmName}-os`, 1, { osType: "Linux" });
        const data = new Map<number, string>();
        for (const lun of luns) data.set(lun, await createEmptyDisk(az, PRIMARY.rg, PRIMARY.location, `${vmName}-data${lun}`, 1));
        const vm = await createVm(az, PRIMARY.rg, PRIMARY.location, vmName, { osDiskId: os, nicId: nic, dataDisks: [...data].map(([lun, diskId]) => ({ lun, diskId })) });
        vms.push({ vm: vmName, vmId: vm.id!, osDiskId: os, dataDiskIds: data, sourceDevice: (lun) => f.emu.devicePath(PRIMARY.rg, vmName, lun) });
      }
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
          rows: vms.map((v) => ({
            name: v.vm,
            sourceVmId: v.vmId,
            sourceRegion: PRIMARY.location,
            osDisk: { sourceDiskId: v.osDiskId, osType: "Linux", sizeGiB: 1 },
            dataDisks: [...v.dataDiskIds].map(([lun, sourceDiskId]) => ({ lun, sourceDiskId, sizeGiB: 1 })),
            vmSize: "Standard_D2s_v5",
            privateIpAddress: `10.1.${Math.floor(++n / 200)}.${10 + (n % 200)}`,
            osStrategy: options.osStrategy ?? "attachAsIs",
            dataStrategy: options.dataStrategy ?? "attachAsIs",
          })),
        },
      });
      await ctx.deployer.up(stack, { message: `standby ${stack}` });
      return { stack, ...vms[0]!, vms };
    },
    async syncUntil(until, what, only) {
      const deadline = Date.now() + 60_000;
      while (!(await until())) {
        if (Date.now() > deadline) throw new Error(`the sync did not reach: ${what}`);
        await sync.daemon.tick(only ? { filter: only } : {});
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async whileSyncing(fn, only) {
      let done = false;
      const loop = (async () => {
        while (!done) {
          await sync.daemon.tick(only ? { filter: only } : {});
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        return await fn();
      } finally {
        done = true;
        await loop;
      }
    },
    async close() {
      await sync.daemon.stop(10_000);
    },
  };
  return world;
}
