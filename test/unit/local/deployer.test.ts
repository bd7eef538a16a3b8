import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { assertLoopback } from "../../../local/deployer/local-deployer";

describe("the local deployer", () => {
  it("refuses an ARM endpoint that is not on a loopback address", () => {
    for (const endpoint of ["https://management.azure.com", "https://10.0.0.4:8443", "https://127.0.0.1.example.com"]) {
      let thrown: unknown;
      try {
        assertLoopback(endpoint);
      } catch (e) {
        thrown = e;
      }
      expect(isUserError(thrown), endpoint).toBe(true);
      expect((thrown as Error).message).toMatch(/only to the local Azure on a loopback address/);
    }
  });

  it("accepts the local Azure on 127.0.0.0/8, localhost and [::1]", () => {
    for (const endpoint of [
      "https://127.0.0.1:41234",
      "https://127.1.2.3",
      "https://localhost:8443",
      "https://[::1]:9",
    ])
      expect(() => assertLoopback(endpoint), endpoint).not.toThrow();
  });
});
