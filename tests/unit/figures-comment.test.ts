import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { composeComment, markdownText, readReport } from '../../pipeline/publish/comment.ts';
import type { DiffJson, DiffJsonFigure } from '../../pipeline/publish/diff.ts';
import { main } from '../../pipeline/commands/figures-comment.ts';
import { main as figuresDiff } from '../../pipeline/commands/figures-diff.ts';
import { commandStatus } from '../../pipeline/commands/run.ts';

/**
 * figures:comment on hand-made report folders: the Markdown of the pull request's comment, the staged
 * images, and a diff.json from a fork that tries to smuggle Markdown, HTML or paths in, which is refused.
 */

const REPO = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'smdd-figcomment-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let folders = 0;
const folder = (name: string) => {
  const dir = join(tmp, `${folders++}`, name);
  mkdirSync(dir, { recursive: true });
  return dir;
};

function png(width: number, height: number): Buffer {
  const img = new PNG({ width, height });
  img.data.fill(255);
  return PNG.sync.write(img);
}

const size = (width: number, height: number) => ({ width, height });
const none = { old: null, new: null, diff: null };
const imgs = (name: string, kinds: ('old' | 'new' | 'diff')[]) => ({ ...none, ...Object.fromEntries(kinds.map((k) => [k, `images/${name}.${k}.png`])) });

/** A figure of diff.json as figures:diff writes it, for each status. */
const FIGS = {
  changed: (name: string, differing = 1234, sizes = { old: size(400, 300), new: size(400, 300) }): DiffJsonFigure => ({
    name, status: 'changed', differingPixels: differing, comparedPixels: Math.max(sizes.old.width, sizes.new.width) * Math.max(sizes.old.height, sizes.new.height),
    sizes, differingFiles: ['svg', 'png'], images: imgs(name, ['old', 'new', 'diff']),
  }),
  added: (name: string): DiffJsonFigure => ({ name, status: 'added', differingPixels: null, comparedPixels: null, sizes: { old: null, new: size(400, 300) }, differingFiles: [], images: imgs(name, ['new']) }),
  removed: (name: string): DiffJsonFigure => ({ name, status: 'removed', differingPixels: null, comparedPixels: null, sizes: { old: size(400, 300), new: null }, differingFiles: [], images: imgs(name, ['old']) }),
  unchanged: (name: string): DiffJsonFigure => ({ name, status: 'unchanged', differingPixels: null, comparedPixels: null, sizes: { old: size(400, 300), new: size(400, 300) }, differingFiles: [], images: none }),
};

/** A report folder: diff.json as given (any JSON, for the hostile cases), and a small PNG for every image it lists. */
function report(diff: unknown, { images = true } = {}): string {
  const dir = folder('report');
  mkdirSync(join(dir, 'images'), { recursive: true });
  writeFileSync(join(dir, 'diff.json'), typeof diff === 'string' ? diff : JSON.stringify(diff, null, 1));
  const figures = (diff as { figures?: { images?: Record<string, unknown> }[] })?.figures;
  if (images && Array.isArray(figures))
    for (const f of figures) for (const p of Object.values(f?.images ?? {})) if (typeof p === 'string' && /^images\/[a-z0-9.-]+$/.test(p)) writeFileSync(join(dir, p), png(4, 3));
  return dir;
}

const diffJson = (figures: DiffJsonFigure[], profile = 'post'): DiffJson => ({ format: 1, profile, figures });

/** figures:comment in this process, ending as the command does: its exit status, stdout and stderr. */
function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = commandStatus(main, args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { status, stdout, stderr };
}

const BASE = 'https://github.com/owner/repo/raw/0123456789abcdef0123456789abcdef01234567';
const PREFIX = 'pr-12/89abcdef0123456789abcdef0123456789abcdef';
const url = (file: string) => `${BASE}/${PREFIX}/${file}`;

