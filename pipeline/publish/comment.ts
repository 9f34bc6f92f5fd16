import { copyFileSync, existsSync, lstatSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FormatError } from '../files/error.ts';
import { readJson } from '../files/json.ts';
import { FIGURE_FILE_KINDS, type FigureFileKind } from '../config/layout.ts';
import { UserError } from '../errors.ts';
import { DIFF_JSON, DIFF_JSON_FORMAT, IMAGE_KINDS, IMAGES, STATUSES, percent, reportImage, type DiffJson, type DiffJsonFigure, type ImageKind, type Status } from './diff.ts';
import { escapeHtml, groupDigits } from './shared.ts';
import { pngHeader } from './png.ts';

/**
 * The pull request's figures comment, from a report folder written by figures:diff (diff.json and
 * images/), for `npm run figures:comment` (commands/figures-comment.ts). In CI that folder is the artifact
 * of a pull request's run, which a fork controls: diff.json is validated strictly (figure names, statuses,
 * only the image names figures:diff writes, each a PNG) and everything shown is escaped.
 *  - stageImages copies the images the comment shows into DIR/P/ (P like pr-12/<head sha>): the layout of
 *    the images branch.
 *  - composeComment gives the Markdown of the comment: a hidden marker line `<!-- figures-diff:<profile> -->`
 *    (how the next push finds the comment to update), then per changed, added or removed figure its images
 *    inline from URL/P/<file>, then the unchanged figures by name; "no figure changed" when nothing changed.
 *    composeNoteComment gives the comment when nothing was compared.
 *  - readPrJson checks <report>/pr.json (written by figures-diff.yml).
 */

/** A flag the comment cannot be made with: a missing or malformed --prefix, --image-base, --note or --profile. */
export class CommentError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'CommentError';
  }
}

/** The names that may reach a comment: figure folder names and profile names, nothing Markdown or HTML could read as syntax. */
const FIGURE_NAME = /^[a-z0-9][a-z0-9-]*$/;
const PROFILE_NAME = /^[a-z][a-z0-9-]*$/;
/** An image larger than this is not a figure: refused rather than pushed to the images branch. */
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Size = z.strictObject({ width: z.number().int().min(1).max(1e6), height: z.number().int().min(1).max(1e6) });

const Figure = z
  .strictObject({
    name: z.string().max(100).regex(FIGURE_NAME, { error: 'expected a figure name (a-z, 0-9, -)' }),
    status: z.enum(STATUSES as [Status, ...Status[]]),
    differingPixels: Count.nullable(),
    comparedPixels: Count.nullable(),
    sizes: z.strictObject({ old: Size.nullable(), new: Size.nullable() }),
    differingFiles: z.array(z.enum(FIGURE_FILE_KINDS as [FigureFileKind, ...FigureFileKind[]])).max(FIGURE_FILE_KINDS.length),
    images: z.strictObject({ old: z.string().nullable(), new: z.string().nullable(), diff: z.string().nullable() }),
  })
  .superRefine((f, ctx) => {
    for (const kind of IMAGE_KINDS) {
      const path = f.images[kind];
      if (path !== null && path !== reportImage(f.name, kind))
        ctx.addIssue({ code: 'custom', path: ['images', kind], message: `expected ${JSON.stringify(reportImage(f.name, kind))} or null` });
    }
    // Which images a status can have: the old build's for a removed figure, the new build's for an added one, none unchanged.
    const allowed: Record<Status, ImageKind[]> = { changed: ['old', 'new', 'diff'], added: ['new'], removed: ['old'], unchanged: [] };
    for (const kind of IMAGE_KINDS) {
      if (f.images[kind] !== null && !allowed[f.status].includes(kind))
        ctx.addIssue({ code: 'custom', path: ['images', kind], message: `a figure ${f.status} has no ${IMAGES[kind]} image` });
    }
    if ((f.differingPixels === null) !== (f.comparedPixels === null) || (f.differingPixels ?? 0) > (f.comparedPixels ?? 0))
      ctx.addIssue({ code: 'custom', path: ['differingPixels'], message: 'expected a count of at most comparedPixels, both or neither null' });
  });

