import { lstatSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadExperiment, selectProfile } from '../config/load.ts';
import { loadFigure } from '../config/figures.ts';
import { figureOutputs, profileDistDir } from '../config/layout.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { FormatError } from '../format/error.ts';
import { readJson } from '../format/json.ts';
import { gitCommit, sha256 } from './shared.ts';

/**
 * Publishes a built profile's figures into a Jekyll site, so that a post shows one with a single line
 * `{% include figures/<name>.html %}`:
 *
 *   npm run publish -- <site-dir> [--profile P] [--images-dir images/superposition-double-descent] [--dist dist]
 *
 * It writes, under <site-dir>: each figure's SVG and PNG in <images-dir>/, the data file
 * _data/superposition_figures.json (paths, title, caption, alt text, sizes, provenance) and
 * _includes/figures/<name>.html per figure; and, in _data/superposition_figures.publish.json, the
 * record of what it wrote with each file's SHA-256. It changes or removes only files in that record,
 * and only while their bytes are as recorded: anything else in the way stops it before it writes.
 */

export const DATA_FILE = '_data/superposition_figures.json';
export const RECORD_FILE = '_data/superposition_figures.publish.json';
export const DEFAULT_IMAGES_DIR = 'images/superposition-double-descent';
export const includeFile = (figure: string) => `_includes/figures/${figure}.html`;

export class PublishError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishError';
  }
}

export interface PublishOptions {
  /** The Jekyll site's root folder (the one with _config.yml). */
  site: string;
  profile?: string;
  /** Where the images go, relative to the site's root. */
  imagesDir?: string;
  /** The folder that holds <profile>/, as the build writes dist/. */
  dist?: string;
  /** experiment.json, relative to `root`. */
  config?: string;
  /** The workspace: experiment.json, figures/ and git are read there. */
  root?: string;
}

export interface PublishResult {
  profile: string;
  figures: string[];
  written: string[];
  unchanged: string[];
  removed: string[];
  /** Files published before for a figure no longer published, left in place because they were edited since. */
  left: string[];
}

/** `_data/superposition_figures.publish.json`: site-relative path -> SHA-256 of the bytes written there. */
interface PublishRecord {
  about: string;
  files: Record<string, string>;
  /** Only while a publish is under way: the bytes a file still had before it was replaced. */
  replacing?: Record<string, string>;
}
const ABOUT_RECORD = 'Files written by `npm run publish` (pipeline/publish/site.ts) with their SHA-256. It changes or removes only these files, and only while their bytes are as recorded.';

const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 1) + '\n');
const isSafeRelative = (p: string) => p !== '' && !isAbsolute(p) && posix.normalize(p) === p && !p.split('/').includes('..');

