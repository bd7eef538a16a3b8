import { describe, expect, it } from "vitest";
import { escapeHtml } from "../../../core/html";

describe("escapeHtml", () => {
  it("escapes what would end text or a double-quoted attribute, ampersands first", () => {
    expect(escapeHtml(`<a title="x">&amp; 'y'</a>`)).toBe("&lt;a title=&quot;x&quot;&gt;&amp;amp; 'y'&lt;/a&gt;");
  });
});