const DiffJsonSchema = z
  .strictObject({
    format: z.literal(DIFF_JSON_FORMAT, { error: `expected format ${DIFF_JSON_FORMAT} (written by this figures:diff)` }),
    profile: z.string().max(100).regex(PROFILE_NAME, { error: 'expected a profile name (a-z, 0-9, -)' }),
    figures: z.array(Figure).max(1000),
  })
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.figures.forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: ['figures', i, 'name'], message: `figure ${f.name} is listed twice` });
      seen.add(f.name);
    });
  });

/** pr.json: which pull request and commits the report is of, and whether they were compared (figures-diff.yml writes it). */
const PR_RESULTS = ['compared', 'base-failed', 'failed'] as const;
const Sha = z.string().regex(/^[0-9a-f]{40}$/, { error: 'expected a commit SHA (40 hex digits)' });
const PrJsonSchema = z.strictObject({
  number: z.number().int().min(1).max(2 ** 31 - 1),
  head: Sha,
  base: Sha,
  result: z.enum(PR_RESULTS),
});
type PrJson = z.infer<typeof PrJsonSchema>;

/** "figures.3.name: expected a figure name (a-z, 0-9, -)" for each of the first issues, joined. */
function issuesText(issues: z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 5).map((i) => `${i.path.length ? i.path.map(String).join('.') : '(top level)'}: ${i.message}`);
  return shown.join('; ') + (issues.length > shown.length ? `; and ${issues.length - shown.length} more` : '');
}

function parseFile<T>(file: string, schema: z.ZodType<T>): T {
  const r = schema.safeParse(readJson(file));
  if (!r.success) throw new FormatError(file, issuesText(r.error.issues));
  return r.data;
}

/** A report image must be a plain PNG file of figure size: never a symlink (it could point anywhere on the runner) or a folder. */
function checkImage(file: string): void {
  if (!existsSync(file)) throw new FormatError(file, 'missing (diff.json lists it)');
  const st = lstatSync(file);
  if (!st.isFile()) throw new FormatError(file, 'not a plain file');
  if (st.size > MAX_IMAGE_BYTES) throw new FormatError(file, `${groupDigits(st.size)} bytes: larger than ${groupDigits(MAX_IMAGE_BYTES)}`);
  pngHeader(file);
}

/** A report folder as figures:comment reads it. */
export interface Report {
  dir: string;
  diff: DiffJson;
}

/** Reads and checks a report folder: diff.json by the schema, and every image it lists. */
export function readReport(dir: string): Report {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new FormatError(dir, 'no such folder (a report of figures:diff)');
  const diff: DiffJson = parseFile(join(dir, DIFF_JSON), DiffJsonSchema);
  for (const f of diff.figures) for (const image of shownImages(f)) checkImage(join(dir, image));
  return { dir, diff };
}

/** Reads and checks <report>/pr.json. */
export function readPrJson(dir: string): PrJson {
  return parseFile(join(dir, 'pr.json'), PrJsonSchema);
}

/** The images of a figure a comment shows, as report-relative paths: old, new, difference, those there are. */
function shownImages(f: DiffJsonFigure): string[] {
  return IMAGE_KINDS.flatMap((k) => (f.images[k] === null ? [] : [f.images[k]]));
}

/** Every image the comment of a report shows. */
const commentImages = (r: Report) => r.diff.figures.flatMap(shownImages);

/** A path prefix on the images branch: segments of letters, digits, '.', '_', '-', none starting with a dot ('..' cannot occur). */
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

