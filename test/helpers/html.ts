import { parse, type DefaultTreeAdapterMap } from "parse5";

type Node = DefaultTreeAdapterMap["node"];
export type Element = DefaultTreeAdapterMap["element"];

/** A report page parsed with parse5: its elements in document order, and every parse error (none is expected). */
export function parseReport(html: string): { all: Element[]; errors: string[] } {
  const errors: string[] = [];
  const doc = parse(html, { onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}`) });
  return { all: elements(doc as unknown as Node), errors };
}

/** Every element under `node` (itself included), templates' content too. */
export function elements(node: Node, out: Element[] = []): Element[] {
  if ("tagName" in node) out.push(node);
  const children = "childNodes" in node ? node.childNodes : [];
  for (const c of children) elements(c, out);
  if ("content" in node && node.content) elements(node.content as Node, out);
  return out;
}

export const attr = (e: Element, name: string) => e.attrs.find((a) => a.name === name)?.value;

export const text = (n: Node): string =>
  "value" in n && n.nodeName === "#text"
    ? (n.value as string)
    : "childNodes" in n
      ? n.childNodes.map(text).join("")
      : "";

export const byId = (all: Element[], id: string) => {
  const e = all.find((x) => attr(x, "id") === id);
  if (!e) throw new Error(`no element #${id} in the report`);
  return e;
};

/** The text of each body cell, row by row. */
export const bodyRows = (table: Element) =>
  elements(table)
    .filter((e) => e.tagName === "tr" && elements(e).some((c) => c.tagName === "td"))
    .map((tr) =>
      elements(tr)
        .filter((c) => c.tagName === "td")
        .map((td) => text(td).trim()),
    );
