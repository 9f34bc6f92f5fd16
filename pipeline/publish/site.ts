import { lstatSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { loadExperiment, selectProfile } from '../config/load.ts';
import { loadFigure } from '../config/figures.ts';
import { figureOutputs, profileDistDir } from '../config/layout.ts';
import { writeFileAtomic } from '../files/atomic.ts';
import { FormatError } from '../files/error.ts';
import { readJson } from '../files/json.ts';
import { parseContract, readContract } from '../contracts/read.ts';
import { ProvenanceAsRead } from '../contracts/provenance.ts';
import { PublishRecord, isSafeRelative } from '../contracts/publish-record.ts';
import { sha256 } from './shared.ts';
import { halvePng } from './png.ts';
import { UserError } from '../errors.ts';

/**
 * Publishes a built profile's figures into a Jekyll site, so that a post shows one with a single line
 * `{% include figures/<name>.html %}` (the default profile) or `{% include figures/<profile>/<name>.html %}`
 * (`npm run publish`, commands/publish.ts).
 *
 * Each profile has a namespace of its own in the site, so profiles sit side by side: the default profile
 * (experiment.json's defaultProfile) writes _includes/figures/<name>.html, images/superposition-double-descent/
 * and _data/superposition_figures.json; any other profile P writes _includes/figures/P/<name>.html,
 * images/superposition-double-descent/P/ and _data/superposition_figures_P.json. Per figure: a PNG at 1x and
 * one at 2x (the page offers both through srcset), and the SVG only where it is light (isLightSvg).
 * In the namespace's record (_data/<data>.publish.json) it keeps what it wrote with each file's SHA-256,
 * and it changes or removes only files in that record, only while their bytes are as recorded, never
 * through a symlink, and never an include that a page of the site still uses: anything in the way
 * stops it before it writes. Nothing that differs between two commits with the same figures (a commit,
 * a time) goes into the site, so publishing the same figures again changes no byte.
 */

const DEFAULT_IMAGES_DIR = 'images/superposition-double-descent';
/** The largest SVG a page is offered: above it, every point is its own element and the PNG is far lighter. */
const SVG_LIMIT = 500_000;
/** A figure's SVG is offered (and copied) when it is light: under SVG_LIMIT and no heavier than the 2x PNG it replaces. */
export const isLightSvg = (svgBytes: number, png2xBytes: number) => svgBytes <= SVG_LIMIT && svgBytes <= png2xBytes;

/** Where a profile's files go in the site. */
interface Namespace {
  profile: string;
  /** The key of site.data that holds the figures. */
  dataKey: string;
  dataFile: string;
  recordFile: string;
  /** The include of a figure as a page names it: figures/<name>.html or figures/<profile>/<name>.html. */
  include: (figure: string) => string;
  imagesDir: string;
}

export function namespaceOf(profile: string, defaultProfile: string, imagesDir?: string): Namespace {
  const isDefault = profile === defaultProfile;
  const dataKey = isDefault ? 'superposition_figures' : `superposition_figures_${profile}`;
  return {
    profile, dataKey, dataFile: `_data/${dataKey}.json`, recordFile: `_data/${dataKey}.publish.json`,
    include: (figure) => (isDefault ? `figures/${figure}.html` : `figures/${profile}/${figure}.html`),
    imagesDir: imagesDir ?? (isDefault ? DEFAULT_IMAGES_DIR : `${DEFAULT_IMAGES_DIR}/${profile}`),
  };
}
const includeFile = (ns: Namespace, figure: string) => `_includes/${ns.include(figure)}`;

/** What stops a publish before it writes: a site that is not one, a profile not built, a file in the way. */
export class PublishError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'PublishError';
  }
}

interface PublishOptions {
  /** The Jekyll site's root folder (the one with _config.yml). */
  site: string;
  profile?: string;
  /** Where the images go, relative to the site's root (default: see namespaceOf). */
  imagesDir?: string;
  /** The folder that holds <profile>/, as the build writes dist/. */
  dist?: string;
  /** experiment.json, relative to `root`. */
  config?: string;
  /** The workspace: experiment.json and figures/ are read there. */
  root?: string;
}

