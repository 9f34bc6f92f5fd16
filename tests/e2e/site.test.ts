import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadFigure } from '../../pipeline/config/figures.ts';
import { loadExperiment, selectProfile } from '../../pipeline/config/load.ts';
import { openPage, serveDir } from './browser.ts';
import { build, listFiles, makeWorkspace, removeWorkspace, REPO } from './workspace.ts';

/**
 * `npm run publish -- <site>` puts a built profile's figures into a Jekyll site, and a post shows each with
 * one include line: checked with the real Jekyll and the system's Chromium on the blog post itself.
 */
const FIXTURE = join(REPO, 'tests', 'fixtures', 'site');
const POST = '_posts/2022-12-26-Superposition-Memorization-and-Double-Descent.md';
const POST_PAGE = 'health/Superposition-Memorization-and-Double-Descent.html';
const IMAGES = 'images/superposition-double-descent';
const SCREENSHOT = join(REPO, 'test-results', 'site-post.png');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.on('close', (status) => ok({ status, stdout, stderr })));
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** Every file under `dir` with its SHA-256 and mtime: what "changed nothing" compares. */
const snapshot = (dir: string) => Object.fromEntries(listFiles(dir).map((f) => [f, { sha256: sha256(join(dir, f)), mtimeMs: statSync(join(dir, f)).mtimeMs }]));

