import { existsSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { ConfigError, readConfigJson } from '../config/load.ts';
import { figureSources } from '../config/layout.ts';

/**
 * A figure's Vega-Lite spec as the render stage draws it: its spec file with every shared part put in
 * and figure.json's `title` as the title's text. Two directives, JSON objects whose keys start with `$`:
 *
 * - `{"$part": "<name>", "$with": {<param>: <value>, ...}}` is replaced by figures/_shared/<name>.vl.json
 *   (a part: any JSON value, a whole spec or a fragment), its params filled from `$with`, whose values
 *   are resolved where they are written (they may be parts, or params of the part they are written in);
 * - `{"$param": "<param>"}`, in a part only, is replaced by that param's value; with `"optional": true`,
 *   a param given no value drops the key (or array element) that holds it.
 *
 * Everything else is Vega-Lite, copied as it is. Substitution is of whole JSON values, never inside a
 * string. A part may use other parts, not itself. Every param a part uses must be given (unless
 * optional), and every param given must be used. A spec's `title` gives only what the figure adds to
 * figure.json's `title` (its `subtitle`): the text is figure.json's, said once.
 */
const PARTS_DIR = 'figures/_shared';
const partFile = (name: string) => `${PARTS_DIR}/${name}.vl.json`;
const PART_NAME = /^[a-z0-9][a-z0-9-]*$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const DROP = Symbol('dropped optional param');

/** A composed spec, and the shared parts it put in (each once, sorted; paths relative to the workspace). */
interface ComposedSpec {
  spec: Record<string, unknown>;
  parts: string[];
}

/** Where a value is being read: the file, the path inside it, and the include chain that led there. */
interface Place {
  file: string;
  path: (string | number)[];
  /** Where this file was put in from, innermost first, for the messages ("figures/x/spec.vl.json: vconcat.0"). */
  via: string[];
  /** The files being read, outermost first: a part that uses itself is an error. */
  stack: string[];
  /** The params of this part (undefined in a spec file itself), and those used so far. */
  params?: Record<string, Json>;
  used?: Set<string>;
  parts: string[];
  root: string;
}

function fail(at: Place, key: string | number | undefined, message: string): never {
  const path = [...at.path, ...(key === undefined ? [] : [key])].join('.') || '(top level)';
  const via = at.via.map((v) => `\n  in the part used at ${v}`).join('');
  throw new ConfigError(`${at.file}: ${path}: ${message}${via}`);
}

function availableParts(root: string): string {
  const dir = posix.join(root, PARTS_DIR);
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.vl.json')).map((f) => f.slice(0, -'.vl.json'.length)).sort() : [];
  return names.length ? names.join(', ') : `none: ${PARTS_DIR}/ has no .vl.json file`;
}

function resolve(value: Json, at: Place): Json | typeof DROP {
  if (Array.isArray(value)) {
    const out: Json[] = [];
    for (const [i, v] of value.entries()) {
      const r = resolve(v, { ...at, path: [...at.path, i] });
      if (r !== DROP) out.push(r);
    }
    return out;
  }
  if (!isObject(value)) return value;
  if ('$param' in value) return param(value, at);
  if ('$part' in value) return part(value, at);
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$') && k !== '$schema') fail(at, k, `unknown directive "${k}" (the directives: $part with $with, and $param in a part)`);
    const r = resolve(v, { ...at, path: [...at.path, k] });
    if (r !== DROP) out[k] = r;
  }
  return out;
}

function param(value: Record<string, Json>, at: Place): Json | typeof DROP {
  const name = value.$param;
  const extra = Object.keys(value).filter((k) => k !== '$param' && k !== 'optional');
  if (extra.length) fail(at, extra[0], `a {"$param": ...} holds only "$param" and "optional"`);
  if (typeof name !== 'string') fail(at, '$param', 'expected the name of a param (a string)');
  if ('optional' in value && typeof value.optional !== 'boolean') fail(at, 'optional', 'expected true or false');
  if (!at.params) fail(at, '$param', `"${name}" is a param, and only a part (${PARTS_DIR}/<name>.vl.json) has params`);
  at.used!.add(name);
  if (name in at.params) return at.params[name];
  if (value.optional === true) return DROP;
  fail(at, '$param', `no value for param "${name}": give it in the $with of the $part that uses this part`);
}

