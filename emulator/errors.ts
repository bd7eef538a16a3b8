/**
 * An error the emulator answers with, shaped as Azure answers: an HTTP status and
 * `{"error":{"code","message"}}` on ARM, `<Error><Code>…` with `x-ms-error-code` on the data plane.
 */
export class EmulatorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "EmulatorError";
  }
}

export const badRequest = (code: string, message: string) => new EmulatorError(400, code, message);
export const invalidParameter = (message: string) => new EmulatorError(400, "InvalidParameter", message);
export const conflict = (code: string, message: string) => new EmulatorError(409, code, message);
export const notAllowed = (message: string) => new EmulatorError(409, "OperationNotAllowed", message);

export function resourceNotFound(type: string, name: string, resourceGroup: string): EmulatorError {
  return new EmulatorError(
    404,
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function resourceGroupNotFound(resourceGroup: string): EmulatorError {
  return new EmulatorError(404, "ResourceGroupNotFound", `Resource group '${resourceGroup}' could not be found.`);
}
