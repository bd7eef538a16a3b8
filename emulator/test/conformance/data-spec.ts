import type { CompositeMapper, Mapper, OperationArguments, OperationSpec } from "@azure/core-client";
import { AnonymousCredential, newPipeline, PageBlobClient } from "@azure/storage-blob";

/**
 * The Blob service's specification as `@azure/storage-blob` carries it: the generated operation specs (status
 * codes, the headers each answer may carry with their types, the XML body's mapper) behind every client
 * method. They are internal to the package (its `exports` map hides `generated/`), so, as `spec.ts` does for
 * ARM, `dataSpecOf` calls a public client method with the client's `sendOperationRequest` replaced, and keeps
 * the spec it is handed. The replaced method belongs to the client's `storageClientContext`, the AutoRest
 * `ServiceClient` every operation of a blob client goes through.
 */
class Captured extends Error {
  constructor(readonly spec: OperationSpec) {
    super("captured");
  }
}

/** The spec of the request a page-blob client method sends (the SAS is never used: nothing is sent). */
export async function dataSpecOf(call: (blob: PageBlobClient) => Promise<unknown>): Promise<OperationSpec> {
  const blob = new PageBlobClient(
    "https://127.0.0.1/md-westeurope/abcd/abcd?sv=2018-03-28&sig=x",
    newPipeline(new AnonymousCredential()),
  );
  const context = (blob as unknown as { storageClientContext: { sendOperationRequest: unknown } }).storageClientContext;
  context.sendOperationRequest = (_args: OperationArguments, spec: OperationSpec) => Promise.reject(new Captured(spec));
  try {
    await call(blob);
  } catch (e) {
    if (e instanceof Captured) return e.spec;
    throw e;
  }
  throw new Error("the client method sent no request");
}

/** The `x-ms-version` the client sends: the Blob service version its specs are of. */
export function serviceVersionOf(spec: OperationSpec): string {
  const p = spec.headerParameters?.find((h) => h.mapper.serializedName === "x-ms-version");
  const v = p?.mapper.defaultValue as unknown;
  if (typeof v !== "string") throw new Error(`no x-ms-version in the spec of ${spec.httpMethod} ${spec.path}`);
  return v;
}

/** One way an answer differs from its spec. */
export interface Problem {
  where: string;
  problem: string;
}

/** The properties of a composite mapper, resolving a class name through the spec's models. */
function propsOf(mapper: Mapper, models: Record<string, Mapper>): Record<string, Mapper> {
  const composite = mapper as CompositeMapper;
  return (
    composite.type.modelProperties ??
    (models[composite.type.className ?? ""] as CompositeMapper | undefined)?.type.modelProperties ??
    {}
  );
}

/** Checks one header value against its mapper's type. */
function headerProblem(value: string, mapper: Mapper): string | undefined {
  switch (mapper.type.name) {
    case "Number":
      return /^-?\d+$/.test(value) ? undefined : "is not a number";
    case "Boolean":
      return value === "true" || value === "false" ? undefined : "is not true or false";
    case "DateTimeRfc1123":
      return /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value) &&
        !Number.isNaN(Date.parse(value))
        ? undefined
        : "is not an RFC 1123 date";
    case "ByteArray":
      return /^[A-Za-z0-9+/]*={0,2}$/.test(value) ? undefined : "is not base64";
    case "Enum": {
      const allowed = (mapper.type as { allowedValues: string[] }).allowedValues;
      return allowed.includes(value) ? undefined : `is not one of ${allowed.join(", ")}`;
    }
    default:
      return undefined;
  }
}

/** Options of `checkHeaders`. */
export interface CheckHeadersOptions {
  /** Headers the operation's REST reference says every answer carries (lower case). Default none. */
  returned?: readonly string[];
  /**
   * `x-ms-*` headers the REST reference documents though the spec's mapper does not (an error's request id and
   * version: the generated error headers name only `x-ms-error-code`). Default none.
   */
  documented?: readonly string[];
}

/**
 * Checks an answer's headers against the headers mapper of its status (the spec's `default` for an error):
 * every `x-ms-*` header the emulator sends is one the spec defines, every header the spec defines has its type,
 * and every header in `returned` is there.
 */
