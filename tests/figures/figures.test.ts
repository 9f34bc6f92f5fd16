import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { PNG } from 'pngjs';
import { loadExperiment } from '../../pipeline/config/load.ts';
import { namespaceOf, publishSite } from '../../pipeline/publish/site.ts';
import { build, makeWorkspace, removeWorkspace, REPO } from '../e2e/workspace.ts';
import { openPage, serveDir } from '../e2e/browser.ts';

/**
 * The checks run on built figures: in CI on the default profile's dist folder (FIGURES_DIST=dist/post,
 * after `npm run build`), and in `npm test` on a quick build made here.
 */
let dist: string;
let workspace: string | null = null;
beforeAll(async () => {
  if (process.env.FIGURES_DIST) {
    dist = resolve(REPO, process.env.FIGURES_DIST);
    if (!existsSync(dist)) throw new Error(`FIGURES_DIST=${process.env.FIGURES_DIST}: no such folder; run npm run build first`);
    return;
  }
  workspace = makeWorkspace('smdd-figures');
  const r = await build(workspace, 'quick');
  expect(r.status, r.output.slice(-3000)).toBe(0);
  dist = join(workspace, 'dist', 'quick');
}, 600_000);
afterAll(() => workspace && removeWorkspace(workspace));

type Manifest = {
  profile: string; commit: string | null;
  figures: {
    name: string; title: string; specHash: string; renderCode: string; engines: string[]; files: Record<string, { file: string; sha256: string }>;
    frames?: { file: string; sha256: string }[];
  }[];
};
const manifest = (): Manifest => JSON.parse(readFileSync(join(dist, 'manifest.json'), 'utf8'));

