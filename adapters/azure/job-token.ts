// The Azure DevOps job's access token, as the pipeline hands it to the one step that needs it. Kept
// apart from the sign-in code (pipelines.ts), which loads the Azure SDK: the CLI takes the token out
// of its environment at start, before any command's module loads.

/** The variable a pipeline step maps `$(System.AccessToken)` into. */
export const JOB_TOKEN_VARIABLE = "SYSTEM_ACCESSTOKEN";

/**
 * Takes the job's access token out of this process's environment, so that no child process inherits
 * it (the Pulumi CLI and its plugins, hooks), and returns a copy of the environment that still has it,
 * for this process's own sign-in. Without the variable, returns a plain copy.
 */
export function takeJobToken(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const token = env[JOB_TOKEN_VARIABLE];
  const copy = { ...env };
  if (token !== undefined) delete env[JOB_TOKEN_VARIABLE];
  return copy;
}