function checkSite(site: string, shown: string): void {
  const st = lstatSync(site, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new PublishError(`${shown}: no such folder; expected the root folder of a Jekyll site (the one with _config.yml)`);
  if (!['_config.yml', '_config.yaml'].some((f) => lstatSync(join(site, f), { throwIfNoEntry: false })?.isFile()))
    throw new PublishError(`${shown}: not a Jekyll site (it has no _config.yml or _config.yaml); expected the site's root folder`);
}

/** Jekyll copies a folder into _site only if no part of its path starts with '_' or '.'. */
function checkImagesDir(dir: string): void {
  if (!isSafeRelative(dir) || dir.split('/').some((s) => s.startsWith('_') || s.startsWith('.')))
    throw new PublishError(`--images-dir ${dir}: expected a folder inside the site that Jekyll copies (relative, without "..", no part starting with "_" or ".")`);
}

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(bytes: Buffer, file: string): { width: number; height: number } {
  if (bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new FormatError(file, 'not a PNG file');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** The width and height the SVG declares on its root element, in CSS pixels (the <img> keeps its place while it loads). */
function svgSize(bytes: Buffer): { width: number | null; height: number | null } {
  const root = /<svg\b[^>]*>/.exec(bytes.toString('utf8', 0, 4000))?.[0] ?? '';
  const attr = (name: string) => Number(new RegExp(`\\s${name}="([\\d.]+)"`).exec(root)?.[1]) || null;
  return { width: attr('width'), height: attr('height') };
}

/**
 * The include a post uses: a <figure> whose image, caption and alt text come from the data file. The image
 * draws its own title, so the caption is the figure's description and the alt text its title (the short
 * name of a chart whose long description is the caption next to it).
 */
function includeHtml(figure: string): string {
  // The leading empty line makes the figure a block of its own even when the include follows a paragraph's last line.
  return `
{% comment %} Written by \`npm run publish\` (pipeline/publish/site.ts) from ${DATA_FILE}; publish again rather than editing it. {% endcomment -%}
{%- assign f = site.data.superposition_figures.figures["${figure}"] -%}
<figure class="superposition-figure" id="figure-${figure}">
<picture>
<source type="image/svg+xml" srcset="{{ f.svg | relative_url }}">
<img src="{{ f.png | relative_url }}" width="{{ f.width }}" height="{{ f.height }}" alt="{{ f.alt | escape }}" style="max-width: 100%; height: auto;">
</picture>
<figcaption>{{ f.caption | escape }} <small>Rebuilt from profile <code>{{ f.provenance.profile }}</code> ({{ f.provenance.runs | size }} runs{% if f.provenance.commit %}, commit <code>{{ f.provenance.commit | slice: 0, 7 }}</code>{% endif %}).</small></figcaption>
</figure>
`;
}

/** Every file the publish should leave in the site, by site-relative path, with its bytes. */
function planFiles(root: string, dist: string, imagesDir: string, profile: string, figures: string[]): Map<string, Buffer> {
  // The layout's dist/<profile>/ paths, under `dist` instead of dist/.
  const underDist = (p: string) => posix.join(dist, posix.relative(posix.dirname(profileDistDir(profile)), p));
  const isFile = (f: string) => lstatSync(resolve(root, f), { throwIfNoEntry: false })?.isFile() ?? false;
  const distProfile = underDist(profileDistDir(profile));
  if (!lstatSync(resolve(root, distProfile), { throwIfNoEntry: false })?.isDirectory())
    throw new PublishError(`${distProfile}: missing: profile "${profile}" is not built; run \`npm run build -- ${profile}\` first`);
  const commit = gitCommit(root);
  const out = new Map<string, Buffer>();
  const entries: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const name of figures) {
    const built = figureOutputs(profile, name);
    const [svgFile, pngFile, provFile] = [built.svg, built.png, built.provenance].map(underDist);
    missing.push(...[svgFile, pngFile, provFile].filter((f) => !isFile(f)));
    if (missing.length) continue;
    const figure = loadFigure(name, root);
    const svg = readFileSync(resolve(root, svgFile));
    const png = readFileSync(resolve(root, pngFile));
    const provenance = readJson(resolve(root, provFile)) as { profile?: unknown };
    if (provenance?.profile !== profile) throw new FormatError(provFile, `expected a figure of profile "${profile}", found profile ${JSON.stringify(provenance?.profile)}`);
    const image = (ext: string) => `${imagesDir}/${name}.${ext}`;
    out.set(image('svg'), svg);
    out.set(image('png'), png);
    out.set(includeFile(name), Buffer.from(includeHtml(name)));
    const pngPixels = pngSize(png, pngFile);
    entries[name] = {
      name, title: figure.title, caption: figure.description, alt: figure.title,
      svg: `/${image('svg')}`, png: `/${image('png')}`, ...svgSize(svg), pngWidth: pngPixels.width, pngHeight: pngPixels.height,
      provenance: { ...provenance, commit },
    };
  }
  if (missing.length) throw new PublishError(missing.map((f) => `${f}: missing`).join('\n') + `\nrun \`npm run build -- ${profile}\` first`);
  const about = 'Written by `npm run publish` (pipeline/publish/site.ts) for the includes in _includes/figures/; publish again rather than editing it.';
  out.set(DATA_FILE, json({ about, profile, figures: entries }));
  return out;
}

function readRecord(site: string, shown: string): PublishRecord {
  const file = join(site, RECORD_FILE);
  if (!lstatSync(file, { throwIfNoEntry: false })) return { about: ABOUT_RECORD, files: {} };
  const r = readJson(file) as Partial<PublishRecord>;
  const valid = (m: unknown) => typeof m === 'object' && m !== null && Object.entries(m).every(([p, h]) => isSafeRelative(p) && p !== RECORD_FILE && /^[0-9a-f]{64}$/.test(h));
  if (!valid(r?.files) || (r.replacing !== undefined && !valid(r.replacing)))
    throw new FormatError(join(shown, RECORD_FILE), 'not a publish record (expected "files": site-relative path -> SHA-256)');
  return { about: ABOUT_RECORD, files: r.files!, replacing: r.replacing };
}

/** The bytes at a site path: null when nothing is there; 'in the way' for a folder, a link, or a file where a folder should be. */
function readTarget(file: string): Buffer | 'in the way' | null {
  try {
    const st = lstatSync(file, { throwIfNoEntry: false });
    if (!st) return null;
    return st.isFile() ? readFileSync(file) : 'in the way';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'in the way';
    throw e;
  }
}

export function publishSite(options: PublishOptions, log: (s: string) => void = () => {}): PublishResult {
  const root = options.root ?? process.cwd();
  const imagesDir = posix.normalize(options.imagesDir ?? DEFAULT_IMAGES_DIR).replace(/\/+$/, '');
  const site = resolve(root, options.site);
  checkSite(site, options.site);
  checkImagesDir(imagesDir);
  const { name: profile, profile: p } = selectProfile(loadExperiment(options.config, root), options.profile);
  const targets = planFiles(root, options.dist ?? posix.dirname(profileDistDir(profile)), imagesDir, profile, p.figures);

  // Check everything before writing anything.
  const record = readRecord(site, options.site);
  const shown = (rel: string) => join(options.site, rel);
  const ours = (rel: string, bytes: Buffer) => [record.files[rel], record.replacing?.[rel]].includes(sha256(bytes));
  const problems: string[] = [];
  const result: PublishResult = { profile, figures: p.figures, written: [], unchanged: [], removed: [], left: [] };
  for (const [rel, bytes] of targets) {
    const now = readTarget(join(site, rel));
    if (now === null) result.written.push(rel);
    else if (now === 'in the way') problems.push(`${shown(rel)}: a folder, a link or a file on its path is in the way of a file this would publish`);
    else if (!(rel in record.files)) problems.push(`${shown(rel)}: exists but was not published here (not in ${RECORD_FILE}); move it away or choose another --images-dir`);
    else if (!ours(rel, now)) problems.push(`${shown(rel)}: edited since it was published (its SHA-256 is not the one in ${RECORD_FILE}); move your version away to publish again`);
    else (now.equals(bytes) ? result.unchanged : result.written).push(rel);
  }
  if (problems.length) throw new PublishError(`${problems.join('\n')}\nnothing was written`);
  // Files published before that this publish does not write (a figure left the profile, another --images-dir).
  for (const rel of Object.keys(record.files).filter((f) => !targets.has(f))) {
    const now = readTarget(join(site, rel));
    if (now instanceof Buffer) (ours(rel, now) ? result.removed : result.left).push(rel);
  }

  const files = Object.fromEntries([...targets].map(([rel, bytes]) => [rel, sha256(bytes)] as const).sort(([a], [b]) => (a < b ? -1 : 1)));
  const recordFile = join(site, RECORD_FILE);
  const writeRecord = (r: PublishRecord) => {
    const bytes = json(r);
    const now = readTarget(recordFile);
    if (!(now instanceof Buffer && now.equals(bytes))) writeFileAtomic(recordFile, bytes);
  };
  if (result.written.length || result.removed.length) {
    // First a record that knows both the old and the new bytes of every file about to change, so that a
    // publish killed halfway leaves only files the next one recognises as its own.
    const replacing = Object.fromEntries(result.written.filter((f) => f in record.files).map((f) => [f, record.files[f]]));
    writeRecord({ about: ABOUT_RECORD, files: { ...record.files, ...files }, replacing });
    for (const rel of result.written) {
      writeFileAtomic(join(site, rel), targets.get(rel)!);
      log(`wrote ${shown(rel)}`);
    }
    for (const rel of result.removed) {
      rmSync(join(site, rel));
      log(`removed ${shown(rel)} (no longer published)`);
    }
  }
  for (const rel of result.left) log(`left ${shown(rel)}: no longer published, but edited since it was, so it is yours now`);
  writeRecord({ about: ABOUT_RECORD, files });
  return result;
}

const USAGE = 'usage: npm run publish -- <site-dir> [--profile P] [--images-dir images/superposition-double-descent] [--dist dist] [--config experiment.json]';

function main(argv: string[]): number {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv, allowPositionals: true, strict: true,
        options: { profile: { type: 'string' }, 'images-dir': { type: 'string' }, dist: { type: 'string' }, config: { type: 'string' } },
      });
    } catch (e) {
      throw new PublishError(`${(e as Error).message}\n${USAGE}`);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new PublishError(`expected one site folder, found ${positionals.length}\n${USAGE}`);
    // `npm run` starts in the package's folder; paths typed by the user are relative to where they typed them.
    const here = process.env.npm_lifecycle_event === 'publish' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
    const fromHere = (p: string | undefined) => (p === undefined ? undefined : resolve(here, p));
    const site = fromHere(positionals[0])!;
    const r = publishSite({ site, profile: values.profile, imagesDir: values['images-dir'], dist: fromHere(values.dist), config: values.config },
      (s) => process.stderr.write(s + '\n'));
    process.stderr.write(`published ${r.figures.length} figures of profile "${r.profile}" into ${site}; ` +
      `${r.written.length} files written, ${r.unchanged.length} unchanged${r.removed.length ? `, ${r.removed.length} removed` : ''}\n`);
    return 0;
  } catch (e) {
    if (e instanceof PublishError || e instanceof ConfigError || e instanceof FormatError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