describe('the built figures', () => {
  it('are listed in manifest.json with the SHA-256 of every file, and every figure has an SVG, a PNG and its provenance', () => {
    const m = manifest();
    expect(m.figures.length).toBeGreaterThan(0);
    for (const f of m.figures) {
      expect(Object.keys(f.files).sort()).toEqual(['png', 'provenance', 'svg']);
      for (const { file, sha256 } of [...Object.values(f.files), ...(f.frames ?? [])])
        expect(createHash('sha256').update(readFileSync(join(dist, file))).digest('hex'), file).toBe(sha256);
      const provenance = JSON.parse(readFileSync(join(dist, f.files.provenance.file), 'utf8'));
      expect(provenance.profile).toBe(m.profile);
      expect(provenance.runs.length).toBeGreaterThan(0);
    }
  });

  it('carry their provenance in the SVG metadata and the manifest: config hash, render-code hash, engines, runs', () => {
    for (const f of manifest().figures) {
      const svg = readFileSync(join(dist, f.files.svg.file), 'utf8');
      const meta = /<metadata id="provenance">(.*?)<\/metadata>/s.exec(svg);
      expect(meta, `${f.name}.svg has no provenance metadata`).not.toBeNull();
      const inSvg = JSON.parse(meta![1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
      const file = JSON.parse(readFileSync(join(dist, f.files.provenance.file), 'utf8'));
      expect(inSvg).toEqual(file);
      expect(file.specHash).toMatch(/^[0-9a-f]{16}$/);
      expect(file.renderCode).toMatch(/^[0-9a-f]{16}$/);
      expect(file.engines.length).toBeGreaterThan(0);
      expect(f).toMatchObject({ specHash: file.specHash, renderCode: file.renderCode, engines: file.engines });
    }
  });

  it("draw figure.json's title as their title (said there only: the render step puts it into the spec)", () => {
    for (const f of manifest().figures) {
      const svg = readFileSync(join(dist, f.files.svg.file), 'utf8');
      const titles = [...svg.matchAll(/class="mark-text role-title-text"[^>]*><text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
      const { title } = JSON.parse(readFileSync(join(REPO, 'figures', f.name, 'figure.json'), 'utf8'));
      // Facet headers are title texts too; the figure's own title comes last, once.
      expect(titles.at(-1), f.name).toBe(title);
      expect(titles.filter((t) => t === title), f.name).toHaveLength(1);
      expect(f.title).toBe(title);
    }
  });

  it('are PNGs at twice the SVG size with ink on them, and SVGs that declare their size', () => {
    for (const f of manifest().figures) {
      const svg = readFileSync(join(dist, f.files.svg.file), 'utf8');
      const size = /<svg[^>]*\swidth="(\d+(?:\.\d+)?)"[^>]*\sheight="(\d+(?:\.\d+)?)"/.exec(svg);
      expect(size, `${f.name}.svg declares no width and height`).not.toBeNull();
      const png = PNG.sync.read(readFileSync(join(dist, f.files.png.file)));
      expect(png.width).toBe(Math.round(2 * Number(size![1])));
      expect(png.height).toBe(Math.round(2 * Number(size![2])));
      let ink = 0;
      for (let i = 0; i < png.data.length; i += 4) if (png.data[i] < 128 || png.data[i + 1] < 128 || png.data[i + 2] < 128) ink++;
      expect(ink / (png.width * png.height), `${f.name}.png is blank`).toBeGreaterThan(0.005);
    }
  });

  it('open in the gallery (index.html) in Chromium: every image loads, no console errors; a slider shows every frame of its figure', async () => {
    const served = await serveDir(dist);
    try {
      mkdirSync(join(REPO, 'test-results'), { recursive: true });
      const shot = join(REPO, 'test-results', `gallery-${manifest().profile}.png`);
      // Each slider moved to its last frame: the frame it then shows, loaded, and its caption.
      const page = await openPage(`${served.url}/index.html`, shot, (p) => p.$$eval('.slider', async (sliders) => Promise.all(sliders.map(async (s) => {
        const input = s.querySelector('input')!, img = s.querySelector('img')!;
        input.value = input.max;
        input.dispatchEvent(new Event('input'));
        await img.decode();
        return { max: Number(input.max), src: img.src, width: img.naturalWidth, caption: s.querySelector('output')!.textContent };
      }))));
      expect(page.status).toBe(200);
      expect(page.consoleErrors).toEqual([]);
      expect(page.pageErrors).toEqual([]);
      const shown = page.images.map((i) => decodeURIComponent(new URL(i.src).pathname.slice(1)));
      const figures = manifest().figures;
      expect(shown.filter((f) => f.endsWith('.svg')).sort()).toEqual(figures.map((f) => f.files.svg.file).sort());
      expect(shown.filter((f) => !f.endsWith('.svg')).sort()).toEqual(figures.filter((f) => f.frames).map((f) => f.frames![0].file).sort());
      for (const img of page.images) expect(img.naturalWidth, img.src).toBeGreaterThan(0);
      const withFrames = figures.filter((f) => f.frames);
      expect(withFrames.length).toBeGreaterThan(0); // training-dynamics
      const moved = page.interaction as { max: number; src: string; width: number; caption: string }[];
      expect(moved.map((m) => decodeURIComponent(new URL(m.src).pathname.slice(1)))).toEqual(withFrames.map((f) => f.frames!.at(-1)!.file));
      for (const [i, m] of moved.entries()) {
        expect(m.max).toBe(withFrames[i].frames!.length - 1);
        expect(m.width).toBeGreaterThan(0);
        expect(m.caption).toMatch(/^\d+$/); // the step of the last snapshot
      }
      expect(existsSync(shot)).toBe(true);
    } finally {
      await served.close();
    }
  }, 120_000);
});

/** The blog post, every figure of the build included (in the profile's namespace), as a reader's browser loads it. */
describe('the blog post with every figure', () => {
  const POST = '_posts/2022-12-26-Superposition-Memorization-and-Double-Descent.md';
  const PAGE = 'health/Superposition-Memorization-and-Double-Descent.html';
  const LIMIT = 5_000_000;

  it('builds with Jekyll and transfers under 5 MB, on an ordinary screen and on a 2x one, with every image loaded', async () => {
    const m = manifest();
    const ns = namespaceOf(m.profile, loadExperiment('experiment.json', REPO).defaultProfile);
    const tmp = mkdtempSync(join(tmpdir(), 'smdd-weight-'));
    try {
      const site = join(tmp, 'site');
      cpSync(join(REPO, 'tests', 'fixtures', 'site'), site, { recursive: true });
      // The post's own include lines, in this profile's namespace, then every figure it does not include yet.
      const names = m.figures.map((f) => f.name);
      let post = readFileSync(join(site, POST), 'utf8').replace(/\{% include figures\/([a-z0-9-]+)\.html %\}/g, (_, n) => `{% include ${ns.include(n)} %}`);
      for (const n of names) if (!post.includes(`{% include ${ns.include(n)} %}`)) post += `\n{% include ${ns.include(n)} %}\n`;
      writeFileSync(join(site, POST), post);
      publishSite({ site, profile: m.profile, dist: dirname(dist), root: REPO });
      const out = join(tmp, 'built');
      const j = spawnSync('jekyll', ['build', '--source', site, '--destination', out, '--disable-disk-cache', '--quiet'], { cwd: tmp, encoding: 'utf8' });
      expect(j.status, j.stdout + j.stderr).toBe(0);
      const served = await serveDir(out);
      try {
        const weights: Record<string, unknown> = { profile: m.profile, figures: names.length, limit: LIMIT };
        for (const scale of [1, 2]) {
          const page = await openPage(`${served.url}/${PAGE}`, join(REPO, 'test-results', `post-${m.profile}-${scale}x.png`), undefined, { deviceScaleFactor: scale, scrollThrough: true });
          expect(page.status).toBe(200);
          expect(page.consoleErrors).toEqual([]);
          expect(page.images.length).toBe(names.length);
          for (const img of page.images) expect(img.naturalWidth, img.currentSrc).toBeGreaterThan(0);
          // The image each figure took: the 1x or 2x PNG by the screen, or a light SVG.
          const chosen = page.images.map((i) => new URL(i.currentSrc).pathname.split('/').pop());
          if (scale === 2) expect(chosen.filter((c) => c!.endsWith('.png')).every((c) => c!.endsWith('@2x.png')), chosen.join(' ')).toBe(true);
          weights[`${scale}x`] = { bytes: page.transferredBytes, responses: page.responses.map((r) => ({ path: new URL(r.url).pathname, bytes: r.bytes })) };
          process.stdout.write(`post page with ${names.length} figures of ${m.profile} at ${scale}x: ${(page.transferredBytes / 1e6).toFixed(2)} MB transferred\n`);
          expect(page.transferredBytes).toBeLessThan(LIMIT);
        }
        mkdirSync(join(REPO, 'test-results'), { recursive: true });
        writeFileSync(join(REPO, 'test-results', `page-weight-${m.profile}.json`), JSON.stringify(weights, null, 1) + '\n');
      } finally {
        await served.close();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
