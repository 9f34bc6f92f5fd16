import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';
import { FormatError } from '../files/error.ts';
import { writeJsonAtomic } from '../files/json.ts';
import { readContract } from '../contracts/read.ts';
import { ProvenanceProfile } from '../contracts/provenance.ts';
import { ManifestProfile } from '../contracts/manifest.ts';
import { escapeHtml, groupDigits, href } from './shared.ts';
import { pngSize } from './png.ts';
import { FIGURE_FILE_KINDS, FIGURE_FILES, type FigureFileKind } from '../config/layout.ts';
import { UserError } from '../errors.ts';

/**
 * Compares two builds of one profile (folders such as dist/post), for `npm run figures:diff`
 * (commands/figures-diff.ts): every figure, by name, is unchanged (each of its files byte-identical),
 * changed, added or removed. For a changed figure it decodes both PNGs and draws their difference with
 * pixelmatch (threshold 0: any pixel whose colour differs counts; images of different sizes are compared
 * on the larger canvas padded with white). The comparison is told as a self-contained HTML report
 * (old | new | difference, the images copied in), the same as data in diff.json (what figures:comment
 * reads), a Markdown summary for a GitHub job summary, and a short text summary.
 */

/** Two builds that cannot be compared (a folder missing or holding no figures, two profiles), or a report folder in the way. */
export class DiffError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'DiffError';
  }
}

export type Status = 'changed' | 'added' | 'removed' | 'unchanged';
/** The order in which the report lists the figures: what needs a look first. */
export const STATUSES: readonly Status[] = ['changed', 'added', 'removed', 'unchanged'];

type FigureFiles = Partial<Record<FigureFileKind, string>>;

/** A built profile folder: its profile and its figures' files, by figure name. */
interface Build {
  dir: string; // as given
  profile: string;
  figures: Map<string, FigureFiles>;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What to run to get a build into `dir`: `npm run build -- <profile>` when it is dist/<profile>. */
function buildHint(dir: string): string {
  const abs = resolve(dir);
  const profile = basename(dirname(abs)) === 'dist' ? basename(abs) : '<profile>';
  return `run \`npm run build -- ${profile}\` first`;
}

/** The profile a build's manifest.json or a figure's provenance names (a build of another commit may hold more). */
const profileOf = (file: string, contract: typeof ManifestProfile | typeof ProvenanceProfile) => readContract(file, contract).profile;

/** Reads a built profile folder: the figures (from <name>.svg, .png, .provenance.json) and the profile. */
function readBuild(dir: string): Build {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DiffError(`${dir}: no such folder; ${buildHint(dir)}`);
  const figures = new Map<string, FigureFiles>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    for (const kind of FIGURE_FILE_KINDS) {
      const suffix = FIGURE_FILES[kind];
      if (!entry.name.endsWith(suffix) || entry.name.length === suffix.length) continue;
      const name = entry.name.slice(0, -suffix.length);
      figures.set(name, { ...figures.get(name), [kind]: join(dir, entry.name) });
    }
  }
  const provenance = [...figures.values()].flatMap((f) => (f.provenance ? [f.provenance] : [])).sort(byName);
  if (provenance.length === 0) throw new DiffError(`${dir}: no figures here (no *.provenance.json); ${buildHint(dir)}`);
  const manifest = join(dir, 'manifest.json');
  let profile: string;
  if (existsSync(manifest)) profile = profileOf(manifest, ManifestProfile);
  else {
    const profiles = [...new Set(provenance.map((f) => profileOf(f, ProvenanceProfile)))].sort(byName);
    if (profiles.length > 1) throw new DiffError(`${dir}: holds figures of several profiles (${profiles.join(', ')}); a build is one profile`);
    profile = profiles[0];
  }
  return { dir, profile, figures: new Map([...figures].sort(([a], [b]) => byName(a, b))) };
}

export interface Size {
  width: number;
  height: number;
}

