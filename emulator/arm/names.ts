import { EmulatorError } from "../errors";

/** Azure's naming rules for the resource types the emulator serves. */
const RULES: Record<string, { pattern: RegExp; rule: string }> = {
  resourceGroup: {
    pattern: /^[-\w._()]{0,89}[-\w_()]$/u,
    rule: "1-90 characters: letters, digits, underscores, parentheses, hyphens and periods, not ending in a period",
  },
  disk: {
    pattern: /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_])?$/,
    rule: "1-80 characters: letters, digits, underscores, periods and hyphens; starting with a letter or digit and ending with a letter, digit or underscore",
  },
  snapshot: {
    pattern: /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_])?$/,
    rule: "1-80 characters: letters, digits, underscores, periods and hyphens; starting with a letter or digit and ending with a letter, digit or underscore",
  },
  virtualMachine: {
    pattern: /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9_])?$/,
    rule: "1-64 characters: letters, digits, underscores, periods and hyphens; starting with a letter or digit and ending with a letter, digit or underscore",
  },
  network: {
    pattern: /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_])?$/,
    rule: "1-80 characters: letters, digits, underscores, periods and hyphens; starting with a letter or digit and ending with a letter, digit or underscore",
  },
};

export function validateName(kind: keyof typeof RULES, name: string): void {
  const r = RULES[kind]!;
  if (!r.pattern.test(name)) {
    throw new EmulatorError(
      400,
      kind === "resourceGroup" ? "InvalidResourceGroupName" : "InvalidResourceName",
      `The resource name '${name}' is invalid. It must be ${r.rule}.`,
    );
  }
}
