import { describe, expect, it } from "vitest";
import { evaluatePolicies, urnOf } from "../../local/deployer/policy-eval";
import { runProgram } from "../../local/deployer/program-run";
import { blueprint, LANDING_ZONE_STACK, landingZone, readyRunState, recoveryPoints } from "../unit/stacks/fixtures";

describe("running the program for the local deployer", () => {
  it("records each resource's options, its engine URN, and dependencies that stack policies can follow", async () => {
    const b = blueprint();
    const { declared } = await runProgram(
      {
        kind: "blueprint",
        landingZoneStack: LANDING_ZONE_STACK,
        blueprint: b,
        stagingSku: "Premium_LRS",
      },
      "t",
      {
        preview: true,
        resolve: async (r) => ({ id: `/fake/${r.type}/${r.name}`, outputs: { ...r.inputs } }),
        stackOutputs: async () => ({ outputs: landingZone() }),
        subscriptionId: landingZone().subscriptionId,
        readBlueprintState: async () => readyRunState("failover", recoveryPoints(b)),
      },
    );
    const staging = declared.find((d) => d.key === "azure-native:compute:Disk::web1-os-staging")!;
    expect(staging.retainOnDelete).toBe(true);
    expect(staging.urn).toMatch(/ferry:dr:StagingDisk\$azure-native:compute:Disk::web1-os-staging$/);
    const vm = declared.find((d) => d.key === "azure-native:compute:VirtualMachine::web1")!;
    const nic = declared.find((d) => d.key === "azure-native:network:NetworkInterface::web1-nic")!;
    expect(vm.dependencies).toContain(nic.urn);
    expect(vm.dependencies).toContain(staging.urn);
    expect(declared.find((d) => d.type === "ferry:dr:RecoveredVm")?.custom).toBe(false);

    let seen: unknown[] = [];
    await evaluatePolicies(
      [
        {
          name: "probe",
          enforcementLevel: "advisory",
          validateStack: (args: { resources: { name: string; dependencies: { name: string }[] }[] }) =>
            (seen = args.resources.find((r) => r.name === "web1")!.dependencies.map((d) => d.name)),
        },
      ],
      declared,
      {},
      "t",
    );
    expect(seen).toEqual(expect.arrayContaining(["web1-nic", "web1-os-staging", "web1-lun0-disk"]));

    // Before registration (a resource policy judges it then) the URN is built as the engine builds it.
    for (const d of declared.filter((x) => x.custom)) expect(urnOf({ ...d, urn: undefined }, "t"), d.key).toBe(d.urn);
  });
  it("registers the rows' disks copied from DR-side points before any NIC, VM or failback base is declared", async () => {
    const b = blueprint((raw) => {
      for (const row of raw.rows as Record<string, unknown>[]) row.osStrategy = "fromSnapshot";
    });
    const points = Object.fromEntries(
      Object.entries(recoveryPoints(b)).map(([id, p]) => [
        id,
        { ...p, drSnapshotId: p.snapshotId.replace("/snapshots/ferry-", "/snapshots/ferry-pt-") },
      ]),
    );
    const { declared } = await runProgram(
      { kind: "blueprint", landingZoneStack: LANDING_ZONE_STACK, blueprint: b, stagingSku: "Premium_LRS" },
      "t",
      {
        preview: false,
        resolve: async (r) => ({ id: `/fake/${r.type}/${r.name}`, outputs: { ...r.inputs } }),
        stackOutputs: async () => ({ outputs: landingZone() }),
        subscriptionId: landingZone().subscriptionId,
        readBlueprintState: async () => readyRunState("failover", points),
      },
    );
    const custom = declared.filter((d) => d.custom).sort((x, y) => x.order - y.order);
    const copies = custom.filter((d) => d.type === "azure-native:compute:Disk" && !d.name.endsWith("-staging"));
    expect(copies).toHaveLength(Object.keys(points).length);
    // Registered as the first custom resources: the program's first step declared nothing else of the stack.
    expect(custom.slice(0, copies.length)).toEqual(copies);
  });
});

describe("two stacks' programs at once", () => {
  /** One row of the fixture blueprint (`web1` or `db1`), in failover mode. */
  const oneRow = (row: "web1" | "db1") => {
    const b = blueprint((raw) => {
      const rows = raw.rows as { name: string }[];
      raw.rows = rows.filter((r) => r.name === row);
    });
    return {
      config: {
        kind: "blueprint" as const,
        landingZoneStack: LANDING_ZONE_STACK,
        blueprint: b,
        stagingSku: "Premium_LRS" as const,
      },
      state: readyRunState("failover", recoveryPoints(b)),
    };
  };

  it("run side by side, each declaring only its own resources", async () => {
    // Each stack's first resource waits until the other has one in flight: one program at a time never gets there.
    const arrived = { a: false, b: false };
    let wake: () => void = () => undefined;
    const both = new Promise<void>((r) => (wake = r));
    const timeout = new Promise<never>((_, j) =>
      setTimeout(() => j(new Error("the programs ran one at a time")), 10_000),
    );
    const run = (stack: "a" | "b", row: "web1" | "db1") => {
      const { config, state } = oneRow(row);
      return runProgram(config, stack, {
        preview: true,
        resolve: async (r) => {
          arrived[stack] = true;
          if (arrived.a && arrived.b) wake();
          await Promise.race([both, timeout]);
          return { id: `/fake/${stack}/${r.name}`, outputs: { ...r.inputs } };
        },
        stackOutputs: async () => ({ outputs: landingZone() }),
        subscriptionId: landingZone().subscriptionId,
        readBlueprintState: async () => state,
      });
    };
    const [a, b] = await Promise.all([run("a", "web1"), run("b", "db1")]);
    const names = (d: typeof a.declared) => d.filter((r) => r.custom).map((r) => r.name.toLowerCase());
    expect(names(a.declared)).toContain("web1");
    expect(names(a.declared).filter((n) => n.startsWith("db1"))).toEqual([]);
    expect(names(b.declared).filter((n) => n.startsWith("db1"))).not.toEqual([]);
    expect(names(b.declared).filter((n) => n.startsWith("web1"))).toEqual([]);
    for (const d of b.declared.filter((r) => r.custom)) expect(d.urn, d.key).toMatch(/^urn:pulumi:b::ferry::/);
  });

  it("fail apart: a program whose landing zone is missing does not fail the one beside it", async () => {
    const good = oneRow("web1");
    const bad = oneRow("db1");
    const [failed, fine] = await Promise.allSettled([
      runProgram(bad.config, "bad", {
        preview: true,
        resolve: async (r) => ({ id: `/fake/${r.name}`, outputs: { ...r.inputs } }),
        stackOutputs: async (name) => {
          throw new Error(`no stack ${name}`);
        },
        subscriptionId: landingZone().subscriptionId,
        readBlueprintState: async () => bad.state,
      }),
      runProgram(good.config, "good", {
        preview: true,
        resolve: async (r) => {
          await new Promise((w) => setTimeout(w, 20));
          return { id: `/fake/${r.name}`, outputs: { ...r.inputs } };
        },
        stackOutputs: async () => ({ outputs: landingZone() }),
        subscriptionId: landingZone().subscriptionId,
        readBlueprintState: async () => good.state,
      }),
    ]);
    expect(failed.status).toBe("rejected");
    expect(String((failed as PromiseRejectedResult).reason)).toContain(`no stack ${LANDING_ZONE_STACK}`);
    expect(fine.status).toBe("fulfilled");
  });
});