export function checkPrefix(prefix: string | undefined): string {
  if (prefix === undefined) throw new CommentError('--prefix is needed (the folder on the images branch, like pr-12/<head sha>)');
  if (!PREFIX.test(prefix) || prefix.length > 200) throw new CommentError(`--prefix ${JSON.stringify(prefix)}: expected folder names of letters, digits, '.', '_' and '-' joined by '/', like pr-12/<head sha>`);
  return prefix;
}

/** The file name an image has on the images branch, in DIR/P/: its name in the report's images/. */
const stagedName = (image: string) => image.slice(image.lastIndexOf('/') + 1);

/** Copies the images the comment shows into dir/prefix/; returns them relative to dir, in the comment's order. */
export function stageImages(r: Report, dir: string, prefix: string): string[] {
  const target = join(dir, checkPrefix(prefix));
  mkdirSync(target, { recursive: true });
  return commentImages(r).map((image) => {
    copyFileSync(join(r.dir, image), join(target, stagedName(image)));
    return `${prefix}/${stagedName(image)}`;
  });
}

/**
 * Text put into Markdown as text, mid-line: one line, and every character that could start Markdown or HTML
 * there (emphasis, code, links, tables, tags, entities, #-references) backslash-escaped. An @mention cannot be
 * escaped so: names (the only strings from the artifact) cannot hold one, and notes come from the workflow.
 */
