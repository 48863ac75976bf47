import type { ScopeSeparator } from "$lib/ipc";

/** Splits typed or pasted text into scopes: "a b c", "a,b,c" and "a, b" all give three. */
export function splitScopes(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((scope) => scope.trim())
    .filter((scope) => scope !== "");
}

/** Adds scopes to the list in order, skipping ones already there. */
export function addScopes(existing: string[], added: string[]): string[] {
  const result = [...existing];
  for (const scope of added) if (!result.includes(scope)) result.push(scope);
  return result;
}

/** Moves the scope at `index` by `offset` places (−1 left, +1 right); out of range leaves the list as is. */
export function moveScope(scopes: string[], index: number, offset: number): string[] {
  const target = index + offset;
  if (index < 0 || index >= scopes.length || target < 0 || target >= scopes.length) return scopes;
  const result = [...scopes];
  [result[index], result[target]] = [result[target], result[index]];
  return result;
}

/**
 * The `scope=` query parameter exactly as it will be sent: a space is URL-encoded as %20,
 * a comma stays a comma (some providers require it literally).
 */
export function scopeQueryPreview(scopes: string[], separator: ScopeSeparator): string {
  const joined = scopes.map((scope) => encodeURIComponent(scope)).join(separator === "comma" ? "," : "%20");
  return `scope=${joined}`;
}