interface PublishResult {
  profile: string;
  namespace: Namespace;
  figures: string[];
  written: string[];
  unchanged: string[];
  removed: string[];
  /** Files published before for a figure no longer published, left in place because they were edited since. */
  left: string[];
  /** Includes of this namespace that a page uses but that this publish does not provide. */
  dangling: { page: string; include: string }[];
}

/** `_data/<data>.publish.json` (contracts/publish-record.ts): site-relative path -> SHA-256 of the bytes written there. */
const ABOUT_RECORD = 'Files written by `npm run publish` (pipeline/publish/site.ts) with their SHA-256. It changes or removes only these files, and only while their bytes are as recorded.';

const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 1) + '\n');

function checkSite(site: string, shown: string): void {
  const st = statSync(site, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw new PublishError(`${shown}: no such folder; expected the root folder of a Jekyll site (the one with _config.yml)`);
  if (!['_config.yml', '_config.yaml'].some((f) => lstatSync(join(site, f), { throwIfNoEntry: false })?.isFile()))
    throw new PublishError(`${shown}: not a Jekyll site (it has no _config.yml or _config.yaml); expected the site's root folder`);
}

/** Jekyll copies a folder into _site only if no part of its path starts with '_' or '.'. */
function checkImagesDir(dir: string): void {
  if (!isSafeRelative(dir) || dir.split('/').some((s) => s.startsWith('_') || s.startsWith('.')))
    throw new PublishError(`--images-dir ${dir}: expected a folder inside the site that Jekyll copies (relative, without "..", no part starting with "_" or ".")`);
}

/** The width and height the SVG declares on its root element, in CSS pixels. */
function svgSize(bytes: Buffer): { width: number | null; height: number | null } {
  const root = /<svg\b[^>]*>/.exec(bytes.toString('utf8', 0, 4000))?.[0] ?? '';
  const attr = (name: string) => Number(new RegExp(`\\s${name}="([\\d.]+)"`).exec(root)?.[1]) || null;
  return { width: attr('width'), height: attr('height') };
}

/**
 * The include a post uses: a <figure> whose image, caption and alt text come from the data file. The image
 * draws its own title, so the caption is the figure's description and the alt text its title (the short
 * name of a chart whose long description is the caption next to it). The PNG comes at 1x and 2x with its
 * size (the page keeps its place while it loads, and a phone takes the 2x); the SVG only where it is light.
 */
function includeHtml(ns: Namespace, figure: string): string {
  // The leading empty line makes the figure a block of its own even when the include follows a paragraph's last line.
  return `
{% comment %} Written by \`npm run publish\` (pipeline/publish/site.ts) from ${ns.dataFile}; publish again rather than editing it. {% endcomment -%}
{%- assign f = site.data["${ns.dataKey}"].figures["${figure}"] -%}
<figure class="superposition-figure" id="figure-${ns.include(figure).slice('figures/'.length, -'.html'.length).replace(/\//g, '-')}">
{% if f.svg %}<picture>
<source type="image/svg+xml" srcset="{{ f.svg | relative_url }}">
{% endif %}<img src="{{ f.png | relative_url }}" srcset="{{ f.png | relative_url }} 1x, {{ f.png2x | relative_url }} 2x" width="{{ f.width }}" height="{{ f.height }}" alt="{{ f.alt | escape }}" loading="lazy" decoding="async" style="max-width: 100%; height: auto;">
{% if f.svg %}</picture>
{% endif %}<figcaption>{{ f.caption | escape }} <small>Rebuilt from profile <code>{{ f.provenance.profile }}</code> ({{ f.provenance.runs | size }} runs).</small></figcaption>
</figure>
`;
}

/** Every file the publish should leave in the site, by site-relative path, with its bytes. */
function planFiles(root: string, dist: string, ns: Namespace, figures: string[]): Map<string, Buffer> {
  const profile = ns.profile;
  // The layout's dist/<profile>/ paths, under `dist` instead of dist/.
  const underDist = (p: string) => posix.join(dist, posix.relative(posix.dirname(profileDistDir(profile)), p));
  const isFile = (f: string) => lstatSync(resolve(root, f), { throwIfNoEntry: false })?.isFile() ?? false;
  const distProfile = underDist(profileDistDir(profile));
  if (!lstatSync(resolve(root, distProfile), { throwIfNoEntry: false })?.isDirectory())
    throw new PublishError(`${distProfile}: missing: profile "${profile}" is not built; run \`npm run build -- ${profile}\` first`);
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
    const png2x = readFileSync(resolve(root, pngFile));
    const provenance = readContract(resolve(root, provFile), ProvenanceAsRead);
    if (provenance.profile !== profile) throw new FormatError(provFile, `expected a figure of profile "${profile}", found profile ${JSON.stringify(provenance.profile)}`);
    const { png, ...size } = halvePng(png2x, pngFile);
    const image = (file: string) => `${ns.imagesDir}/${file}`;
    const light = isLightSvg(svg.length, png2x.length);
    const files: [string, Buffer][] = [[image(`${name}.png`), png], [image(`${name}@2x.png`), png2x], ...(light ? [[image(`${name}.svg`), svg] as [string, Buffer]] : [])];
    for (const [rel, bytes] of files) out.set(rel, bytes);
    out.set(includeFile(ns, name), Buffer.from(includeHtml(ns, name)));
    const declared = svgSize(svg);
    entries[name] = {
      name, title: figure.title, caption: figure.description, alt: figure.title,
      png: `/${image(`${name}.png`)}`, png2x: `/${image(`${name}@2x.png`)}`, svg: light ? `/${image(`${name}.svg`)}` : null,
      width: declared.width ?? size.width, height: declared.height ?? size.height,
      bytes: { png: png.length, png2x: png2x.length, svg: svg.length },
      // What identifies the figure's bytes: the same figures give the same data file, whatever commit built them.
      contentHash: sha256(Buffer.from(files.map(([rel, bytes]) => `${posix.basename(rel)} ${sha256(bytes)}\n`).join(''))),
      provenance,
    };
  }
  if (missing.length) throw new PublishError(missing.map((f) => `${f}: missing`).join('\n') + `\nrun \`npm run build -- ${profile}\` first`);
  const about = `Written by \`npm run publish\` (pipeline/publish/site.ts) for the includes in _includes/${posix.dirname(ns.include('x'))}/; publish again rather than editing it.`;
  out.set(ns.dataFile, json({ about, profile, figures: entries }));
  return out;
}