export const markdownText = (s: string) => s.replace(/\s+/g, ' ').trim().replace(/[\\`*_[\]<>&|~#]/g, (c) => `\\${c}`);

/** A name in a code span; only names the schema let through (no backquote, no line break) get here. */
function code(name: string): string {
  if (!FIGURE_NAME.test(name) && !PROFILE_NAME.test(name)) throw new CommentError(`not a checked name: ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/** The marker that the comment's first line carries, so that each push finds and updates the same comment. */
export function marker(profile: string): string {
  if (!PROFILE_NAME.test(profile)) throw new CommentError(`--profile ${JSON.stringify(profile)}: expected a profile name (a-z, 0-9, -)`);
  return `<!-- figures-diff:${profile} -->`;
}

/** The width an image is shown at in the comment, in pixels: three side by side fit a comment. */
const IMAGE_WIDTH = 260;

interface CommentOptions {
  /** Where the staged images are served: URL + '/' + prefix + '/' + file. */
  imageBase?: string;
  prefix?: string;
  /** A line of its own under the heading, e.g. "the base commit did not build". */
  note?: string;
  /** The run whose artifact holds the full report. */
  runUrl?: string;
}

function checkUrl(option: string, url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CommentError(`${option} ${JSON.stringify(url)}: not a URL`);
  }
  if (u.protocol !== 'https:' || u.search || u.hash || /[\s"'<>()\\`]/.test(url)) throw new CommentError(`${option} ${JSON.stringify(url)}: expected an https:// URL without query, fragment, quotes, brackets or spaces`);
  return url.replace(/\/+$/, '');
}

const counts = (d: DiffJson) => STATUSES.map((s) => `${d.figures.filter((f) => f.status === s).length} ${s}`).join(', ');

/** "1,234 of 1,190,688 pixels differ (0.10%); size changed: 948×314 → 948×330; files that differ: svg, png" */
function changeText(f: DiffJsonFigure): string {
  const parts: string[] = [];
  if (f.status === 'changed') {
    if (f.differingPixels === null) parts.push(`no PNG in the ${f.sizes.old ? 'new' : 'old'} build`);
    else parts.push(f.differingPixels === 0 ? 'the PNGs are pixel-identical' : `${groupDigits(f.differingPixels)} of ${groupDigits(f.comparedPixels!)} pixels differ (${percent(f.differingPixels, f.comparedPixels!)})`);
    const [o, n] = [f.sizes.old, f.sizes.new];
    if (o && n && (o.width !== n.width || o.height !== n.height)) parts.push(`size changed: ${o.width}×${o.height} → ${n.width}×${n.height}`);
    if (f.differingFiles.length) parts.push(`files that differ: ${f.differingFiles.join(', ')}`);
  }
  return markdownText(parts.join('; '));
}

/** An image of a figure, as HTML in a table cell; old and new at their share of the compared width when the size changed, so all three are at one scale. */
function imageCell(f: DiffJsonFigure, kind: ImageKind, url: string): string {
  const [o, n] = [f.sizes.old, f.sizes.new];
  const canvas = Math.max(o?.width ?? 0, n?.width ?? 0);
  const own = kind === 'diff' ? null : f.sizes[kind];
  const width = own && canvas > 0 ? Math.max(1, Math.round((IMAGE_WIDTH * own.width) / canvas)) : IMAGE_WIDTH;
  const src = escapeHtml(url);
  return `<a href="${src}"><img src="${src}" width="${width}" alt="${escapeHtml(`${f.name}: ${IMAGES[kind]}`)}"></a>`;
}

/** The section of one changed, added or removed figure: its name and status, what changed, its images in a table. */
function figureSection(f: DiffJsonFigure, urlOf: (image: string) => string): string[] {
  const text = changeText(f);
  const kinds = IMAGE_KINDS.filter((k) => f.images[k] !== null);
  const lines = [`#### ${code(f.name)} ${f.status}${text ? `: ${text}` : ''}`, ''];
  if (kinds.length === 0) return [...lines, 'no image', ''];
  return [
    ...lines,
    `| ${kinds.map((k) => IMAGES[k]).join(' | ')} |`,
    `|${kinds.map(() => ':---:').join('|')}|`,
    `| ${kinds.map((k) => imageCell(f, k, urlOf(f.images[k]!))).join(' | ')} |`,
    '',
  ];
}

const noteLines = (note: string | undefined) => (note !== undefined && note.trim() !== '' ? [markdownText(note), ''] : []);
const runLines = (runUrl: string | undefined) =>
  runUrl === undefined ? [] : [`The HTML report (full-size images) is the artifact \`figures-diff\` of [the run](${checkUrl('--run-url', runUrl)}).`, ''];

/** The Markdown of the pull request's figures comment for a report. */
export function composeComment(r: Report, o: CommentOptions = {}): string {
  const d = r.diff;
  const shown = d.figures.filter((f) => f.status !== 'unchanged');
  if (shown.length === 0) return [marker(d.profile), 'no figure changed', ...(o.note?.trim() ? ['', ...noteLines(o.note)] : [])].join('\n').replace(/\n*$/, '\n');
  const images = commentImages(r);
  if (images.length > 0 && o.imageBase === undefined) throw new CommentError(`--image-base is needed: the comment shows ${images.length} images`);
  const base = images.length > 0 ? checkUrl('--image-base', o.imageBase!) : '';
  const prefix = images.length > 0 ? checkPrefix(o.prefix).split('/').map(encodeURIComponent).join('/') : '';
  const urlOf = (image: string) => `${base}/${prefix}/${encodeURIComponent(stagedName(image))}`;
  const unchanged = d.figures.filter((f) => f.status === 'unchanged');
  const lines = [
    marker(d.profile),
    `### Figures of profile ${code(d.profile)}: ${counts(d)}`,
    '',
    ...noteLines(o.note),
    ...shown.flatMap((f) => figureSection(f, urlOf)),
    ...(unchanged.length ? [`Unchanged: ${unchanged.map((f) => code(f.name)).join(', ')}`, ''] : []),
    ...runLines(o.runUrl),
  ];
  return lines.join('\n').replace(/\n*$/, '\n');
}

/** The comment when nothing was compared (the base or the pull request did not build): the marker, a heading and the note. */
export function composeNoteComment(profile: string, note: string, runUrl?: string): string {
  if (note.trim() === '') throw new CommentError('--note is needed: without a report the comment is the note');
  return [marker(profile), `### Figures of profile ${code(profile)}: not compared`, '', ...noteLines(note), ...runLines(runUrl)].join('\n').replace(/\n*$/, '\n');
}