interface PixelDiff {
  old: Size;
  new: Size;
  /** The canvas compared: the larger width and height of the two. */
  canvas: Size;
  /** Pixels of the canvas whose colour differs. */
  differing: number;
  /** The difference image, as PNG bytes. */
  png: Buffer;
}

/** pixelmatch's settings: any colour change counts (threshold 0, anti-aliasing included); green where the new pixel is darker, red where it is lighter (or only its hue changed). */
const PIXELMATCH: Parameters<typeof pixelmatch>[5] = { threshold: 0, includeAA: true, alpha: 0.1, diffColor: [220, 0, 0], diffColorAlt: [0, 160, 0] };

function decodePng(file: string): PNG {
  try {
    return PNG.sync.read(readFileSync(file));
  } catch (e) {
    throw new FormatError(file, `not a readable PNG (${(e as Error).message})`);
  }
}

/** The image's RGBA pixels on a larger canvas, padded with opaque white on the right and at the bottom. */
function padded(img: PNG, canvas: Size): Uint8Array {
  if (img.width === canvas.width && img.height === canvas.height) return img.data;
  const out = new Uint8Array(canvas.width * canvas.height * 4).fill(255);
  for (let y = 0; y < img.height; y++) out.set(img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4), y * canvas.width * 4);
  return out;
}

/** The pixel difference of two PNG files. */
function diffPngs(oldFile: string, newFile: string): PixelDiff {
  const [a, b] = [decodePng(oldFile), decodePng(newFile)];
  const canvas = { width: Math.max(a.width, b.width), height: Math.max(a.height, b.height) };
  const out = new PNG(canvas);
  const differing = pixelmatch(padded(a, canvas), padded(b, canvas), out.data, canvas.width, canvas.height, PIXELMATCH);
  return { old: { width: a.width, height: a.height }, new: { width: b.width, height: b.height }, canvas, differing, png: PNG.sync.write(out) };
}

interface FigureDiff {
  name: string;
  status: Status;
  old: FigureFiles;
  new: FigureFiles;
  /** Changed: the kinds of file that differ (or exist on one side only). */
  differ: FigureFileKind[];
  /** Changed with a PNG on both sides: the pixel difference. */
  pixels: PixelDiff | null;
}

interface FiguresDiff {
  old: Build;
  new: Build;
  profile: string;
  /** Every figure of either build, in the order of STATUSES, then by name. */
  figures: FigureDiff[];
}

const sameBytes = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && readFileSync(a).equals(readFileSync(b));

/** Compares two builds of one profile. Throws a DiffError naming the folder (or both profiles). */
export function diffBuilds(oldDir: string, newDir: string): FiguresDiff {
  const [a, b] = [readBuild(oldDir), readBuild(newDir)];
  if (a.profile !== b.profile)
    throw new DiffError(`${a.dir} is a build of profile ${a.profile} but ${b.dir} is a build of profile ${b.profile}; compare two builds of the same profile`);
  const names = [...new Set([...a.figures.keys(), ...b.figures.keys()])].sort(byName);
  const figures = names.map((name): FigureDiff => {
    const [o, n] = [a.figures.get(name), b.figures.get(name)];
    if (!o || !n) return { name, status: o ? 'removed' : 'added', old: o ?? {}, new: n ?? {}, differ: [], pixels: null };
    const differ = FIGURE_FILE_KINDS.filter((k) => (o[k] !== undefined || n[k] !== undefined) && !sameBytes(o[k], n[k]));
    if (differ.length === 0) return { name, status: 'unchanged', old: o, new: n, differ, pixels: null };
    return { name, status: 'changed', old: o, new: n, differ, pixels: o.png && n.png ? diffPngs(o.png, n.png) : null };
  });
  figures.sort((x, y) => STATUSES.indexOf(x.status) - STATUSES.indexOf(y.status) || byName(x.name, y.name));
  return { old: a, new: b, profile: a.profile, figures };
}