describe('figures:comment composes the pull request comment', () => {
  const all = report(diffJson([FIGS.changed('double-descent'), FIGS.added('new-figure'), FIGS.removed('old-figure'), FIGS.unchanged('heatmap'), FIGS.unchanged('norms')]));

  it('the marker first, then the counts; each changed, added or removed figure with its images inline; the unchanged by name', () => {
    const r = run([all, '--image-base', BASE, '--prefix', PREFIX]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const md = r.stdout;
    const lines = md.split('\n');
    expect(lines[0]).toBe('<!-- figures-diff:post -->');
    expect(lines[1]).toBe('### Figures of profile `post`: 1 changed, 1 added, 1 removed, 2 unchanged');
    expect(md).toContain('#### `double-descent` changed: 1,234 of 120,000 pixels differ (1.03%); files that differ: svg, png\n');
    // The changed figure: a table of old | new | difference, each image linked to itself at full size.
    expect(md).toContain('| old | new | difference |\n|:---:|:---:|:---:|\n');
    for (const [kind, label] of [['old', 'old'], ['new', 'new'], ['diff', 'difference']])
      expect(md).toContain(`<a href="${url(`double-descent.${kind}.png`)}"><img src="${url(`double-descent.${kind}.png`)}" width="260" alt="double-descent: ${label}"></a>`);
    expect(md).toContain(`#### \`new-figure\` added\n\n| new |\n|:---:|\n| <a href="${url('new-figure.new.png')}">`);
    expect(md).toContain(`#### \`old-figure\` removed\n\n| old |\n|:---:|\n| <a href="${url('old-figure.old.png')}">`);
    expect(md).toContain('Unchanged: `heatmap`, `norms`\n');
    expect(md).not.toMatch(/heatmap\.(old|new|diff)\.png/);
    // In the report's order: what needs a look first.
    expect(md.indexOf('double-descent')).toBeLessThan(md.indexOf('new-figure'));
    expect(md.indexOf('new-figure')).toBeLessThan(md.indexOf('old-figure'));
    expect(md.indexOf('old-figure')).toBeLessThan(md.indexOf('Unchanged'));
    expect(md.endsWith('\n') && !md.endsWith('\n\n')).toBe(true);
  });

  it('with no change at all: exactly the marker and "no figure changed"', () => {
    const dir = report(diffJson([FIGS.unchanged('heatmap'), FIGS.unchanged('norms')]));
    const r = run([dir, '--image-base', BASE, '--prefix', PREFIX]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('<!-- figures-diff:post -->\nno figure changed\n');
    expect(run([dir]).stdout, 'no images to show: no --image-base needed').toBe('<!-- figures-diff:post -->\nno figure changed\n');
  });

  it('images of a figure whose size changed are shown at one scale', () => {
    const dir = report(diffJson([FIGS.changed('alpha', 10, { old: size(400, 300), new: size(800, 300) })]));
    const md = composeComment(readReport(dir), { imageBase: BASE, prefix: PREFIX });
    expect(md).toContain('size changed: 400×300 → 800×300');
    expect(md).toMatch(/alpha\.old\.png" width="130"/);
    expect(md).toMatch(/alpha\.new\.png" width="260"/);
    expect(md).toMatch(/alpha\.diff\.png" width="260"/);
  });

  it('--note adds a line, escaped; --run-url links the run whose artifact holds the full report', () => {
    const r = run([all, '--image-base', BASE, '--prefix', PREFIX, '--note', 'the base <b>did</b> not *build*\nat all', '--run-url', 'https://github.com/owner/repo/actions/runs/42']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, 4)).toEqual([
      '<!-- figures-diff:post -->', '### Figures of profile `post`: 1 changed, 1 added, 1 removed, 2 unchanged', '', 'the base \\<b\\>did\\</b\\> not \\*build\\* at all',
    ]);
    expect(r.stdout).toContain('The HTML report (full-size images) is the artifact `figures-diff` of [the run](https://github.com/owner/repo/actions/runs/42).');
  });

  it('without a report: --profile and --note give a comment saying why nothing was compared', () => {
    const out = join(folder('out'), 'sub', 'comment.md');
    const r = run(['--profile', 'post', '--note', 'The base commit abc did not build: nothing to compare against.', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe('<!-- figures-diff:post -->\n### Figures of profile `post`: not compared\n\nThe base commit abc did not build: nothing to compare against.\n');
    expect(run(['--profile', 'post']).stderr).toContain('expected a report folder (or --profile and --note');
    expect(run(['--profile', 'post -->', '--note', 'x']).stderr).toContain('--profile "post -->": expected a profile name');
  });

  it('--out writes the Markdown to a file', () => {
    const out = join(folder('out'), 'comment.md');
    expect(run([all, '--image-base', BASE, '--prefix', PREFIX, '--out', out]).stdout).toBe('');
    expect(readFileSync(out, 'utf8').startsWith('<!-- figures-diff:post -->\n')).toBe(true);
  });

  it('images to show need --image-base (https, no quotes) and a --prefix of plain folder names', () => {
    expect(run([all, '--prefix', PREFIX]).stderr).toBe('error: --image-base is needed: the comment shows 5 images\n');
    expect(run([all, '--image-base', 'http://example.com/x', '--prefix', PREFIX]).stderr).toContain('expected an https:// URL');
    expect(run([all, '--image-base', 'https://example.com/x"onerror="y', '--prefix', PREFIX]).stderr).toContain('expected an https:// URL');
    expect(run([all, '--image-base', BASE]).stderr).toContain('--prefix is needed');
    for (const bad of ['../up', '/abs', 'a//b', 'pr-1/../x', 'a b', 'pr-1/.git', 'a/'])
      expect(run([all, '--image-base', BASE, '--prefix', bad]).stderr, bad).toContain(`--prefix ${JSON.stringify(bad)}: expected folder names`);
  });

  it('markdownText escapes what could start Markdown or HTML mid-line', () => {
    expect(markdownText('a *b* _c_ `d` [e](f) <g> &amp; | ~h~ #1 \\ ok')).toBe('a \\*b\\* \\_c\\_ \\`d\\` \\[e\\](f) \\<g\\> \\&amp; \\| \\~h\\~ \\#1 \\\\ ok');
    expect(markdownText('two\nlines\r\n\tand tabs')).toBe('two lines and tabs');
  });
});

describe('figures:comment --stage', () => {
  it('copies exactly the images the comment shows into DIR/P/, byte for byte, and lists them', () => {
    const dir = report(diffJson([FIGS.changed('double-descent'), FIGS.added('new-figure'), FIGS.removed('old-figure'), FIGS.unchanged('heatmap')]));
    const stage = folder('stage');
    const r = run([dir, '--stage', stage, '--prefix', PREFIX]);
    expect(r.status, r.stderr).toBe(0);
    const expected = ['double-descent.old.png', 'double-descent.new.png', 'double-descent.diff.png', 'new-figure.new.png', 'old-figure.old.png'];
    expect(r.stdout).toBe(expected.map((f) => `${PREFIX}/${f}\n`).join(''));
    expect(readdirSync(join(stage, PREFIX)).sort()).toEqual([...expected].sort());
    expect(readdirSync(stage)).toEqual(['pr-12']);
    for (const f of expected) expect(readFileSync(join(stage, PREFIX, f)).equals(readFileSync(join(dir, 'images', f)))).toBe(true);
  });

  it('stages and composes in one go when --image-base is given too', () => {
    const dir = report(diffJson([FIGS.added('new-figure')]));
    const stage = folder('stage');
    const r = run([dir, '--stage', stage, '--prefix', PREFIX, '--image-base', BASE]);
    expect(r.stdout).toContain(url('new-figure.new.png'));
    expect(existsSync(join(stage, PREFIX, 'new-figure.new.png'))).toBe(true);
  });

  it('no change stages nothing', () => {
    const stage = folder('stage');
    const r = run([report(diffJson([FIGS.unchanged('heatmap')])), '--stage', stage, '--prefix', PREFIX]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(readdirSync(join(stage, PREFIX))).toEqual([]);
  });
});

describe('a diff.json from a fork cannot smuggle anything in', () => {
  /** The one error, naming diff.json and what is wrong with it. */
  function refused(diff: unknown, what: string | RegExp) {
    const dir = report(diff);
    const r = run([dir, '--image-base', BASE, '--prefix', PREFIX]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`error: ${join(dir, 'diff.json')}: `), r.stderr).toBe(true);
    expect(r.stderr).toMatch(typeof what === 'string' ? new RegExp(what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : what);
    expect(r.stderr.endsWith('\n') && r.stderr.split('\n').length === 2).toBe(true);
  }

  it.each([
    ['HTML', '<img src=x onerror=alert(1)>'],
    ['a table cell break', 'a|b'],
    ['a comment end', 'x-->'],
    ['a path', '../secrets'],
    ['Markdown', '**bold**'],
    ['a backquote', 'a`b'],
    ['a mention', '@owner'],
    ['a line break', 'a\n## heading'],
    ['capitals', 'Heatmap'],
    ['a leading dash', '-a'],
    ['an empty name', ''],
  ])('a figure name with %s', (_, name) => {
    refused(diffJson([FIGS.unchanged(name)]), 'figures.0.name: expected a figure name (a-z, 0-9, -)');
  });

  it('a long name', () => refused(diffJson([FIGS.unchanged('a'.repeat(101))]), 'figures.0.name'));

  it('a status not of figures:diff', () => {
    refused(diffJson([{ ...FIGS.unchanged('a'), status: 'pwned' as 'changed' }]), /figures\.0\.status: /);
  });

  it('an image path figures:diff does not write', () => {
    for (const path of ['../../../etc/passwd', '/etc/passwd', 'images/other.old.png', 'images/a.old.png?x', 'images/a.new.png', 'https://evil.example/x.png'])
      refused(diffJson([{ ...FIGS.changed('a'), images: { ...imgs('a', ['new', 'diff']), old: path } }]), 'figures.0.images.old: expected "images/a.old.png" or null');
  });

  it('images a status cannot have', () => {
    refused(diffJson([{ ...FIGS.unchanged('a'), images: imgs('a', ['old']) }]), 'figures.0.images.old: a figure unchanged has no old image');
    refused(diffJson([{ ...FIGS.added('a'), images: imgs('a', ['old', 'new']) }]), 'figures.0.images.old: a figure added has no old image');
  });

  it('a profile that is not a profile name (it goes into the marker)', () => {
    refused(diffJson([FIGS.unchanged('a')], 'post --><script>'), 'profile: expected a profile name (a-z, 0-9, -)');
  });

  it('fields it does not know, another format, counts that are not counts, a figure listed twice', () => {
    refused({ ...diffJson([FIGS.unchanged('a')]), comment: 'hi' }, /\(top level\): .*comment/);
    refused({ ...diffJson([{ ...FIGS.unchanged('a'), html: '<b>' } as DiffJsonFigure]) }, /figures\.0: .*html/);
    refused({ ...diffJson([]), format: 2 }, 'format: expected format 1');
    refused(diffJson([{ ...FIGS.changed('a'), differingPixels: -1 }]), 'figures.0.differingPixels');
    refused(diffJson([{ ...FIGS.changed('a'), differingPixels: 1.5 }]), 'figures.0.differingPixels');
    refused(diffJson([{ ...FIGS.changed('a'), differingPixels: 10 ** 9 }]), 'figures.0.differingPixels: expected a count of at most comparedPixels');
    refused(diffJson([{ ...FIGS.changed('a'), differingFiles: ['svg', '<b>' as 'svg'] }]), 'figures.0.differingFiles.1');
    refused(diffJson([FIGS.unchanged('a'), FIGS.unchanged('a')]), 'figures.1.name: figure a is listed twice');
    refused('[1, 2', 'not valid JSON');
    refused([], '(top level)');
  });
});

describe('bad report folders give exit 2 and an error naming the file', () => {
  it('a missing folder, a missing diff.json', () => {
    const missing = join(tmp, 'nowhere');
    expect(run([missing]).stderr).toBe(`error: ${missing}: no such folder (a report of figures:diff)\n`);
    const empty = folder('empty');
    const r = run([empty]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: ${join(empty, 'diff.json')}: cannot be read (ENOENT)\n`);
  });

  it('a listed image that is missing, a symlink, or not a PNG', () => {
    const diff = diffJson([FIGS.added('fresh')]);
    let dir = report(diff, { images: false });
    expect(run([dir, '--image-base', BASE, '--prefix', PREFIX]).stderr).toBe(`error: ${join(dir, 'images', 'fresh.new.png')}: missing (diff.json lists it)\n`);
    dir = report(diff, { images: false });
    symlinkSync('/etc/hostname', join(dir, 'images', 'fresh.new.png'));
    const stage = folder('stage');
    let r = run([dir, '--stage', stage, '--prefix', PREFIX]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: ${join(dir, 'images', 'fresh.new.png')}: not a plain file\n`);
    expect(existsSync(join(stage, PREFIX)), 'nothing staged from a bad report').toBe(false);
    dir = report(diff, { images: false });
    writeFileSync(join(dir, 'images', 'fresh.new.png'), '<svg onload="alert(1)"/>');
    r = run([dir, '--stage', stage, '--prefix', PREFIX]);
    expect(r.stderr).toBe(`error: ${join(dir, 'images', 'fresh.new.png')}: not a PNG (no PNG signature and IHDR header)\n`);
  });

  it('a --profile that is not the report\'s; a usage error', () => {
    const dir = report(diffJson([FIGS.unchanged('a')]));
    expect(run([dir, '--profile', 'quick']).stderr).toBe(`error: ${join(dir, 'diff.json')}: a report of profile post, not quick\n`);
    expect(run([dir, dir]).stderr).toContain('expected one report folder, found 2');
    const r = run([dir, '--bogus']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: npm run figures:comment');
  });
});

describe('figures:comment --pr checks pr.json', () => {
  const SHA = 'a'.repeat(40);
  function pr(value: unknown): string {
    const dir = folder('report');
    writeFileSync(join(dir, 'pr.json'), JSON.stringify(value));
    return dir;
  }

  it('prints it as lines for $GITHUB_OUTPUT (no diff.json needed)', () => {
    const r = run([pr({ number: 12, head: SHA, base: 'b'.repeat(40), result: 'base-failed' }), '--pr']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`number=12\nhead=${SHA}\nbase=${'b'.repeat(40)}\nresult=base-failed\n`);
  });

  it.each([
    ['a number as a string', { number: '12', head: SHA, base: SHA, result: 'compared' }, 'number'],
    ['a fractional number', { number: 1.5, head: SHA, base: SHA, result: 'compared' }, 'number'],
    ['no number', { head: SHA, base: SHA, result: 'compared' }, 'number'],
    ['a head that is not a SHA', { number: 1, head: 'main; rm -rf /', base: SHA, result: 'compared' }, 'head: expected a commit SHA'],
    ['another result', { number: 1, head: SHA, base: SHA, result: 'great' }, 'result'],
    ['an extra field', { number: 1, head: SHA, base: SHA, result: 'compared', body: 'hi' }, 'body'],
  ])('refuses %s, naming pr.json', (_, value, what) => {
    const dir = pr(value);
    const r = run([dir, '--pr']);
    expect(r.status).toBe(2);
    expect(r.stderr.startsWith(`error: ${join(dir, 'pr.json')}: `), r.stderr).toBe(true);
    expect(r.stderr).toContain(what);
  });
});

describe('figures:diff writes what figures:comment reads', () => {
  it('a diff.json of real figures:diff output passes the strict reading, and the comment shows its images', () => {
    const build = (name: string, figs: Record<string, Buffer>) => {
      const dir = folder(name);
      for (const [fig, bytes] of Object.entries(figs)) {
        writeFileSync(join(dir, `${fig}.png`), bytes);
        writeFileSync(join(dir, `${fig}.svg`), `<svg xmlns="http://www.w3.org/2000/svg"><title>${fig}</title></svg>\n`);
        writeFileSync(join(dir, `${fig}.provenance.json`), JSON.stringify({ figure: fig, profile: 'quick' }));
      }
      return dir;
    };
    const a = build('old', { kept: png(8, 6), grown: png(8, 6), gone: png(4, 4) });
    const b = build('new', { kept: png(8, 6), grown: png(10, 6), fresh: png(5, 5) });
    const out = join(folder('report'), 'figures-diff');
    expect(figuresDiff([a, b, '--out', out, '--summary', join(folder('s'), 'summary.md')], { stdout: () => {}, stderr: () => {} }, {})).toBe(0);
    const r = readReport(out);
    expect(r.diff.figures.map((f) => [f.name, f.status])).toEqual([['grown', 'changed'], ['fresh', 'added'], ['gone', 'removed'], ['kept', 'unchanged']]);
    const md = composeComment(r, { imageBase: BASE, prefix: PREFIX });
    for (const f of ['grown.old.png', 'grown.new.png', 'grown.diff.png', 'fresh.new.png', 'gone.old.png']) expect(md).toContain(`<img src="${url(f)}"`);
    expect(md).toContain('size changed: 8×6 → 10×6');
    expect(md).toContain('Unchanged: `kept`');
  });

  it('runs as `npm run figures:comment`', () => {
    const dir = report(diffJson([FIGS.unchanged('a')]));
    const npm = (...args: string[]) => spawnSync('npm', ['run', '--silent', '--prefix', REPO, 'figures:comment', '--', ...args], { encoding: 'utf8' });
    let r = npm(dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('<!-- figures-diff:post -->\nno figure changed\n');
    r = npm(join(dir, 'nowhere'));
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`error: ${join(dir, 'nowhere')}: no such folder (a report of figures:diff)\n`);
  }, 30_000);
});