function readRecord(site: string, shown: string, ns: Namespace): PublishRecord {
  const file = join(site, ns.recordFile);
  if (!lstatSync(file, { throwIfNoEntry: false })) return { about: ABOUT_RECORD, files: {} };
  const r = parseContract(join(shown, ns.recordFile), PublishRecord, readJson(file));
  // It never lists itself: a publish would then replace or remove its own record as one of its files.
  for (const [field, files] of [['files', r.files], ['replacing', r.replacing ?? {}]] as const)
    if (ns.recordFile in files) throw new FormatError(join(shown, ns.recordFile), `${field}.${ns.recordFile}: expected a file that publishing wrote, found the record itself`);
  return { about: ABOUT_RECORD, files: r.files, replacing: r.replacing };
}

/** The first folder or link on the path to `rel` (inside the site) that is a symlink, or null. */
function symlinkOnPath(site: string, rel: string): string | null {
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    const st = lstatSync(join(site, p), { throwIfNoEntry: false });
    if (!st) return null;
    if (st.isSymbolicLink()) return p;
  }
  return null;
}

/** The bytes at a site path: null when nothing is there; 'in the way' for a folder, or a file where a folder should be. */
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

/** Folders Jekyll never reads as pages, or that are not the site's own. */
const NOT_PAGES = new Set(['_site', '.git', '.jekyll-cache', '.sass-cache', 'node_modules', 'vendor', '.bundle']);
const PAGE_FILE = /\.(md|markdown|mkd|html|htm|liquid|xml|txt|textile)$/i;
const INCLUDE = /\{%-?\s*include\s+(figures\/[^\s%}]+)/g;

/** Every `{% include figures/... %}` of the site's pages, posts, layouts and other includes: include -> the files that use it. */
function includesUsed(site: string, skip: Set<string> = new Set()): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(site, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!NOT_PAGES.has(e.name)) walk(p);
      } else if (e.isFile() && PAGE_FILE.test(e.name) && !skip.has(p)) {
        for (const m of readFileSync(join(site, p), 'utf8').matchAll(INCLUDE)) used.set(m[1], [...(used.get(m[1]) ?? []), p]);
      }
    }
  };
  walk('');
  return used;
}