const countStatuses = (d: FiguresDiff) =>
  Object.fromEntries(STATUSES.map((s) => [s, d.figures.filter((f) => f.status === s).length])) as Record<Status, number>;

export const anyChange = (d: FiguresDiff) => d.figures.some((f) => f.status !== 'unchanged');

const countsLine = (d: FiguresDiff) => {
  const c = countStatuses(d);
  return STATUSES.map((s) => `${c[s]} ${s}`).join(', ');
};

export function percent(part: number, whole: number): string {
  if (part === 0) return '0%';
  const p = (100 * part) / whole;
  return p < 0.01 ? '<0.01%' : `${p.toFixed(2)}%`;
}

const sizeText = (s: Size) => `${s.width}×${s.height}`;
const sizeChanged = (p: PixelDiff) => p.old.width !== p.new.width || p.old.height !== p.new.height;

/** "1,234 of 1,190,688 pixels differ (0.10%); size changed: 948×314 -> 948×330", or why there is no count. */
function pixelText(f: FigureDiff): string {
  if (f.status !== 'changed') return '';
  if (!f.pixels) return `no PNG in the ${f.old.png ? 'new' : 'old'} build`;
  const p = f.pixels;
  const total = p.canvas.width * p.canvas.height;
  const count = p.differing === 0 ? 'the PNGs are pixel-identical' : `${groupDigits(p.differing)} of ${groupDigits(total)} pixels differ (${percent(p.differing, total)})`;
  return count + (sizeChanged(p) ? `; size changed: ${sizeText(p.old)} -> ${sizeText(p.new)}` : '');
}

/** What changed in a figure, in one line: its pixels, then its files. */
const details = (f: FigureDiff) => [pixelText(f), f.differ.length ? `files that differ: ${f.differ.join(', ')}` : ''].filter(Boolean).join('; ');