describe('publishing figures into a Jekyll site', () => {
  let ws: string;
  let tmp: string;
  let figures: string[];
  let site: string; // published once, in beforeAll
  let first: Run;
  const publish = (...args: string[]) => run('npm', ['run', '--silent', 'publish', '--', ...args], ws);
  let count = 0;
  const freshSite = () => {
    const dir = join(tmp, `site-${++count}`);
    cpSync(FIXTURE, dir, { recursive: true });
    return dir;
  };

  beforeAll(async () => {
    ws = makeWorkspace('smdd-site');
    tmp = mkdtempSync(join(tmpdir(), 'smdd-site-out-'));
    const b = await build(ws, 'quick');
    expect(b.status, b.output).toBe(0);
    figures = selectProfile(loadExperiment('experiment.json', ws), 'quick').profile.figures;
    site = freshSite();
    first = await publish(site, '--profile', 'quick');
    expect(first.status, first.stderr).toBe(0);
  });
  afterAll(() => {
    removeWorkspace(ws);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('copies each figure\'s SVG and PNG, and writes one include per figure and the data file', () => {
    const n = figures.length;
    expect(first.stderr).toContain(`published ${n} figures of profile "quick" into ${site}; ${3 * n + 1} files written, 0 unchanged`);
    for (const name of figures) {
      for (const ext of ['svg', 'png']) expect(sha256(join(site, IMAGES, `${name}.${ext}`))).toBe(sha256(join(ws, 'dist', 'quick', `${name}.${ext}`)));
      expect(readFileSync(join(site, '_includes', 'figures', `${name}.html`), 'utf8')).toContain(`site.data.superposition_figures.figures["${name}"]`);
    }
  });

  it('the data file gives each figure its site paths, title, caption, alt text, sizes and provenance', () => {
    const data = JSON.parse(readFileSync(join(site, '_data', 'superposition_figures.json'), 'utf8'));
    expect(data.profile).toBe('quick');
    expect(Object.keys(data.figures)).toEqual(figures);
    for (const name of figures) {
      const f = data.figures[name];
      const figure = loadFigure(name, ws);
      expect(f).toMatchObject({ svg: `/${IMAGES}/${name}.svg`, png: `/${IMAGES}/${name}.png`, title: figure.title, caption: figure.description, alt: figure.title });
      expect(f.pngWidth).toBe(2 * f.width); // the PNG is drawn at 2x the SVG's size
      expect(f.pngHeight).toBe(2 * f.height);
      const { commit, ...provenance } = f.provenance;
      expect(provenance).toEqual(JSON.parse(readFileSync(join(ws, 'dist', 'quick', `${name}.provenance.json`), 'utf8')));
      expect(provenance.runs.length).toBeGreaterThan(0);
      for (const r of provenance.runs) expect(r.spec).toMatch(/^[0-9a-f]{16}$/);
      expect(commit).toBeNull(); // the workspace copy is no git repository
    }
  });

  it('records what it wrote with each file\'s SHA-256, and touches no file of the site\'s own', () => {
    const record = JSON.parse(readFileSync(join(site, '_data', 'superposition_figures.publish.json'), 'utf8'));
    const own = listFiles(FIXTURE);
    const written = listFiles(site).filter((f) => !own.includes(f) && f !== '_data/superposition_figures.publish.json');
    expect(Object.keys(record.files).sort()).toEqual(written);
    for (const f of written) expect(record.files[f]).toBe(sha256(join(site, f)));
    for (const f of own) expect(sha256(join(site, f)), f).toBe(sha256(join(FIXTURE, f)));
  });

  it('a second publish changes nothing: every file keeps its bytes and its mtime', async () => {
    const before = snapshot(site);
    const again = await publish(site, '--profile', 'quick');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(`0 files written, ${3 * figures.length + 1} unchanged`);
    expect(snapshot(site)).toEqual(before);
  });

  it('the post, built by Jekyll, shows every included figure in Chromium with no console error', async () => {
    const out = join(tmp, 'built');
    const j = await run('jekyll', ['build', '--source', site, '--destination', out, '--disable-disk-cache', '--quiet'], tmp);
    expect(j.status, j.stdout + j.stderr).toBe(0);
    const html = readFileSync(join(out, POST_PAGE), 'utf8');
    // The include after the sentence gives a figure of its own, not one inside the sentence's paragraph.
    expect(html).toMatch(/training set size\.<\/p>\s*<figure class="superposition-figure" id="figure-small-datasets">/);
    const includes = readFileSync(join(site, POST), 'utf8').match(/\{% include figures\/[a-z0-9-]+\.html %\}/g) ?? [];
    expect(includes.length).toBe(2);

    const server = await serveDir(out);
    try {
      mkdirSync(join(REPO, 'test-results'), { recursive: true });
      const page = await openPage(`${server.url}/${POST_PAGE}`, SCREENSHOT);
      expect(page.status).toBe(200);
      expect(page.consoleErrors).toEqual([]);
      expect(page.pageErrors).toEqual([]);
      expect(page.images.length).toBe(includes.length);
      for (const img of page.images) {
        expect(img.naturalWidth, img.currentSrc).toBeGreaterThan(0);
        expect(new URL(img.currentSrc).pathname).toMatch(new RegExp(`^/${IMAGES}/[a-z0-9-]+\\.svg$`));
        expect(img.alt).not.toBe('');
      }
    } finally {
      await server.close();
    }
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  }, 120_000);

  it('a site with a baseurl gets its figures under the baseurl', async () => {
    const out = join(tmp, 'built-baseurl');
    const j = await run('jekyll', ['build', '--source', site, '--destination', out, '--baseurl', '/blog', '--disable-disk-cache', '--quiet'], tmp);
    expect(j.status, j.stdout + j.stderr).toBe(0);
    const html = readFileSync(join(out, POST_PAGE), 'utf8');
    const urls = [...html.matchAll(/<(?:img src|source type="image\/svg\+xml" srcset)="([^"]+)"/g)].map((m) => m[1]);
    const included = readFileSync(join(site, POST), 'utf8').match(/\{% include figures\/[a-z0-9-]+\.html %\}/g) ?? [];
    expect(urls.length).toBe(2 * included.length); // each included figure: its SVG source and its PNG fallback
    const server = await serveDir(out, '/blog');
    try {
      for (const url of urls) {
        expect(url.startsWith(`/blog/${IMAGES}/`), url).toBe(true);
        const r = await fetch(new URL(url, server.url));
        expect(r.status, url).toBe(200);
        expect(r.headers.get('content-type'), url).toBe(url.endsWith('.svg') ? 'image/svg+xml' : 'image/png');
      }
    } finally {
      await server.close();
    }
  });

  it('a folder that is not a Jekyll site\'s root is refused, naming it', async () => {
    const dir = freshSite();
    const before = snapshot(dir);
    const r = await publish(join(dir, '_posts'), '--profile', 'quick');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`error: ${join(dir, '_posts')}: not a Jekyll site (it has no _config.yml or _config.yaml); expected the site's root folder`);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a profile that is not built, or a missing figure file, is refused naming it, and nothing is written', async () => {
    const dir = freshSite();
    const before = snapshot(dir);
    const notBuilt = await publish(dir, '--profile', 'post');
    expect(notBuilt.status).not.toBe(0);
    expect(notBuilt.stderr).toContain('error: dist/post: missing: profile "post" is not built; run `npm run build -- post` first');

    const partial = join(tmp, 'dist-partial');
    mkdirSync(join(partial, 'quick'), { recursive: true });
    for (const f of listFiles(join(ws, 'dist', 'quick'))) {
      if (f === 'double-descent.png') continue;
      mkdirSync(dirname(join(partial, 'quick', f)), { recursive: true }); // a slider's frames are in a folder
      copyFileSync(join(ws, 'dist', 'quick', f), join(partial, 'quick', f));
    }
    const missing = await publish(dir, '--profile', 'quick', '--dist', partial);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain(`error: ${partial}/quick/double-descent.png: missing\nrun \`npm run build -- quick\` first`);
    expect(snapshot(dir)).toEqual(before);
  });

  it('an unknown profile or an images folder Jekyll would not copy is refused', async () => {
    const dir = freshSite();
    const [unknown, hidden] = await Promise.all([publish(dir, '--profile', 'nonesuch'), publish(dir, '--images-dir', '_figures')]);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/^error: .*no profile named "nonesuch"; the profiles are .*quick/m);
    expect(hidden.status).not.toBe(0);
    expect(hidden.stderr).toContain('error: --images-dir _figures: expected a folder inside the site that Jekyll copies');
  });

  it('a published file edited by hand is refused and left as it was, and so is everything else', async () => {
    const dir = freshSite();
    expect((await publish(dir, '--profile', 'quick')).status).toBe(0);
    const include = join(dir, '_includes', 'figures', 'small-datasets.html');
    appendFileSync(include, '<!-- my note -->\n');
    const before = snapshot(dir);
    const r = await publish(dir, '--profile', 'quick');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`error: ${include}: edited since it was published`);
    expect(r.stderr).toContain('nothing was written');
    expect(snapshot(dir)).toEqual(before);
  });

  it('a file of the site\'s own where a figure would go is refused, and nothing is written', async () => {
    const dir = freshSite();
    const foreign = join(dir, IMAGES, 'double-descent.png');
    mkdirSync(join(dir, IMAGES), { recursive: true });
    writeFileSync(foreign, 'my own picture\n');
    const before = snapshot(dir);
    const r = await publish(dir, '--profile', 'quick');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`error: ${foreign}: exists but was not published here`);
    expect(snapshot(dir)).toEqual(before);
  });

  it('files it published before and no longer publishes are removed, unless edited since', async () => {
    const dir = freshSite();
    expect((await publish(dir, '--profile', 'quick')).status).toBe(0);
    const edited = join(dir, IMAGES, 'small-datasets.svg');
    appendFileSync(edited, '<!-- mine now -->\n');
    const r = await publish(dir, '--profile', 'quick', '--images-dir', 'assets/figures');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`left ${edited}: no longer published, but edited since it was`);
    expect(listFiles(join(dir, IMAGES))).toEqual(['small-datasets.svg']);
    expect(listFiles(join(dir, 'assets', 'figures'))).toEqual(figures.flatMap((n) => [`${n}.png`, `${n}.svg`]).sort());
    const record = JSON.parse(readFileSync(join(dir, '_data', 'superposition_figures.publish.json'), 'utf8'));
    expect(Object.keys(record.files).filter((f) => f.startsWith(IMAGES))).toEqual([]);
  });
});
