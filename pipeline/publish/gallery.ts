import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFigure } from '../config/figures.ts';
import { FIGURE_FILES, FIGURE_FILE_KINDS, type FigureFileKind } from '../config/layout.ts';
import { FormatError } from '../files/error.ts';
import { writeJsonAtomic } from '../files/json.ts';
import { writeFileAtomic } from '../files/atomic.ts';
import { readContract } from '../contracts/read.ts';
import { ProvenanceAsRead } from '../contracts/provenance.ts';
import type { Manifest } from '../contracts/manifest.ts';
import { escapeHtml, gitCommit, href, sha256 } from './shared.ts';

/**
 * The gallery of a built profile: dist/<profile>/index.html, a static page (relative links only, so it
 * works from a file and from any static host; the only script is an inline one that moves the sliders
 * of figures with frames) with every figure of the profile in the profile's order, and
 * dist/<profile>/manifest.json, the figures' files and their SHA-256. The profile's build task writes
 * them (commands/gallery.ts).
 *
 * It reads: the profile's figure list (experiment.json), each figure's built files in dist/<profile>/
 * (<name>.svg, .png, .provenance.json), figures/<name>/figure.json (title and caption), and
 * `git rev-parse HEAD` (the manifest's `commit`). Nothing else: no clock, no locale.
 */

/** The size the SVG declares on its root element, for the <img> (so the page does not jump while it loads). */
function svgSize(svg: string): { width: string; height: string } | null {
  const root = /<svg\b[^>]*>/.exec(svg.slice(0, 4000))?.[0] ?? '';
  const width = /\swidth="(\d+(?:\.\d+)?)"/.exec(root)?.[1];
  const height = /\sheight="(\d+(?:\.\d+)?)"/.exec(root)?.[1];
  return width && height ? { width, height } : null;
}

interface GalleryOptions {
  /** The profile whose figures are in `distDir`; every provenance file must name it. */
  profile: string;
  /** The profile's figures, in the order the page shows them. */
  figures: string[];
  /** The workspace: where figures/<name>/figure.json are read and git is asked. Default: the current directory. */
  root?: string;
  /** The manifest's `commit`; default: `git rev-parse HEAD` in `root` (null when git does not answer). */
  commit?: string | null;
}

const STYLE = `
body { font: 16px/1.5 "DejaVu Sans", system-ui, sans-serif; color: #222; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; }
header p, nav { color: #555; }
nav a { margin-right: 1rem; }
figure { margin: 3rem 0; }
figure h2 { font-size: 1.25rem; margin: 0 0 .5rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { margin: .5rem 0; max-width: 50rem; }
details { font-size: .85rem; color: #444; }
details table { border-collapse: collapse; margin: .5rem 0; }
details td, details th { padding: .1rem .75rem .1rem 0; text-align: left; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: .9em; }
.slider label { display: block; margin: .75rem 0 .25rem; }
.slider input { width: min(40rem, 100%); }
`;

/** Moves each slider's image to the frame it points at; the frames' files and captions are in data attributes. */
const SLIDER_SCRIPT = `
for (const s of document.querySelectorAll('.slider')) {
  const files = JSON.parse(s.dataset.files), labels = JSON.parse(s.dataset.labels);
  const input = s.querySelector('input'), img = s.querySelector('img'), out = s.querySelector('output');
  const show = () => { img.src = files[input.value]; out.textContent = labels[input.value]; };
  input.addEventListener('input', show);
  show();
}
`;

function sliderSection(name: string, title: string, frames: NonNullable<ProvenanceAsRead['frames']>): string {
  const files = JSON.stringify(frames.map((f) => href(f.file)));
  const labels = JSON.stringify(frames.map((f) => String(f.label)));
  const id = `${name}-frame`;
  return `<div class="slider" data-files="${escapeHtml(files)}" data-labels="${escapeHtml(labels)}">
<label for="${escapeHtml(id)}">Move through training: <output>${escapeHtml(String(frames[0].label))}</output></label>
<input type="range" id="${escapeHtml(id)}" min="0" max="${frames.length - 1}" step="1" value="0">
<img src="${href(frames[0].file)}" alt="${escapeHtml(title)}: one moment of training">
</div>`;
}