/** The short summary printed on stdout. */
export function textSummary(d: FiguresDiff, reportIndex: string | null): string {
  if (!anyChange(d)) return 'no figure changed\n';
  const lines = d.figures
    .filter((f) => f.status !== 'unchanged')
    .map((f) => `${f.status.padEnd(8)} ${f.name}${details(f) ? `: ${details(f)}` : ''}`);
  lines.push(`profile ${d.profile}: ${countsLine(d)}`);
  if (reportIndex) lines.push(`report: ${reportIndex}`);
  return lines.join('\n') + '\n';
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

/** Where a reader of the job summary finds the images: the run's artifact (figures-diff.yml uploads the report as it), and the pull request's comment. */
const IMAGES_WHERE = 'Old, new and difference images side by side: the HTML report (`index.html`) in the artifact `figures-diff` of this run, and the figures comment on the pull request.';

/** The Markdown summary for a GitHub job summary. It names no path: the runner's files are gone when someone reads it. */
export function markdownSummary(d: FiguresDiff): string {
  const lines = [
    `### Figures of profile \`${d.profile}\`: ${anyChange(d) ? countsLine(d) : 'no figure changed'}`,
    '',
    `\`${mdCell(d.old.dir)}\` → \`${mdCell(d.new.dir)}\``,
    '',
    '| figure | status | differing pixels | files that differ |',
    '|---|---|---:|---|',
    ...d.figures.map((f) => {
      const pixels = f.pixels ? `${groupDigits(f.pixels.differing)}${sizeChanged(f.pixels) ? ' (size changed)' : ''}` : '';
      return `| ${mdCell(f.name)} | ${f.status} | ${pixels} | ${f.differ.join(', ')} |`;
    }),
  ];
  if (anyChange(d)) lines.push('', IMAGES_WHERE);
  return lines.join('\n') + '\n';
}

/** The report's images of a figure, under images/ in the report folder. */
export const IMAGES = { old: 'old', new: 'new', diff: 'difference' } as const;
export type ImageKind = keyof typeof IMAGES;
export const IMAGE_KINDS = Object.keys(IMAGES) as ImageKind[];
const imageFile = (name: string, kind: ImageKind) => `${name}.${kind}.png`;
/** An image's path relative to the report folder, as diff.json gives it. */
export const reportImage = (name: string, kind: ImageKind) => `images/${imageFile(name, kind)}`;

/** The report as data, for programs (figures:comment): DIR/diff.json. */
export const DIFF_JSON = 'diff.json';
/** diff.json's format; a reader refuses another. */
export const DIFF_JSON_FORMAT = 1;

export interface DiffJsonFigure {
  name: string;
  status: Status;
  /** A changed figure with a PNG on both sides: pixels of the compared canvas whose colour differs, and the canvas's pixels; else null. */
  differingPixels: number | null;
  comparedPixels: number | null;
  /** Each build's PNG size; null where that build has no PNG of the figure. */
  sizes: { old: Size | null; new: Size | null };
  /** A changed figure: the kinds of file that differ. */
  differingFiles: FigureFileKind[];
  /** The report's images of the figure, relative to the report folder (images/<name>.<kind>.png); null where there is none. */
  images: Record<ImageKind, string | null>;
}

export interface DiffJson {
  format: typeof DIFF_JSON_FORMAT;
  profile: string;
  /** In the report's order (STATUSES, then by name). */
  figures: DiffJsonFigure[];
}

/** One figure of diff.json; `saved` are the images the report holds of it. */
function diffJsonFigure(f: FigureDiff, saved: ImageKind[]): DiffJsonFigure {
  const size = (side: 'old' | 'new') => f.pixels?.[side] ?? (f[side].png ? pngSize(f[side].png) : null);
  const image = (kind: ImageKind) => (saved.includes(kind) ? reportImage(f.name, kind) : null);
  return {
    name: f.name,
    status: f.status,
    differingPixels: f.pixels?.differing ?? null,
    comparedPixels: f.pixels ? f.pixels.canvas.width * f.pixels.canvas.height : null,
    sizes: { old: size('old'), new: size('new') },
    differingFiles: f.differ,
    images: { old: image('old'), new: image('new'), diff: image('diff') },
  };
}

/** diff.json of a report whose images are `saved` (by figure name). */
export function diffJson(d: FiguresDiff, saved: Map<string, ImageKind[]>): DiffJson {
  return { format: DIFF_JSON_FORMAT, profile: d.profile, figures: d.figures.map((f) => diffJsonFigure(f, saved.get(f.name) ?? [])) };
}

const MARK = '<meta name="generator" content="figures-diff">';

/** Empties `out` for a new report: it must be missing, empty, or an earlier report (never another folder). */
function prepareOut(out: string): void {
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new DiffError(`${out}: exists and is not a folder; give another --out`);
    const index = join(out, 'index.html');
    const earlier = existsSync(index) && readFileSync(index, 'utf8').includes(MARK);
    if (!earlier && readdirSync(out).length > 0) throw new DiffError(`${out}: exists and is not a figures-diff report; give another --out`);
    rmSync(out, { recursive: true, force: true });
  }
  mkdirSync(join(out, 'images'), { recursive: true });
}

const STYLE = `
body { font: 15px/1.45 "DejaVu Sans", system-ui, sans-serif; color: #222; margin: 1.5rem; }
table { border-collapse: collapse; } td, th { padding: .15rem .8rem .15rem 0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: bold; } .changed { color: #b35900; } .added { color: #2a7d2a; } .removed { color: #b00020; } .unchanged { color: #777; }
section { margin: 2rem 0; border-top: 1px solid #ccc; }
.row { display: grid; grid-template-columns: repeat(3, 1fr); gap: 1rem; align-items: start; }
.row.one { grid-template-columns: 1fr 2fr; }
figure { margin: 0; } figcaption { font-weight: bold; margin-bottom: .25rem; }
img { width: 100%; height: auto; border: 1px solid #bbb; background: #fff; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: .9em; }
`;

