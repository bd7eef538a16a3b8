import type { Argv, CommandModule } from "yargs";
import { isUserError, UserError } from "../../core/errors";
import { nameOf, parseResourceId } from "../../core/resource-id";
import type { LandingZoneFacts } from "../blueprints";
import { contextFor, emit, EXIT, table, type CliIo, type GlobalArgs } from "./common";
import { stackConfigOf, stackFiles } from "./stack-config";

type ValidateArgs = GlobalArgs & { stacks?: string[]; offline: boolean };

interface Verdict {
  stack: string;
  from: string;
  ok: boolean;
  problems: string[];
  checks?: { name: string; ok: boolean; message: string }[];
}

async function validateEach(
  args: ValidateArgs,
  io: CliIo,
  one: (stack: string, raw: Record<string, unknown>) => Promise<Omit<Verdict, "stack" | "from">>,
): Promise<Verdict[]> {
  const names = args.stacks?.length ? args.stacks : stackFiles();
  if (names.length === 0)
    throw new UserError(
      "No stacks to validate: name stack files or stacks, or run from the project root (stacks/Pulumi.<stack>.yaml).",
      { code: "Usage" },
    );
  const out: Verdict[] = [];
  for (const name of names) {
    try {
      const { stack, raw, from } = await stackConfigOf(name, args, io, { offline: args.offline });
      out.push({ stack, from, ...(await one(stack, raw)) });
    } catch (e) {
      if (!isUserError(e)) throw e;
      const stack = name
        .replace(/^.*\//, "")
        .replace(/^Pulumi\./, "")
        .replace(/\.ya?ml$/i, "");
      out.push({ stack, from: name, ok: false, problems: [e.message] });
    }
  }
  return out;
}

/** One line of `ferry blueprints list --json`: a blueprint's standing, or why its stack could not be read. */
interface BlueprintLine {
  stack: string;
  mode?: string;
  rows?: number;
  disks?: number;
  healthy?: number;
  /** Age of the oldest disk's applied point; null until every disk has one. */
  oldestPointAgeSeconds?: number | null;
  rpoTargetSeconds?: number | null;
  /** Set when the stack's config could not be read: what is wrong with it. */
  problem?: string;
}

/** `<virtual network>/<subnet>` of a subnet's ARM id. */
function subnetName(id: string): string {
  const subnet = parseResourceId(id);
  return `${subnet.parent?.name}/${subnet.name}`;
}

function report(verdicts: Verdict[]): string {
  return verdicts
    .map((v) => {
      const head = `${v.ok ? "ok  " : "FAIL"}  ${v.stack}  (${v.from})`;
      const problems = v.problems.map((p) =>
        p
          .split("\n")
          .map((l) => `      ${l}`)
          .join("\n"),
      );
      const checks = (v.checks ?? []).map((c) => `      ${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.message}`);
      return [head, ...problems, ...checks].join("\n");
    })
    .join("\n");
}

export function blueprintsCommand(
  io: CliIo,
  state: { code: number },
): CommandModule<GlobalArgs, ValidateArgs & { blueprint?: string }> {
  return {
    command: "blueprints <action>",
    describe: "Blueprint stacks: list them, validate their config, show one",
    builder: (y) =>
      (y as Argv<GlobalArgs>)
        .command<ValidateArgs>(
          "validate [stacks..]",
          "Validate blueprint and landing-zone stack config: every problem with its path and fix (default: every stacks/Pulumi.*.yaml)",
          (c) =>
            c
              .positional("stacks", { type: "string", array: true, describe: "Stack names or stack files" })
              .example("$0 blueprints validate", "Every stack file in stacks/")
              .example("$0 blueprints validate stacks/Pulumi.web.yaml", "One file"),
          async (a) => {
            const { parseStackConfig } = await import("../../stacks/config");
            const verdicts = await validateEach(a, io, async (stack, raw) => {
              parseStackConfig(raw, stack);
              return { ok: true, problems: [] };
            });
            emit(io, a, verdicts, () => report(verdicts));
            if (verdicts.some((v) => !v.ok)) state.code = EXIT.usage;
          },
        )
        .command<GlobalArgs & { blueprint: string }>(
          "show <blueprint>",
          "A blueprint: mode, rows, strategies, recovered VM names and the state of every source disk",
          (c) => c.positional("blueprint", { type: "string", demandOption: true }),
          async (a) => {
            const { landingZone, loadBlueprint, sourceDisks } = await import("../blueprints");
            const { recoveredVmName } = await import("../../stacks/plan");
            const ctx = await contextFor(a, io);
            const { currentMode } = await import("../mode");
            const config = await loadBlueprint(ctx, a.blueprint);
            const mode = await currentMode(ctx, config.blueprint.name);
            const zone = await landingZone(ctx);
            const b = config.blueprint;
            const rows = await ctx.store.list();
            const disks = sourceDisks(b).map((d) => {
              const s = rows.find((r) => r.source.sourceDiskId.toLowerCase() === d.sourceDiskId.toLowerCase())?.source;
              return {
                ...d,
                state: s?.state ?? "not enabled",
                paused: s?.paused ?? false,
                appliedAt: s?.applied?.createdAt,
              };
            });
            const view = {
              stack: a.blueprint,
              name: b.name,
              mode,
              target: {
                landingZoneStack: config.landingZoneStack,
                region: zone.location,
                resourceGroup: zone.resourceGroupName,
                subnet: subnetName(zone.targetSubnetId),
                testSubnet: subnetName(zone.testSubnetId),
                vmSizes: b.target.vmSizes,
              },
              rows: b.rows.map((r) => ({
                row: r.name,
                vm: recoveredVmName(r, "failover"),
                testVm: recoveredVmName(r, "test"),
                vmSize: r.vmSize,
                osStrategy: r.osStrategy,
                dataStrategy: r.dataStrategy,
                sourceVmId: r.sourceVmId,
              })),
              disks,
            };
            emit(io, a, view, () =>
              [
                `blueprint ${b.name} (stack ${a.blueprint}): mode ${mode}`,
                `target: landing zone ${view.target.landingZoneStack} (${view.target.region}), ` +
                  `group ${view.target.resourceGroup}, subnet ${view.target.subnet}, test subnet ${view.target.testSubnet}`,
                "",
                table(
                  ["ROW", "RECOVERED VM", "SIZE", "OS DISK", "DATA DISKS"],
                  view.rows.map((r) => [r.row, r.vm, r.vmSize, r.osStrategy, r.dataStrategy]),
                ),
                "",
                table(
                  ["DISK", "ROW", "ROLE", "STATE", "APPLIED"],
                  disks.map((d) => [
                    nameOf(d.sourceDiskId),
                    d.row,
                    d.role === "os" ? "OS" : `LUN ${d.lun}`,
                    `${d.state}${d.paused ? " (paused)" : ""}`,
                    d.appliedAt,
                  ]),
                ),
              ].join("\n"),
            );
          },
        )
        .command<GlobalArgs>(
          "list",
          "Every blueprint stack: mode, rows, how many source disks are healthy, the oldest applied point's age",
          (c) => c.example("$0 blueprints list --json", "As JSON"),
          async (a) => {
            const { loadBlueprint, sourceDisks } = await import("../blueprints");
            const { currentMode } = await import("../mode");
            const ctx = await contextFor(a, io);
            const stacks = (await ctx.deployer.stacks()).filter((s) => s.kind === "blueprint").map((s) => s.name);
            const sources = await ctx.store.list();
            const now = ctx.now().getTime();
            const view: BlueprintLine[] = [];
            for (const stack of stacks.sort()) {
              try {
                const b = (await loadBlueprint(ctx, stack)).blueprint;
                const disks = sourceDisks(b).map(
                  (d) =>
                    sources.find((r) => r.source.sourceDiskId.toLowerCase() === d.sourceDiskId.toLowerCase())?.source,
                );
                const applied = disks.flatMap((s) => (s?.applied ? [Date.parse(s.applied.createdAt)] : []));
                view.push({
                  stack,
                  mode: await currentMode(ctx, b.name),
                  rows: b.rows.length,
                  disks: disks.length,
                  healthy: disks.filter((s) => s?.state === "healthy").length,
                  // The blueprint's recovery point is as old as its oldest disk's; unknown until every disk has one.
                  oldestPointAgeSeconds:
                    applied.length === disks.length && applied.length > 0
                      ? Math.round((now - Math.min(...applied)) / 1000)
                      : null,
                  rpoTargetSeconds: b.rpoTargetSeconds ?? null,
                });
              } catch (e) {
                if (!isUserError(e)) throw e;
                view.push({ stack, problem: e.message });
              }
            }
            emit(io, a, view, () =>
              view.length === 0
                ? "No blueprint stacks yet: add stacks/Pulumi.<name>.yaml with ferry:kind: blueprint " +
                  "(see stacks/README.md)."
                : table(
                    ["BLUEPRINT", "MODE", "ROWS", "HEALTHY", "POINT AGE", "RPO TARGET"],
                    view.map((v) =>
                      v.mode !== undefined
                        ? [
                            v.stack,
                            v.mode,
                            String(v.rows),
                            `${v.healthy}/${v.disks}`,
                            v.oldestPointAgeSeconds == null ? "—" : `${v.oldestPointAgeSeconds} s`,
                            v.rpoTargetSeconds == null ? "—" : `${v.rpoTargetSeconds} s`,
                          ]
                        : [v.stack, `unreadable: ${v.problem ?? ""}`, "", "", "", ""],
                    ),
                  ),
            );
          },
        )
        .demandCommand(1, "Name an action: list, validate, show.") as never,
    handler: () => undefined,
  };
}

export function targetsCommand(io: CliIo, state: { code: number }): CommandModule<GlobalArgs, ValidateArgs> {
  return {
    command: "targets <action>",
    describe: "The DR targets of blueprints: validate them",
    builder: (y) =>
      (y as Argv<GlobalArgs>)
        .command<ValidateArgs>(
          "validate [stacks..]",
          "Validate each blueprint's target: the config (path and fix), then, unless --offline, its landing zone's " +
            "group and subnets in the DR subscription, each row's static IPs in them, the VM sizes offered there and " +
            "the vCPU quota",
          (c) =>
            c
              .positional("stacks", {
                type: "string",
                array: true,
                describe: "Blueprint stack names or stack files (default: every stacks/Pulumi.*.yaml blueprint)",
              })
              .option("offline", {
                type: "boolean",
                default: false,
                describe: "Only the config (no Azure calls, no ferry config needed)",
              })
              .example("$0 targets validate web --config ferry.json", "Config and the DR subscription")
              .example("$0 targets validate --offline", "Every stack file's target, offline"),
          async (a) => {
            const { TargetSchema } = await import("../../core/schemas/target");
            const { pulumiStackName } = await import("../../core/schemas/fields");
            const { parseWith } = await import("../../core/validate");
            const { checkTarget } = await import("../targets");
            const { NetworkRowsSchema, offlineNetworkNote } = await import("../network");
            const { assertSameLandingZone, landingZone } = await import("../blueprints");
            const ctx = a.offline ? undefined : await contextFor(a, io);
            let zone: Promise<LandingZoneFacts> | undefined;
            const verdicts = await validateEach(a, io, async (stack, raw) => {
              if (raw.kind !== "blueprint")
                return {
                  ok: true,
                  problems: [],
                  checks: [{ name: "kind", ok: true, message: `${String(raw.kind)} stack: no target` }],
                };
              const blueprint = raw.blueprint as { target?: unknown; rows?: unknown } | undefined;
              const target = parseWith(TargetSchema, blueprint?.target, { what: `blueprint.target of stack ${stack}` });
              const rows = parseWith(NetworkRowsSchema, blueprint?.rows ?? [], {
                what: `blueprint.rows of stack ${stack}`,
              });
              if (!ctx) {
                const note = offlineNetworkNote(rows);
                return { ok: true, problems: [], ...(note ? { checks: [note] } : {}) };
              }
              const landingZoneStack = parseWith(pulumiStackName, raw.landingZoneStack, {
                what: `ferry:landingZoneStack of stack ${stack}`,
              });
              assertSameLandingZone(ctx, stack, landingZoneStack);
              const checks = await checkTarget(ctx, target, await (zone ??= landingZone(ctx)), rows);
              return { ok: checks.every((c) => c.ok), problems: [], checks };
            });
            emit(io, a, verdicts, () => report(verdicts));
            if (verdicts.some((v) => !v.ok)) state.code = EXIT.usage;
          },
        )
        .demandCommand(1, "Name an action: validate.") as never,
    handler: () => undefined,
  };
}
