import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { diffBuilds } from '../../pipeline/publish/diff.ts';
import { main } from '../../pipeline/commands/figures-diff.ts';
import { commandStatus, type Output } from '../../pipeline/commands/run.ts';
import { writeGallery } from '../../pipeline/publish/gallery.ts';
import { gitCommit } from '../../pipeline/publish/shared.ts';

const REPO = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'smdd-figdiff-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let folders = 0;
/** A fresh empty folder in the temporary directory. */
function folder(name: string): string {
  const dir = join(tmp, `${folders++}`, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

type Pixel = [number, number, number, number];
const WHITE: Pixel = [255, 255, 255, 255];
const BLACK: Pixel = [0, 0, 0, 255];

/** A PNG of `width` x `height` white pixels, with some pixels set: [x, y, colour]. */
function png(width: number, height: number, set: [number, number, Pixel][] = []): Buffer {
  const img = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) img.data.set(WHITE, i * 4);
  for (const [x, y, c] of set) img.data.set(c, (y * width + x) * 4);
  return PNG.sync.write(img);
}

function pixelAt(file: string, x: number, y: number): Pixel {
  const img = PNG.sync.read(readFileSync(file));
  return [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)] as Pixel;
}

interface FigureSpec {
  png?: Buffer;
  svg?: string;
  profile?: string;
}

/** A built figure as the render stage writes it: <name>.svg, .png and .provenance.json. */
function writeFigure(dir: string, name: string, f: FigureSpec = {}): void {
  writeFileSync(join(dir, `${name}.svg`), f.svg ?? `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="6"><title>${name}</title></svg>\n`);
  writeFileSync(join(dir, `${name}.png`), f.png ?? png(8, 6));
  writeFileSync(join(dir, `${name}.provenance.json`), JSON.stringify({
    figure: name, title: `The ${name} figure`, profile: f.profile ?? 'quick', config: 'experiment.json',
    spec: `figures/${name}/spec.vl.json`, figureFile: `figures/${name}/figure.json`, theme: 'figures/theme.json',
    runs: [{ run: 'T3-m2-s0', dir: 'data/quick/runs/T3-m2-s0', spec: '167fd7d3141130eb' }, { run: 'T5-m2-s0', dir: 'data/quick/runs/T5-m2-s0', spec: '51be36c9f216fe71' }],
  }, null, 1) + '\n');
}

/** A build folder holding these figures (each with the default files unless given). */
function build(name: string, figures: Record<string, FigureSpec>): string {
  const dir = folder(name);
  for (const [fig, spec] of Object.entries(figures)) writeFigure(dir, fig, spec);
  return dir;
}

/** The command in this process, ending as it does (an error: `error: ...` and 2), with `env` for its environment. */
const figuresDiffIn = (env: NodeJS.ProcessEnv, args: string[], io: Output) => commandStatus((argv, out) => main(argv, out, env), args, io);

