/**
 * Escapes text for HTML and XML: element content and double-quoted attribute values (the drill
 * report, the precheck's JUnit file). Single-quoted attributes are not used, so `'` stays as it is.
 */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
