/** A field of a parsed JSON value, for an error message that names it and says what was found there. */

/** The value at `path` inside `root`, or undefined where the path leaves the value. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** What was found at a field: its JSON, cut short; or that the field is missing. */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  const s = JSON.stringify(value);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
