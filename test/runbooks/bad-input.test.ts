// Every row of the bad-input table in runbooks/README.md, run against the local Azure: the exit code,
// the message, no stack trace, and nothing created by a lookup. The table is parsed from the README so
// the two cannot drift.
import { readdirSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { useCliWorld } from "../helpers/cli-world";

interface Row {
  argv: string[];
  exit: number;
  excerpt: string;
  line: string;
}

/** The rows of the README's "Bad input" table: `ferry …` | exit | `excerpt`. */
function badInputTable(): Row[] {
  const readme = readFileSync("runbooks/README.md", "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Bad input"));
  if (!section) throw new Error('runbooks/README.md has no "## Bad input" section');
  const rows: Row[] = [];
  for (const line of section.split("\n")) {
    const m = /^\|\s*`ferry([^`]*)`\s*\|\s*(\d+)\s*\|\s*`(.+)`\s*\|$/.exec(line.trim());
    if (m) rows.push({ argv: m[1]!.trim().split(/\s+/).filter(Boolean), exit: Number(m[2]), excerpt: m[3]!, line });
    else if (line.startsWith("| `")) throw new Error(`A row of the bad-input table does not parse: ${line}`);
  }
  return rows;
}

const rows = badInputTable();
const dr = useCliWorld({ logLevel: "silent" });
let blueprint: string;

beforeAll(async () => {
  blueprint = (await dr.world.workload("bad1")).stack;
});

/** Runs `ferry` in-process on the local world: exit code, stdout and stderr. */
const ferry = (argv: string[]) => dr.ferry(argv);

function stacks(): string[] {
  return readdirSync(dr.world.config.deployer.kind === "local" ? dr.world.config.deployer.stateDir : "").sort();
}

describe("bad input (runbooks/README.md)", () => {
  it("has a table of at least a dozen rows", () => {
    expect(rows.length).toBeGreaterThanOrEqual(12);
  });

  for (const row of rows) {
    it(`${["ferry", ...row.argv].join(" ")} → exit ${row.exit}`, async () => {
      const r = await ferry(row.argv);
      expect(r.code, `${row.line}\nstdout: ${r.out}\nstderr: ${r.err}`).toBe(row.exit);
      expect(`${r.out}\n${r.err}`).toContain(row.excerpt);
      expect(r.err).not.toMatch(/^\s+at /m);
      expect(r.err).not.toMatch(/ferry\.json/);
    });
  }

  it("lists the known blueprints, and a lookup of an unknown one creates no stack or operation", async () => {
    const before = stacks();
    const r = await ferry(["failover", "nosuch", "--test"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`The known blueprints: .*\\b${blueprint}\\b`));
    await ferry(["precheck", "nosuch"]);
    await ferry(["history", "nosuch"]);
    expect(stacks()).toEqual(before);
    expect(await dr.world.ctx.journal.list("nosuch")).toEqual([]);
  });

  it("prints an error under --json as one JSON object with its code, message and exit code", async () => {
    const r = await ferry(["precheck", "nosuch", "--json"]);
    expect(r.out).toBe("");
    const lines = r.err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      error: { code: "UnknownBlueprint", message: expect.stringContaining("nosuch") as unknown, exitCode: 2 },
    });
  });
});