function part(value: Record<string, Json>, at: Place): Json {
  const name = value.$part;
  const extra = Object.keys(value).filter((k) => k !== '$part' && k !== '$with');
  if (extra.length) fail(at, extra[0], `a {"$part": ...} holds only "$part" and "$with" (put the part's variations in its params)`);
  if (typeof name !== 'string' || !PART_NAME.test(name)) fail(at, '$part', `expected the name of a part in ${PARTS_DIR}/ (lower case, digits and -), got ${JSON.stringify(name)}`);
  const file = partFile(name);
  if (!existsSync(posix.join(at.root, file))) fail(at, '$part', `no part "${name}": ${file} does not exist (the parts: ${availableParts(at.root)})`);
  const withValue = value.$with ?? {};
  if (!isObject(withValue)) fail(at, '$with', 'expected an object of param values');
  const here = [...at.path].join('.') || '(top level)';
  const chain = [`${at.file}: ${here}`, ...at.via];
  if (at.stack.includes(file)) fail(at, '$part', `part "${name}" uses itself (${[...at.stack, file].join(' -> ')})`);
  // The values are resolved where they are written (in this file, with this file's params).
  const params: Record<string, Json> = {};
  for (const [k, v] of Object.entries(withValue)) {
    const r = resolve(v, { ...at, path: [...at.path, '$with', k] });
    if (r !== DROP) params[k] = r;
  }
  if (!at.parts.includes(file)) at.parts.push(file);
  const used = new Set<string>();
  const body = readConfigJson(posix.join(at.root, file), file) as Json;
  const out = resolve(body, { file, path: [], via: chain, stack: [...at.stack, file], params, used, parts: at.parts, root: at.root });
  if (out === DROP) fail(at, '$part', `part "${name}" is nothing but an optional param`);
  const unused = Object.keys(withValue).filter((k) => !used.has(k));
  if (unused.length) fail(at, '$with', `part "${name}" has no param ${unused.map((u) => `"${u}"`).join(', ')} (its params: ${[...used].sort().join(', ') || 'none'})`);
  return out;
}

/** A spec file (relative to `root`) with its shared parts put in. */
export function composeSpec(file: string, root = '.'): ComposedSpec {
  const raw = readConfigJson(posix.join(root, file), file);
  if (!isObject(raw)) throw new ConfigError(`${file}: expected a Vega-Lite spec (a JSON object)`);
  const parts: string[] = [];
  const spec = resolve(raw, { file, path: [], via: [], stack: [file], parts, root }) as Record<string, unknown>;
  if (!isObject(spec)) throw new ConfigError(`${file}: expected a Vega-Lite spec (a JSON object)`);
  return { spec, parts: parts.sort() };
}

/** figures/<name>/spec.vl.json composed, its title's text figure.json's `title`. */
export function figureSpec(name: string, figure: { title: string }, root = '.'): ComposedSpec & { file: string } {
  const { spec: file, figure: figureFile } = figureSources(name);
  const composed = composeSpec(file, root);
  const title = composed.spec.title;
  if (title !== undefined && !isObject(title))
    throw new ConfigError(`${file}: title: expected {"subtitle": ...}: the title's text is said once, in ${figureFile} ("title")`);
  if (isObject(title) && 'text' in title)
    throw new ConfigError(`${file}: title.text: the title is said once, in ${figureFile} ("title"); remove it here`);
  return { file, parts: composed.parts, spec: { ...composed.spec, title: { text: figure.title, ...title } } };
}

/** The slider's frame spec (figure.json `frames.spec`, in the figure's folder) composed; it has no title of its own. */
export function frameSpec(name: string, frames: { spec: string }, root = '.'): ComposedSpec & { file: string } {
  const file = posix.join(figureSources(name).dir, frames.spec);
  return { file, ...composeSpec(file, root) };
}

/** The shared parts a figure's specs draw on (its spec and its frame spec), sorted: what its render reads beside its own folder. */
export function figureParts(name: string, figure: { title: string; frames?: { spec: string } }, root = '.'): string[] {
  const parts = new Set(figureSpec(name, figure, root).parts);
  if (figure.frames) for (const p of frameSpec(name, figure.frames, root).parts) parts.add(p);
  return [...parts].sort();
}
