import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { PNG } from 'pngjs';
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
