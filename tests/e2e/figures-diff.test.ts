import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { REPO, build, editJson, listFiles, makeWorkspace, removeWorkspace } from './workspace.ts';

/**
 * A figure's spec is edited between two builds of a profile: figures:diff lists exactly that figure
 * as changed, with a difference image showing the edit, and figures:comment turns that report into the
 * pull request's comment and stages its images. A tiny profile keeps the builds short.
 */
describe('figures:diff between two real builds', () => {
  let dir: string;
  let before: string;
  const tsx = (...args: string[]) => spawnSync(join(dir, 'node_modules/.bin/tsx'), args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GITHUB_STEP_SUMMARY: '' } });

  beforeAll(async () => {
    dir = makeWorkspace('smdd-figdiff');
    before = mkdtempSync(join(tmpdir(), 'smdd-figdiff-before-'));
    editJson(join(dir, 'experiment.json'), (c) => {
      c.profiles.tiny = {
        extends: 'quick', description: 'two small runs',
        data: { testSetSize: 500 }, training: { steps: 60, warmupSteps: 5, initsPerRun: 1, lossCurvePoints: 3 }, datasetSizes: [3, 5], figures: ['small-datasets', 'double-descent'],
      };
    });
    const r = await build(dir, 'tiny');
    expect(r.status, r.output.slice(-3000)).toBe(0);
    cpSync(join(dir, 'dist', 'tiny'), join(before, 'tiny'), { recursive: true });
  });
  afterAll(() => {
    removeWorkspace(dir);
    rmSync(before, { recursive: true, force: true });
  });

  it('an unchanged rebuild: "no figure changed"', () => {
    const r = tsx('pipeline/commands/figures-diff.ts', join(before, 'tiny'), 'dist/tiny', '--out', 'report-same');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('no figure changed\n');
  });

  it('after editing one figure\'s spec, exactly that figure is changed, with a difference image of the edit', async () => {
    editJson(join(dir, 'figures/small-datasets/spec.vl.json'), (s) => (s.spec.encoding.color.scale.range = ['#000000', '#d0312d'])); // feature vectors in black
    const rebuilt = await build(dir, 'tiny');
    expect(rebuilt.status, rebuilt.output.slice(-3000)).toBe(0);
    expect(rebuilt.ran).toEqual(['tiny-figure-small-datasets:render']);

    const r = tsx('pipeline/commands/figures-diff.ts', join(before, 'tiny'), 'dist/tiny', '--summary', 'summary.md');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^changed +small-datasets: [\d,]+ of [\d,]+ pixels differ/m);
    expect(r.stdout).toContain('1 changed, 0 added, 0 removed, 1 unchanged');
    expect(r.stdout).not.toContain('double-descent');
    const diff = PNG.sync.read(readFileSync(join(dir, 'figures-diff/images/small-datasets.diff.png')));
    let marked = 0;
    for (let i = 0; i < diff.data.length; i += 4) if (diff.data[i] !== diff.data[i + 1] || diff.data[i + 1] !== diff.data[i + 2]) marked++;
    expect(marked, 'pixels drawn in colour in the difference image').toBeGreaterThan(0);
    const html = readFileSync(join(dir, 'figures-diff/index.html'), 'utf8');
    for (const img of ['old', 'new', 'diff']) expect(html).toContain(`src="images/small-datasets.${img}.png"`);
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toMatch(/\| small-datasets \| changed \| [\d,]+ \| svg, png \|/);
    expect(tsx('pipeline/commands/figures-diff.ts', join(before, 'tiny'), 'dist/tiny', '--fail-on-change').status).toBe(1);
  }, 120_000);

  it('figures:comment on that report: the changed figure\'s three images by URL, the unchanged one by name; --stage copies exactly those', () => {
    const base = 'https://github.com/owner/repo/raw/0123456789abcdef0123456789abcdef01234567';
    const prefix = 'pr-7/89abcdef0123456789abcdef0123456789abcdef';
    const diffJson = JSON.parse(readFileSync(join(dir, 'figures-diff/diff.json'), 'utf8'));
    expect(diffJson.figures.map((f: { name: string; status: string }) => `${f.name} ${f.status}`)).toEqual(['small-datasets changed', 'double-descent unchanged']);

    const r = tsx('pipeline/commands/figures-comment.ts', 'figures-diff', '--stage', 'staged', '--prefix', prefix, '--image-base', base, '--out', 'comment.md');
    expect(r.status, r.stderr).toBe(0);
    const md = readFileSync(join(dir, 'comment.md'), 'utf8');
    mkdirSync(join(REPO, 'test-results'), { recursive: true });
    writeFileSync(join(REPO, 'test-results', 'figures-comment.md'), md); // to read what a pull request would show
    expect(md.split('\n').slice(0, 2)).toEqual(['<!-- figures-diff:tiny -->', '### Figures of profile `tiny`: 1 changed, 0 added, 0 removed, 1 unchanged']);
    expect(md).toMatch(/^#### `small-datasets` changed: [\d,]+ of [\d,]+ pixels differ \([\d.<]+%\); files that differ: svg, png$/m);
    const images = ['old', 'new', 'diff'].map((k) => `small-datasets.${k}.png`);
    for (const img of images) expect(md).toContain(`<img src="${base}/${prefix}/${img}" width="260"`);
    expect(md).toContain('\nUnchanged: `double-descent`\n');
    expect(md).not.toMatch(/double-descent\.(old|new|diff)\.png/);

    expect(listFiles(join(dir, 'staged'))).toEqual(images.map((f) => `${prefix}/${f}`).sort());
    for (const img of images) expect(readFileSync(join(dir, 'staged', prefix, img)).equals(readFileSync(join(dir, 'figures-diff/images', img))), img).toBe(true);

    // The unchanged rebuild's report: the comment says so, and there is nothing to stage.
    const same = tsx('pipeline/commands/figures-comment.ts', 'report-same', '--stage', 'staged-same', '--prefix', prefix);
    expect(same.status, same.stderr).toBe(0);
    expect(same.stdout).toBe('');
    expect(tsx('pipeline/commands/figures-comment.ts', 'report-same').stdout).toBe('<!-- figures-diff:tiny -->\nno figure changed\n');
  });

  it('the gallery page and manifest of the build, which figures:diff then reads the profile from', () => {
    const g = tsx('pipeline/commands/gallery.ts', '--profile', 'tiny');
    expect(g.status, g.stderr).toBe(0);
    const html = readFileSync(join(dir, 'dist/tiny/index.html'), 'utf8');
    const srcs = [...html.matchAll(/<img [^>]*src="([^"]+)"/g)].map((m) => m[1]);
    expect(srcs).toEqual(['small-datasets.svg', 'double-descent.svg']);
    for (const src of srcs) expect(existsSync(join(dir, 'dist/tiny', src))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'dist/tiny/manifest.json'), 'utf8')).profile).toBe('tiny');
    const r = tsx('pipeline/commands/figures-diff.ts', 'dist/tiny', 'dist/tiny', '--out', 'report-self');
    expect(r.stdout).toBe('no figure changed\n');
  });
});
