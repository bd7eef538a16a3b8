import type { Ctx } from "../context";
import { EmulatorError } from "../errors";
import type { VmRecord } from "../model";

/**
 * A VM's `etag`, as Compute answers it since api-version 2023-09-01 (azure-rest-api-specs#26368 added `If-Match`
 * and `If-None-Match` to VM PUT and PATCH): a number in quotes that grows by one on every write of the VM's model
 * (`"3"` after two updates; kubernetes-sigs/cloud-provider-azure#9728 quotes a 412 between `"2"` and `"3"`). A VM
 * kept in a state file written before the emulator had etags starts at 1.
 */
export function vmEtag(vm: VmRecord): string {
  return `"${vm.etag ?? 1}"`;
}

/** A write changed the VM's model: a PUT, a PATCH or an attach/detach of data disks. Power actions do not. */
export function bumpVmEtag(vm: VmRecord): void {
  vm.etag = (vm.etag ?? 1) + 1;
}

/** An etag as a header gives it: quotes and a weak `W/` prefix do not count. */
function bare(value: string): string {
  return value
    .trim()
    .replace(/^W\//, "")
    .replace(/^"(.*)"$/, "$1");
}

/**
 * Checks a VM write's `If-Match` (the etag last read, or `*`: the VM must exist) and `If-None-Match` (`*`: the VM
 * must not exist) against the VM as it is now (`undefined`: none yet). A mismatch is 412 `PreconditionFailed` with
 * Compute's message (the CRP form quoted by kubernetes-sigs/cloud-provider-azure, `pkg/azclient/policy/retry`:
 * "Etag provided in if-match header {0} does not match etag {1} of resource."); the other two refusals' wording
 * was not found published and is the emulator's.
 */
export function checkVmPreconditions(ctx: Ctx, vm: VmRecord | undefined, name: string): void {
  const ifMatch = header(ctx, "if-match");
  if (ifMatch !== undefined) {
    if (!vm) {
      throw new EmulatorError(
        412,
        "PreconditionFailed",
        `If-Match header ${ifMatch} was given, but virtual machine '${name}' does not exist.`,
      );
    }
    const wanted = bare(ifMatch);
    if (wanted !== "*" && wanted !== bare(vmEtag(vm))) {
      throw new EmulatorError(
        412,
        "PreconditionFailed",
        `Etag provided in if-match header ${ifMatch} does not match etag ${vmEtag(vm)} of resource.`,
      );
    }
  }
  const ifNoneMatch = header(ctx, "if-none-match");
  if (ifNoneMatch !== undefined && bare(ifNoneMatch) === "*" && vm) {
    throw new EmulatorError(
      412,
      "PreconditionFailed",
      `If-None-Match header * was given, but virtual machine '${name}' already exists (etag ${vmEtag(vm)}).`,
    );
  }
}

function header(ctx: Ctx, name: string): string | undefined {
  const v = ctx.req.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}