function figureSection(name: string, title: string, description: string, svg: string, prov: ProvenanceAsRead): string {
  const size = svgSize(svg);
  const dims = size ? ` width="${size.width}" height="${size.height}"` : '';
  const f = (kind: FigureFileKind) => href(name + FIGURE_FILES[kind]);
  const runs = prov.runs.map((r) => `<tr><td><code>${escapeHtml(r.run)}</code></td><td><code>${escapeHtml(r.spec)}</code></td></tr>`).join('\n');
  return `<figure id="${escapeHtml(name)}">
<h2>${escapeHtml(title)}</h2>
<a href="${f('png')}"><img src="${f('svg')}"${dims} alt="${escapeHtml(title)}"></a>
<figcaption>${escapeHtml(description)}</figcaption>
${prov.frames?.length ? sliderSection(name, title, prov.frames) : ''}
<details><summary>Provenance</summary>
<p>Profile <code>${escapeHtml(prov.profile)}</code>; spec <code>${escapeHtml(prov.spec)}</code>, figure file <code>${escapeHtml(prov.figureFile)}</code>, theme <code>${escapeHtml(prov.theme)}</code>; config hash <code>${escapeHtml(prov.specHash ?? '?')}</code>, render code <code>${escapeHtml(prov.renderCode ?? '?')}</code>, trained by <code>${escapeHtml((prov.engines ?? []).join(', ') || '?')}</code>.
Files: <a href="${f('svg')}">SVG</a>, <a href="${f('png')}">PNG (2x)</a>, <a href="${f('provenance')}">provenance</a>.</p>
<table><thead><tr><th>run</th><th>spec hash</th></tr></thead><tbody>
${runs}
</tbody></table>
</details>
</figure>`;
}

function readFrame(distDir: string, file: string, name: string): Buffer {
  const path = join(distDir, file);
  if (!existsSync(path)) throw new FormatError(path, `missing: a slider frame of figure ${name}; build the figure again`);
  return readFileSync(path);
}

/** Writes dist/<profile>/index.html and manifest.json for the figures already built in `distDir`. */
export function writeGallery(distDir: string, options: GalleryOptions): { index: string; manifest: string } {
  const root = options.root ?? '.';
  const sections: string[] = [];
  const entries: Manifest['figures'] = [];
  for (const name of options.figures) {
    const files = Object.fromEntries(FIGURE_FILE_KINDS.map((k) => [k, join(distDir, name + FIGURE_FILES[k])])) as Record<FigureFileKind, string>;
    for (const file of Object.values(files))
      if (!existsSync(file)) throw new FormatError(file, `missing: figure ${name} is not built (npm run build -- ${options.profile})`);
    const prov = readContract(files.provenance, ProvenanceAsRead);
    if (prov.profile !== options.profile) throw new FormatError(files.provenance, `is a figure of profile ${prov.profile}, not ${options.profile}`);
    const figure = loadFigure(name, root);
    const bytes = Object.fromEntries(FIGURE_FILE_KINDS.map((k) => [k, readFileSync(files[k])])) as Record<FigureFileKind, Buffer>;
    sections.push(figureSection(name, figure.title, figure.description, bytes.svg.toString('utf8'), prov));
    entries.push({
      name, title: figure.title, specHash: prov.specHash ?? null, renderCode: prov.renderCode ?? null, engines: prov.engines ?? [],
      files: Object.fromEntries(FIGURE_FILE_KINDS.map((k) => [k, { file: name + FIGURE_FILES[k], sha256: sha256(bytes[k]) }])) as Manifest['figures'][number]['files'],
      ...(prov.frames ? { frames: prov.frames.map((f) => ({ file: f.file, sha256: sha256(readFrame(distDir, f.file, name)) })) } : {}),
    });
  }
  const profile = escapeHtml(options.profile);
  const nav = options.figures.map((n, i) => `<a href="#${escapeHtml(n)}">${escapeHtml(entries[i].title)}</a>`).join('\n');
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Superposition, Memorization, and Double Descent: figures (${profile})</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>Superposition, Memorization, and Double Descent: the figures</h1>
<p>Profile <code>${profile}</code>, ${entries.length} figure${entries.length === 1 ? '' : 's'}, rebuilt deterministically from the pipeline's runs. Each image links to its PNG (2x); <a href="manifest.json">manifest.json</a> lists every file with its SHA-256.</p>
</header>
<nav>
${nav}
</nav>
${sections.join('\n')}
${entries.some((e) => e.frames) ? `<script>${SLIDER_SCRIPT}</script>` : ''}
</body>
</html>
`;
  const manifest: Manifest = {
    profile: options.profile,
    commit: options.commit !== undefined ? options.commit : gitCommit(root),
    figures: [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
  const out = { index: join(distDir, 'index.html'), manifest: join(distDir, 'manifest.json') };
  writeFileAtomic(out.index, page);
  writeJsonAtomic(out.manifest, manifest);
  return out;
}
