import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "selfsigned";

export interface TlsMaterial {
  /** The CA certificate clients trust (`NODE_EXTRA_CA_CERTS` or an injected agent). */
  caCertPath: string;
  caCertPem: string;
  cert: string;
  key: string;
}

/**
 * A private CA and a server certificate for 127.0.0.1 and localhost, kept in `<data>/tls` so that
 * clients that trusted the CA keep trusting the emulator across restarts.
 */
export async function loadOrCreateTls(dataDir: string): Promise<TlsMaterial> {
  const dir = join(dataDir, "tls");
  const caCertPath = join(dir, "ca.pem");
  const certPath = join(dir, "server.pem");
  const keyPath = join(dir, "server-key.pem");
  if (existsSync(caCertPath) && existsSync(certPath) && existsSync(keyPath)) {
    return {
      caCertPath,
      caCertPem: readFileSync(caCertPath, "utf8"),
      cert: readFileSync(certPath, "utf8"),
      key: readFileSync(keyPath, "utf8"),
    };
  }
  mkdirSync(dir, { recursive: true });
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 5 * 365 * 86_400_000);
  const ca = await generate([{ name: "commonName", value: "ferry emulator CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: "commonName", value: "127.0.0.1" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  writeFileSync(caCertPath, ca.cert);
  writeFileSync(certPath, server.cert);
  writeFileSync(keyPath, server.private, { mode: 0o600 });
  return { caCertPath, caCertPem: ca.cert, cert: server.cert, key: server.private };
}