/** One image of a figure; when the sizes changed, each is drawn at its share of the compared canvas, so all three are at one scale. */
function image(f: FigureDiff, kind: ImageKind): string {
  const src = `images/${href(imageFile(f.name, kind))}`;
  const p = f.pixels;
  const size = p && kind !== 'diff' && sizeChanged(p) ? ` style="width: ${((100 * p[kind].width) / p.canvas.width).toFixed(2)}%"` : '';
  return `<figure><figcaption>${IMAGES[kind]}</figcaption><a href="${src}"><img src="${src}"${size} alt="${escapeHtml(`${f.name}: ${IMAGES[kind]}`)}"></a></figure>`;
}

function figureSection(f: FigureDiff, saved: ImageKind[]): string {
  const text = details(f);
  return `<section id="${href(f.name)}">
<h2>${escapeHtml(f.name)} <span class="status ${f.status}">${f.status}</span></h2>
${text ? `<p>${escapeHtml(text)}.</p>\n` : ''}<div class="row${saved.length === 1 ? ' one' : ''}">
${saved.map((k) => image(f, k)).join('\n')}
</div>
</section>`;
}

/** Writes the HTML report (index.html and images/) and diff.json into `out`; returns the index's path. */
export function writeReport(d: FiguresDiff, out: string): string {
  prepareOut(out);
  const saved = new Map<string, ImageKind[]>();
  for (const f of d.figures) {
    if (f.status === 'unchanged') continue;
    const kinds: ImageKind[] = [];
    const save = (kind: ImageKind, write: (file: string) => void) => {
      write(join(out, 'images', imageFile(f.name, kind)));
      kinds.push(kind);
    };
    if (f.old.png) save('old', (file) => copyFileSync(f.old.png!, file));
    if (f.new.png) save('new', (file) => copyFileSync(f.new.png!, file));
    if (f.pixels) save('diff', (file) => writeFileSync(file, f.pixels!.png));
    saved.set(f.name, kinds);
  }
  const rows = d.figures.map((f) => {
    const name = f.status === 'unchanged' ? escapeHtml(f.name) : `<a href="#${href(f.name)}">${escapeHtml(f.name)}</a>`;
    const pixels = f.pixels ? groupDigits(f.pixels.differing) : '';
    return `<tr><td>${name}</td><td class="status ${f.status}">${f.status}</td><td class="n">${pixels}</td><td>${escapeHtml(f.differ.join(', '))}</td><td>${escapeHtml(f.pixels && sizeChanged(f.pixels) ? `${sizeText(f.pixels.old)} -> ${sizeText(f.pixels.new)}` : '')}</td></tr>`;
  });
  const sections = d.figures.filter((f) => f.status !== 'unchanged').map((f) => figureSection(f, saved.get(f.name)!));
  const headline = anyChange(d) ? countsLine(d) : 'no figure changed';
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${MARK}
<title>Figures of profile ${escapeHtml(d.profile)}: ${escapeHtml(headline)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Figures of profile <code>${escapeHtml(d.profile)}</code>: ${escapeHtml(headline)}</h1>
<p>Old build <code>${escapeHtml(d.old.dir)}</code>, new build <code>${escapeHtml(d.new.dir)}</code>. A figure is unchanged when its SVG, PNG and provenance are byte-identical.
In a difference image unchanged pixels are faded; a pixel whose colour changed at all is <span style="color:#b00">red</span> where the new image is lighter (ink removed) and <span style="color:#080">green</span> where it is darker (ink added). Images of different sizes are compared on the larger canvas, padded with white.</p>
<table>
<thead><tr><th>figure</th><th>status</th><th>differing pixels</th><th>files that differ</th><th>size</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${sections.join('\n')}
</body>
</html>
`;
  writeJsonAtomic(join(out, DIFF_JSON), diffJson(d, saved));
  const index = join(out, 'index.html');
  writeFileSync(index, page);
  return index;
}