/** The command in this process: its exit status, stdout, stderr, and the report folder it wrote. */
function figuresDiff(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = join(folder('report'), 'figures-diff');
  const summary = join(folder('summary'), 'summary.md');
  let stdout = '';
  let stderr = '';
  const status = figuresDiffIn(env, [...args, '--out', out, '--summary', summary], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { status, stdout, stderr, out, summary: existsSync(summary) ? readFileSync(summary, 'utf8') : null };
}

describe('figures:diff', () => {
  it('identical builds: prints exactly "no figure changed", exits 0, lists no changed figure', () => {
    const figs = { alpha: {}, beta: { png: png(8, 6, [[1, 1, BLACK]]) } };
    const [a, b] = [build('old', figs), build('new', figs)];
    const r = figuresDiff([a, b]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('no figure changed\n');
    expect(r.stderr).toBe('');
    expect(diffBuilds(a, b).figures.map((f) => [f.name, f.status])).toEqual([['alpha', 'unchanged'], ['beta', 'unchanged']]);
    expect(r.summary).toContain('no figure changed');
    expect(r.summary).toMatch(/\| alpha \| unchanged \|/);
    expect(readFileSync(join(r.out, 'index.html'), 'utf8')).toContain('no figure changed');
  });

  it('one changed pixel: exactly that figure is changed, with a difference image that shows the pixel', () => {
    const a = build('old', { alpha: {}, beta: {}, gamma: {} });
    const b = build('new', { alpha: {}, beta: { png: png(8, 6, [[5, 3, BLACK]]) }, gamma: {} });
    const d = diffBuilds(a, b);
    expect(d.figures.map((f) => [f.name, f.status])).toEqual([['beta', 'changed'], ['alpha', 'unchanged'], ['gamma', 'unchanged']]);
    expect(d.figures[0].differ).toEqual(['png']);
    expect(d.figures[0].pixels?.differing).toBe(1);

    const r = figuresDiff([a, b]);
    expect(r.status, 'a diff is information, not a failure').toBe(0);
    expect(r.stdout).toContain('changed  beta: 1 of 48 pixels differ');
    expect(r.stdout).not.toMatch(/alpha|gamma/);
    const diff = join(r.out, 'images', 'beta.diff.png');
    expect(existsSync(diff)).toBe(true);
    expect(pixelAt(diff, 5, 3), 'the new image is darker here: green').toEqual([0, 160, 0, 255]);
    const [r0, g0, b0] = pixelAt(diff, 0, 0);
    expect(r0 === g0 && g0 === b0 && r0 > 200, `an unchanged pixel is drawn faded grey, found ${[r0, g0, b0]}`).toBe(true);
    // The report is self-contained: old, new and difference copied in, linked relatively.
    const html = readFileSync(join(r.out, 'index.html'), 'utf8');
    for (const img of ['beta.old.png', 'beta.new.png', 'beta.diff.png']) {
      expect(html).toContain(`src="images/${img}"`);
      expect(existsSync(join(r.out, 'images', img))).toBe(true);
    }
    expect(readFileSync(join(r.out, 'images', 'beta.new.png')).equals(readFileSync(join(b, 'beta.png')))).toBe(true);
    expect(existsSync(join(r.out, 'images', 'alpha.old.png')), 'unchanged figures have no images').toBe(false);
    expect(r.summary).toMatch(/\| beta \| changed \| 1 \| png \|/);
    expect(r.summary).toMatch(/\| alpha \| unchanged \|/);
  });

  it('diff.json: the profile and, per figure, status, pixels, sizes, files that differ and its images relative to the report', () => {
    const a = build('old', { kept: {}, beta: {}, gone: { png: png(4, 4) } });
    const b = build('new', { kept: {}, beta: { png: png(10, 6, [[5, 3, BLACK]]) }, fresh: { png: png(5, 7) } });
    const r = figuresDiff([a, b]);
    expect(r.status).toBe(0);
    const none = { old: null, new: null, diff: null };
    expect(JSON.parse(readFileSync(join(r.out, 'diff.json'), 'utf8'))).toEqual({
      format: 1,
      profile: 'quick',
      figures: [
        {
          name: 'beta', status: 'changed', differingPixels: 1, comparedPixels: 60, sizes: { old: { width: 8, height: 6 }, new: { width: 10, height: 6 } },
          differingFiles: ['png'], images: { old: 'images/beta.old.png', new: 'images/beta.new.png', diff: 'images/beta.diff.png' },
        },
        { name: 'fresh', status: 'added', differingPixels: null, comparedPixels: null, sizes: { old: null, new: { width: 5, height: 7 } }, differingFiles: [], images: { ...none, new: 'images/fresh.new.png' } },
        { name: 'gone', status: 'removed', differingPixels: null, comparedPixels: null, sizes: { old: { width: 4, height: 4 }, new: null }, differingFiles: [], images: { ...none, old: 'images/gone.old.png' } },
        { name: 'kept', status: 'unchanged', differingPixels: null, comparedPixels: null, sizes: { old: { width: 8, height: 6 }, new: { width: 8, height: 6 } }, differingFiles: [], images: none },
      ],
    });
    for (const f of ['beta.old.png', 'beta.new.png', 'beta.diff.png', 'fresh.new.png', 'gone.old.png']) expect(existsSync(join(r.out, 'images', f)), f).toBe(true);
  });

  it('the job summary says where the images are (the run\'s artifact, the pull request comment), not a path on the runner', () => {
    const a = build('old', { alpha: {} });
    const b = build('new', { alpha: { png: png(8, 6, [[0, 0, BLACK]]) } });
    const r = figuresDiff([a, b]);
    expect(r.summary).toContain('in the artifact `figures-diff` of this run, and the figures comment on the pull request');
    expect(r.summary).not.toContain(r.out);
    expect(r.stdout, 'on a terminal the report\'s path is what to open').toContain(`report: ${join(r.out, 'index.html')}`);
    expect(figuresDiff([a, a]).summary, 'nothing to look at').not.toContain('artifact');
  });

  it('a PNG that is not one is refused even for an unchanged figure, naming it (diff.json gives every PNG\'s size)', () => {
    const a = build('old', { alpha: { png: Buffer.from('not a png at all, but long enough') } });
    const r = figuresDiff([a, a]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: ${join(a, 'alpha.png')}: not a PNG (no PNG signature and IHDR header)\n`);
  });

  it('a figure whose SVG alone changed is changed, with 0 differing pixels', () => {
    const a = build('old', { alpha: {} });
    const b = build('new', { alpha: { svg: '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="6"><title>other</title></svg>\n' } });
    const [f] = diffBuilds(a, b).figures;
    expect(f.status).toBe('changed');
    expect(f.differ).toEqual(['svg']);
    expect(f.pixels?.differing).toBe(0);
    expect(figuresDiff([a, b]).stdout).toContain('the PNGs are pixel-identical; files that differ: svg');
  });

  it('images of different sizes are compared on the larger canvas padded with white, and the size change is said', () => {
    const a = build('old', { alpha: { png: png(8, 6) } });
    const b = build('new', { alpha: { png: png(10, 6, [[9, 0, BLACK]]) } });
    const [f] = diffBuilds(a, b).figures;
    expect(f.pixels).toMatchObject({ old: { width: 8, height: 6 }, new: { width: 10, height: 6 }, canvas: { width: 10, height: 6 }, differing: 1 });
    const r = figuresDiff([a, b]);
    expect(r.stdout).toContain('size changed: 8×6 -> 10×6');
    expect(PNG.sync.read(readFileSync(join(r.out, 'images', 'alpha.diff.png'))).width).toBe(10);
    expect(r.summary).toContain('(size changed)');
  });

  it('added and removed figures are listed as such; --fail-on-change makes any of them exit 1', () => {
    const a = build('old', { kept: {}, gone: {} });
    const b = build('new', { kept: {}, fresh: {} });
    expect(diffBuilds(a, b).figures.map((f) => [f.name, f.status])).toEqual([['fresh', 'added'], ['gone', 'removed'], ['kept', 'unchanged']]);
    const r = figuresDiff([a, b]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^added +fresh$/m);
    expect(r.stdout).toMatch(/^removed +gone$/m);
    expect(r.stdout).toContain('0 changed, 1 added, 1 removed, 1 unchanged');
    expect(existsSync(join(r.out, 'images', 'fresh.new.png'))).toBe(true);
    expect(existsSync(join(r.out, 'images', 'gone.old.png'))).toBe(true);
    expect(r.summary).toMatch(/\| fresh \| added \|/);
    expect(r.summary).toMatch(/\| gone \| removed \|/);
    expect(figuresDiff([a, b, '--fail-on-change']).status).toBe(1);
    expect(figuresDiff([a, a, '--fail-on-change']).status).toBe(0);
  });

  it('two builds of different profiles are refused, naming both profiles and folders', () => {
    const a = build('quick', { alpha: { profile: 'quick' } });
    const b = build('post', { alpha: { profile: 'post' } });
    const r = figuresDiff([a, b]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toContain(`${a} is a build of profile quick`);
    expect(r.stderr).toContain(`${b} is a build of profile post`);
  });

  it('a manifest.json, when present, gives the profile', () => {
    const a = build('quick', { alpha: {} });
    const b = build('quick', { alpha: {} });
    writeFileSync(join(b, 'manifest.json'), JSON.stringify({ profile: 'paper', figures: [] }));
    expect(figuresDiff([a, b]).stderr).toContain(`${b} is a build of profile paper`);
  });

  it('a missing folder, or one without figures, is refused, naming it', () => {
    const a = build('quick', { alpha: {} });
    const missing = join(tmp, 'dist', 'post');
    let r = figuresDiff([a, missing]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: ${missing}: no such folder; run \`npm run build -- post\` first\n`);
    const empty = folder('dist');
    writeFileSync(join(empty, 'alpha.png'), png(2, 2));
    r = figuresDiff([empty, a]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error: ${empty}: no figures here (no *.provenance.json); run \``);
    expect(figuresDiff([a]).stderr).toContain('expected two built profile folders');
  });

  it('the Markdown summary goes to $GITHUB_STEP_SUMMARY (appended) when no --summary is given', () => {
    const a = build('old', { alpha: {} });
    const b = build('new', { alpha: { png: png(8, 6, [[0, 0, BLACK]]) } });
    const file = join(folder('gh'), 'step-summary.md');
    writeFileSync(file, 'earlier step\n');
    const out = join(folder('report'), 'r');
    expect(main([a, b, '--out', out], { stdout: () => {}, stderr: () => {} }, { GITHUB_STEP_SUMMARY: file })).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('earlier step\n### Figures of profile `quick`: 1 changed')).toBe(true);
  });

  it('the report and summary are the same bytes every time (no clock, sorted names)', () => {
    const a = build('old', { b: {}, a: {}, c: {} });
    const b = build('new', { c: { png: png(8, 6, [[2, 2, BLACK]]) }, a: { png: png(8, 6, [[3, 3, BLACK]]) }, b: {} });
    const out = join(folder('report'), 'r');
    const summary = join(folder('summary'), 'summary.md');
    const run = () => {
      let stdout = '';
      main([a, b, '--out', out, '--summary', summary], { stdout: (s) => (stdout += s), stderr: () => {} }, {});
      const files = ['index.html', 'images/a.diff.png', 'images/c.diff.png'].map((f) => readFileSync(join(out, f)));
      return { stdout, summary: readFileSync(summary, 'utf8'), files };
    };
    const [r1, r2] = [run(), run()];
    r1.files.forEach((f, i) => expect(f.equals(r2.files[i])).toBe(true));
    expect(r1.summary).toBe(r2.summary);
    expect(r1.stdout).toBe(r2.stdout);
    expect(r1.stdout.indexOf('changed  a')).toBeLessThan(r1.stdout.indexOf('changed  c'));
  });

  it('the report folder replaces an earlier report but never another folder', () => {
    const a = build('old', { alpha: {} });
    const out = folder('not-a-report');
    writeFileSync(join(out, 'notes.txt'), 'mine');
    let stderr = '';
    expect(figuresDiffIn({}, [a, a, '--out', out], { stdout: () => {}, stderr: (s) => (stderr += s) })).toBe(2);
    expect(stderr).toContain(`${out}: exists and is not a figures-diff report`);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    const report = join(folder('report'), 'r');
    const b = build('new', { alpha: { png: png(8, 6, [[0, 0, BLACK]]) } });
    expect(main([a, b, '--out', report], { stdout: () => {}, stderr: () => {} }, {})).toBe(0);
    expect(main([a, a, '--out', report], { stdout: () => {}, stderr: () => {} }, {})).toBe(0);
    expect(existsSync(join(report, 'images', 'alpha.diff.png')), 'images of the earlier report are gone').toBe(false);
  });

  it('runs as `npm run figures:diff`: exit 0 and "no figure changed", exit 2 and an error on stderr', () => {
    const a = build('old', { alpha: {} });
    const cwd = folder('cwd');
    // npm runs the script in the repository: the report goes to a temporary folder, not to its default there.
    const run = (...args: string[]) => spawnSync('npm', ['run', '--silent', '--prefix', REPO, 'figures:diff', '--', ...args, '--out', join(cwd, 'report')], {
      cwd, encoding: 'utf8', env: { ...process.env, GITHUB_STEP_SUMMARY: '' },
    });
    let r = run(a, a);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('no figure changed\n');
    expect(existsSync(join(cwd, 'report', 'index.html'))).toBe(true);
    r = run(a, join(cwd, 'nowhere'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error: ${join(cwd, 'nowhere')}: no such folder`);
  }, 30_000);
});

describe('the gallery of a profile', () => {
  /** A workspace with figures/<name>/figure.json and a built dist/quick/. */
  function workspace(names: string[]): { root: string; dist: string } {
    const root = folder('ws');
    const dist = join(root, 'dist', 'quick');
    mkdirSync(dist, { recursive: true });
    for (const name of names) {
      mkdirSync(join(root, 'figures', name), { recursive: true });
      writeFileSync(join(root, 'figures', name, 'figure.json'), JSON.stringify({
        title: `Title of ${name}`, description: `What ${name} shows & why <b>`, m: 2, sizes: [3, 5], tables: ['vectors'],
      }));
      writeFigure(dist, name, { png: png(8, 6, [[names.indexOf(name), 0, BLACK]]) });
    }
    return { root, dist };
  }

  it('index.html shows every figure in the profile\'s order, each <img> pointing at a file that exists', () => {
    const { root, dist } = workspace(['zeta', 'alpha', 'mid']);
    writeGallery(dist, { profile: 'quick', figures: ['zeta', 'alpha', 'mid'], root });
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const srcs = [...html.matchAll(/<img [^>]*src="([^"]+)"/g)].map((m) => m[1]);
    expect(srcs).toEqual(['zeta.svg', 'alpha.svg', 'mid.svg']);
    for (const src of srcs) expect(existsSync(join(dist, src)), src).toBe(true);
    expect(html).toContain('<a href="zeta.png"><img src="zeta.svg" width="8" height="6"');
    expect(html).toContain('<h2>Title of zeta</h2>');
    expect(html).toContain('What zeta shows &amp; why &lt;b&gt;');
    expect(html).toContain('<details><summary>Provenance</summary>');
    expect(html).toContain('167fd7d3141130eb');
    expect(html).toContain('figures/zeta/spec.vl.json');
    expect(html, 'a static page').not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('manifest.json lists the figures sorted, with the SHA-256 of each file, and the commit (null without git)', () => {
    const { root, dist } = workspace(['zeta', 'alpha']);
    writeGallery(dist, { profile: 'quick', figures: ['zeta', 'alpha'], root });
    const manifest = JSON.parse(readFileSync(join(dist, 'manifest.json'), 'utf8'));
    expect(manifest.profile).toBe('quick');
    expect(manifest.commit).toBeNull();
    expect(manifest.figures.map((f: { name: string }) => f.name)).toEqual(['alpha', 'zeta']);
    for (const f of manifest.figures) {
      expect(f.title).toBe(`Title of ${f.name}`);
      expect(Object.keys(f.files)).toEqual(['svg', 'png', 'provenance']);
      for (const { file, sha256 } of Object.values(f.files) as { file: string; sha256: string }[])
        expect(sha256, file).toBe(createHash('sha256').update(readFileSync(join(dist, file))).digest('hex'));
    }
    const before = readFileSync(join(dist, 'manifest.json'));
    writeGallery(dist, { profile: 'quick', figures: ['zeta', 'alpha'], root });
    expect(readFileSync(join(dist, 'manifest.json')).equals(before), 'the same bytes again').toBe(true);
  });

  it('takes the commit from git when the workspace is a repository', () => {
    const commit = gitCommit(REPO);
    if (commit !== null) expect(commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('refuses a figure that is not built, naming its file', () => {
    const { root, dist } = workspace(['alpha']);
    expect(() => writeGallery(dist, { profile: 'quick', figures: ['alpha', 'beta'], root })).toThrow(`${join(dist, 'beta.svg')}: missing`);
    expect(() => writeGallery(dist, { profile: 'post', figures: ['alpha'], root })).toThrow('is a figure of profile quick, not post');
  });
});