export function checkHeaders(
  headers: Record<string, string>,
  mapper: Mapper | undefined,
  models: Record<string, Mapper>,
  options: CheckHeadersOptions = {},
): Problem[] {
  const problems: Problem[] = [];
  const defined = new Map<string, Mapper>();
  for (const prop of Object.values(mapper ? propsOf(mapper, models) : {}))
    defined.set((prop.serializedName ?? "").toLowerCase(), prop);
  for (const [name, value] of Object.entries(headers)) {
    const m = defined.get(name);
    if (!m) {
      if (name.startsWith("x-ms-") && !options.documented?.includes(name))
        problems.push({ where: name, problem: "is not defined by the spec" });
      continue;
    }
    const p = headerProblem(value, m);
    if (p) problems.push({ where: name, problem: `${JSON.stringify(value)} ${p}` });
  }
  for (const name of options.returned ?? [])
    if (!(name in headers)) problems.push({ where: name, problem: "is required but absent" });
  return problems;
}

/** An XML element: its name, its text (when it has no children) and its children in order. */
export interface XmlElement {
  name: string;
  text: string;
  children: XmlElement[];
}

/** Parses the XML the Blob service answers with (elements and text; no attributes, comments or CDATA). */
export function parseXml(xml: string): XmlElement {
  const body = xml.replace(/^\uFEFF?\s*<\?xml[^?]*\?>\s*/, "");
  const root: XmlElement = { name: "#document", text: "", children: [] };
  const stack = [root];
  const token = /<(\/?)([A-Za-z_][\w.-]*)\s*(\/?)>|([^<]+)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = token.exec(body))) {
    if (m.index !== consumed)
      throw new Error(`XML: unexpected text at ${consumed}: ${body.slice(consumed, consumed + 20)}`);
    consumed = token.lastIndex;
    const top = stack.at(-1)!;
    if (m[4] !== undefined) {
      top.text += m[4];
    } else if (m[1]) {
      if (top.name !== m[2]) throw new Error(`XML: </${m[2]}> closes <${top.name}>`);
      stack.pop();
    } else {
      const el: XmlElement = { name: m[2]!, text: "", children: [] };
      top.children.push(el);
      if (!m[3]) stack.push(el);
    }
  }
  if (consumed !== body.length || stack.length !== 1) throw new Error("XML: not well formed");
  if (root.children.length !== 1) throw new Error("XML: not one root element");
  return root.children[0]!;
}

/**
 * Checks an XML body against a mapper as the deserializer reads it: the root element is the mapper's; each child
 * element is a property (by `xmlName`, or `xmlElementName` for an unwrapped list); required properties are
 * there; numbers are integers; nothing else appears. Text values are decoded entities.
 */
export function checkXml(el: XmlElement, mapper: Mapper, models: Record<string, Mapper>, where = ""): Problem[] {
  const problems: Problem[] = [];
  const path = `${where}/${el.name}`;
  const props = Object.values(propsOf(mapper, models));
  const byName = new Map<string, Mapper>();
  for (const p of props) {
    const seq = p.type.name === "Sequence" && !p.xmlIsWrapped;
    byName.set(seq ? (p.xmlElementName ?? p.xmlName ?? "") : (p.xmlName ?? p.serializedName ?? ""), p);
  }
  for (const child of el.children) {
    const p = byName.get(child.name);
    if (!p) {
      problems.push({ where: `${path}/${child.name}`, problem: "is not defined by the spec" });
      continue;
    }
    const m = p.type.name === "Sequence" ? (p.type as { element: Mapper }).element : p;
    if (m.type.name === "Composite") problems.push(...checkXml(child, m, models, path));
    else if (child.children.length) problems.push({ where: `${path}/${child.name}`, problem: "has child elements" });
    else if (m.type.name === "Number" && !/^\d+$/.test(child.text))
      problems.push({ where: `${path}/${child.name}`, problem: `${JSON.stringify(child.text)} is not a number` });
  }
  for (const p of props) {
    const name = p.xmlName ?? p.serializedName ?? "";
    if (p.required && !el.children.some((c) => c.name === name))
      problems.push({ where: `${path}/${name}`, problem: "is required but absent" });
  }
  return problems;
}
