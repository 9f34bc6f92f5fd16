import type { z } from 'zod';
import { FormatError } from '../files/error.ts';
import { readJson } from '../files/json.ts';
import { describeFound, valueAt } from '../files/field.ts';

/**
 * Reading a file the pipeline wrote as what its contract says it is. A mismatch is a FormatError naming
 * the file and, for each problem (the first five), the field's path, what was expected and what was
 * found, as the config loader says it (config/load.ts):
 *
 *   data/post/runs/T5-m2-s0/geometry/summary.json: testLoss: expected a number, found "x"
 *
 * A problem with the whole value has no path: `features.json: expected a list of rows, found {...}`.
 */



/** zod's names of types, as the messages say them. */
const TYPE_NAMES: Record<string, string> = {
  number: 'a number', int: 'an integer', string: 'a string', boolean: 'true or false', array: 'a list', object: 'an object', null: 'null',
};

/** An issue's message: a schema's own (`{ error: 'expected ...' }`) as written, zod's defaults said the same way. */
function message(issue: z.core.$ZodIssue): string {
  if (!issue.message.startsWith('Invalid input')) return issue.message.replace(/^(Too small|Too big|Invalid string|Invalid option): /, '');
  if (issue.code === 'invalid_type') return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
  if (issue.code === 'invalid_value') return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
  return issue.message.replace(/^Invalid input: /, '').replace(/^Invalid input$/, 'expected another value');
}

/** One line per issue (the first five): `path: expected ..., found ...`, `path.k: unknown field "k"`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], value: unknown, prefix: readonly (string | number)[] = []): string {
  const place = (path: readonly PropertyKey[]) => [...prefix, ...path].map(String).join('.');
  const lines = issues.slice(0, 5).flatMap((i) => {
    const path = i.path as PropertyKey[];
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${place([...path, k])}: unknown field "${k}"`);
    const where = place(path);
    const said = message(i);
    // A schema's own message may say what it found; else what is there is added.
    return [`${where ? `${where}: ` : ''}${said}${said.includes(', found ') ? '' : `, found ${describeFound(valueAt(value, path))}`}`];
  });
  return lines.join('; ') + (issues.length > 5 ? `; and ${issues.length - 5} more` : '');
}

/**
 * `value`, read from `file`, as `schema` says it is; `prefix` is where the value sits in the file
 * (['meta'] for a container header's meta). Throws a FormatError naming the file and the fields.
 */
export function parseContract<S extends z.ZodType>(file: string, schema: S, value: unknown, prefix: readonly (string | number)[] = []): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new FormatError(file, describeIssues(r.error.issues, value, prefix));
  return r.data;
}

/** Reads a JSON file the pipeline wrote (through the one JSON reader, files/json.ts) as its contract says it is. */
export function readContract<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  return parseContract(file, schema, readJson(file));
}