export function publishSite(options: PublishOptions, log: (s: string) => void = () => {}): PublishResult {
  const root = options.root ?? process.cwd();
  checkSite(resolve(root, options.site), options.site);
  // The site root may be reached through a link (say /tmp on macOS); inside it, no link is followed.
  const site = realpathSync(resolve(root, options.site));
  const exp = loadExperiment(options.config, root);
  const { name: profile, profile: p } = selectProfile(exp, options.profile);
  const imagesDir = options.imagesDir === undefined ? undefined : posix.normalize(options.imagesDir).replace(/\/+$/, '');
  const ns = namespaceOf(profile, exp.defaultProfile, imagesDir);
  checkImagesDir(ns.imagesDir);
  const targets = planFiles(root, options.dist ?? posix.dirname(profileDistDir(profile)), ns, p.figures);

  // Check everything before writing anything.
  const record = readRecord(site, options.site, ns);
  const shown = (rel: string) => join(options.site, rel);
  const ours = (rel: string, bytes: Buffer) => [record.files[rel], record.replacing?.[rel]].includes(sha256(bytes));
  const problems: string[] = [];
  const result: PublishResult = { profile, namespace: ns, figures: p.figures, written: [], unchanged: [], removed: [], left: [], dangling: [] };
  for (const rel of [...targets.keys(), ns.recordFile, ...Object.keys(record.files)]) {
    const link = symlinkOnPath(site, rel);
    if (link && !problems.some((x) => x.startsWith(`${shown(link)}:`))) problems.push(`${shown(link)}: a symbolic link on the path of ${rel}; publishing never writes through a link: replace it with a folder`);
  }
  for (const [rel, bytes] of targets) {
    const now = readTarget(join(site, rel));
    if (now === null) result.written.push(rel);
    else if (now === 'in the way') problems.push(`${shown(rel)}: a folder, or a file on its path, is in the way of a file this would publish`);
    else if (!(rel in record.files)) problems.push(`${shown(rel)}: exists but was not published here (not in ${ns.recordFile}); move it away or choose another --images-dir`);
    else if (!ours(rel, now)) problems.push(`${shown(rel)}: edited since it was published (its SHA-256 is not the one in ${ns.recordFile}); move your version away to publish again`);
    else (now.equals(bytes) ? result.unchanged : result.written).push(rel);
  }
  // Files published before that this publish does not write (a figure left the profile, another --images-dir).
  for (const rel of Object.keys(record.files).filter((f) => !targets.has(f))) {
    const now = readTarget(join(site, rel));
    if (now instanceof Buffer) (ours(rel, now) ? result.removed : result.left).push(rel);
  }
  // A page that uses an include this would remove would no longer build: stop, naming both.
  const ownIncludes = new Set([...targets.keys(), ...result.removed].filter((f) => f.startsWith('_includes/')));
  const used = includesUsed(site, ownIncludes);
  for (const rel of result.removed.filter((f) => f.startsWith('_includes/figures/'))) {
    for (const page of used.get(rel.slice('_includes/'.length)) ?? [])
      problems.push(`${shown(page)}: uses {% include ${rel.slice('_includes/'.length)} %}, which this publish would remove (its figure is no longer in profile ${profile}); remove that line from the page first, or keep the figure in the profile`);
  }
  if (problems.length) throw new PublishError(`${problems.join('\n')}\nnothing was written`);
  // An include of this namespace that a page uses and nobody provides: Jekyll will stop on that page.
  const ownDir = posix.dirname(ns.include('x'));
  for (const [inc, pages] of used) {
    if (posix.dirname(inc) === ownDir && !targets.has(`_includes/${inc}`) && !lstatSync(join(site, '_includes', inc), { throwIfNoEntry: false }))
      result.dangling.push(...pages.map((page) => ({ page, include: inc })));
  }

  const files = Object.fromEntries([...targets].map(([rel, bytes]) => [rel, sha256(bytes)] as const).sort(([a], [b]) => (a < b ? -1 : 1)));
  const recordFile = join(site, ns.recordFile);
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
  for (const d of result.dangling) log(`warning: ${shown(d.page)} uses {% include ${d.include} %}, which profile ${profile} does not publish: Jekyll will fail on that page`);
  writeRecord({ about: ABOUT_RECORD, files });
  return result;
}
