import { request as httpsRequest, type Agent } from "node:https";
import type { Mapper, OperationSpec } from "@azure/core-client";
import { expect } from "vitest";
import { checkBody, type Problem } from "./spec";

/** One raw HTTP exchange with the emulator, as a client would see it on the wire. */
export interface Exchange {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body as JSON, or undefined when empty. */
  body: unknown;
}

/** Options of `send`. */
export interface SendOptions {
  /** The `api-version` query parameter; omitted when undefined. */
  apiVersion?: string;
  /** A JSON body. Default none. */
  body?: unknown;
}

/** Sends one ARM request (any bearer token) and reads the whole answer. */
export function send(agent: Agent, method: string, url: string, options: SendOptions = {}): Promise<Exchange> {
  const target = new URL(url);
  if (options.apiVersion !== undefined) target.searchParams.set("api-version", options.apiVersion);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      target,
      {
        method,
        agent,
        headers: {
          authorization: "Bearer conformance",
          ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => {
          const text = Buffer.concat(parts).toString("utf8");
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
          resolve({
            status: res.statusCode ?? 0,
            headers,
            text,
            body: text ? (JSON.parse(text) as unknown) : undefined,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** What a documented status carries: the operation's schema, or nothing. */
type Carries = "body" | "empty";
const PUT: Record<number, Carries> = { 200: "body", 201: "body" };
const DELETE: Record<number, Carries> = { 200: "empty", 202: "empty", 204: "empty" };
const ACTION: Record<number, Carries> = { 200: "empty", 202: "empty" };

/**
 * The responses each long-running operation's specification documents. The SDK's operation specs list
 * 200, 201, 202 and 204, each with the resource's schema, for every long-running operation (AutoRest
 * adds them for its poller), so these come from the `responses` of the operations in
 * azure-rest-api-specs (DiskRP 2025-01-02, ComputeRP 2025-04-01, Network 2025-05-01, Resources
 * 2025-04-01). Other operations use the SDK spec's codes and schemas as they are.
 */
const LRO_DOCUMENTED: Record<string, Record<number, Carries>> = {
  Disks_CreateOrUpdate: { 200: "body", 202: "body" },
  Disks_Update: { 200: "body", 202: "body" },
  Disks_Delete: DELETE,
  Disks_GrantAccess: { 200: "body", 202: "empty" },
  Disks_RevokeAccess: ACTION,
  Snapshots_CreateOrUpdate: { 200: "body", 202: "body" },
  Snapshots_Update: { 200: "body", 202: "body" },
  Snapshots_Delete: DELETE,
  Snapshots_GrantAccess: { 200: "body", 202: "empty" },
  Snapshots_RevokeAccess: ACTION,
  VirtualMachines_CreateOrUpdate: PUT,
  VirtualMachines_Update: PUT,
  VirtualMachines_Delete: DELETE,
  VirtualMachines_Start: ACTION,
  VirtualMachines_PowerOff: ACTION,
  VirtualMachines_Deallocate: ACTION,
  VirtualMachines_Restart: ACTION,
  // ComputeRP 2024-03-01 and later: 200 with the StorageProfile, 202 with Location (final-state-via location).
  VirtualMachines_AttachDetachDataDisks: { 200: "body", 202: "empty" },
  VirtualNetworks_CreateOrUpdate: PUT,
  VirtualNetworks_Delete: DELETE,
  Subnets_CreateOrUpdate: PUT,
  Subnets_Delete: DELETE,
  NetworkSecurityGroups_CreateOrUpdate: PUT,
  NetworkSecurityGroups_Delete: DELETE,
  NetworkInterfaces_CreateOrUpdate: PUT,
  NetworkInterfaces_Delete: DELETE,
  ResourceGroups_Delete: { 200: "empty", 202: "empty" },
  // Private DNS 2020-06-01 (privatedns.json): a zone's or link's 202 carries no body.
  PrivateZones_CreateOrUpdate: { 200: "body", 201: "body", 202: "empty" },
  PrivateZones_Update: { 200: "body", 202: "empty" },
  PrivateZones_Delete: DELETE,
  VirtualNetworkLinks_CreateOrUpdate: { 200: "body", 201: "body", 202: "empty" },
  VirtualNetworkLinks_Delete: DELETE,
};

/** The codes the specification documents for an operation's success. */
export function documentedStatuses(operationId: string, spec: OperationSpec): number[] {
  const sdk = Object.keys(spec.responses)
    .filter((k) => k !== "default")
    .map(Number);
  const lro = LRO_DOCUMENTED[operationId];
  return lro ? sdk.filter((s) => s in lro) : sdk;
}

/** The schema of the body a documented status carries, or undefined when it carries none. */
export function documentedBody(operationId: string, spec: OperationSpec, status: number): Mapper | undefined {
  if (LRO_DOCUMENTED[operationId]?.[status] === "empty") return undefined;
  return spec.responses[status]?.bodyMapper;
}

/** Options of `expectConforms`. */
export interface ConformsOptions {
  /** Known extensions: JSON paths the emulator sends that the schema does not define. Default none. */
  extensions?: readonly string[];
  /**
   * JSON paths of read-only properties the specification's examples always show and clients read
   * (`$.properties.provisioningState`); the schema cannot require them, as clients never send them.
   */
  returned?: readonly string[];
}

/** Asserts that an answer is one the operation's specification documents, with a body of its schema. */
export function expectConforms(operationId: string, spec: OperationSpec, ex: Exchange, options: ConformsOptions = {}) {
  expect(documentedStatuses(operationId, spec), `${operationId} answered ${ex.status}: ${ex.text}`).toContain(
    ex.status,
  );
  const mapper = documentedBody(operationId, spec, ex.status);
  if (!mapper) {
    expect(ex.text, `${operationId} ${ex.status} has no body in its specification`).toBe("");
    return;
  }
  expectSchema(ex.body, mapper, spec, options.extensions);
  for (const path of options.returned ?? []) expect(at(ex.body, path), `${operationId}: ${path}`).toBeDefined();
}

/** Asserts that a body has no problem against a schema of the spec's models. */
export function expectSchema(body: unknown, mapper: Mapper, spec: OperationSpec, extensions?: readonly string[]) {
  const problems: Problem[] = checkBody(body, mapper, spec.serializer.modelMappers, { extensions });
  expect(problems).toEqual([]);
}

/** The value at a JSON path like `$.properties.provisioningState`. */
export function at(body: unknown, path: string): unknown {
  let v: unknown = body;
  for (const key of path.replace(/^\$\.?/, "").split(".")) {
    if (!key) continue;
    v = v && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

/**
 * The status of an asynchronous operation (`Azure-AsyncOperation`), as ARM's common types define it
 * (`OperationStatusResult`); Compute adds `properties.output` for an action's result.
 */
export const OPERATION_STATUS: Mapper = {
  serializedName: "OperationStatus",
  type: {
    name: "Composite",
    className: "OperationStatus",
    modelProperties: {
      id: { serializedName: "id", type: { name: "String" } },
      name: { serializedName: "name", type: { name: "String" } },
      status: { serializedName: "status", required: true, type: { name: "String" } },
      percentComplete: { serializedName: "percentComplete", type: { name: "Number" } },
      startTime: { serializedName: "startTime", type: { name: "DateTime" } },
      endTime: { serializedName: "endTime", type: { name: "DateTime" } },
      properties: { serializedName: "properties", type: { name: "Dictionary", value: { type: { name: "Object" } } } },
      error: {
        serializedName: "error",
        type: {
          name: "Composite",
          className: "OperationStatusError",
          modelProperties: {
            code: { serializedName: "code", required: true, type: { name: "String" } },
            message: { serializedName: "message", required: true, type: { name: "String" } },
          },
        },
      },
    },
  },
};
