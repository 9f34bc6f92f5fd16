import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, copyFileSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { loadFigure } from '../../pipeline/config/figures.ts';
import { loadExperiment, selectProfile } from '../../pipeline/config/load.ts';
import { isLightSvg } from '../../pipeline/publish/site.ts';
import { openPage, serveDir } from './browser.ts';
import { build, editJson, listFiles, makeWorkspace, removeWorkspace, REPO } from './workspace.ts';

/**
 * `npm run publish -- <site>` puts a built profile's figures into a Jekyll site, and a post shows each with
 * one include line: checked with the real Jekyll, the system's Chromium and real git repositories, on the
 * blog post itself. The workspace's `post` (the default profile) is a stand-in at quick's cost that draws the
 * two figures the post includes; `quick` is a second profile published beside it.
 */
const FIXTURE = join(REPO, 'tests', 'fixtures', 'site');
const POST = '_posts/2022-12-26-Superposition-Memorization-and-Double-Descent.md';
const POST_PAGE = 'health/Superposition-Memorization-and-Double-Descent.html';
const IMAGES = 'images/superposition-double-descent';
const SCREENSHOT = join(REPO, 'test-results', 'site-post.png');
const COMMIT_SCRIPT = join(REPO, '.github', 'scripts', 'publish-commit.sh');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.on('close', (status) => ok({ status, stdout, stderr })));
}
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const GIT_ID = ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid'];
/** Who publish-commit.sh commits as, in the tests (the workflow sets github-actions[bot]). */
const BOT = { GIT_AUTHOR_NAME: 'bot', GIT_AUTHOR_EMAIL: 'bot@example.invalid', GIT_COMMITTER_NAME: 'bot', GIT_COMMITTER_EMAIL: 'bot@example.invalid' };

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** Every file under `dir` with its SHA-256 and mtime: what "changed nothing" compares. */
const snapshot = (dir: string) => Object.fromEntries(listFiles(dir).map((f) => [f, lstatSync(join(dir, f)).isSymbolicLink()
  ? { link: readlinkSync(join(dir, f)) }
  : { sha256: sha256(join(dir, f)), mtimeMs: statSync(join(dir, f)).mtimeMs }]));
const pick = (snap: Record<string, unknown>, keep: (f: string) => boolean) => Object.fromEntries(Object.entries(snap).filter(([f]) => keep(f)));
/** The files of the default profile's namespace (not quick's). */
const isDefaultNamespace = (f: string) =>
  (f.startsWith(`${IMAGES}/`) && !f.startsWith(`${IMAGES}/quick/`)) || /^_includes\/figures\/[^/]+$/.test(f) || f.startsWith('_data/superposition_figures.');

describe('publishing figures into a Jekyll site', () => {
  let ws: string;
  let tmp: string;
  let postFigures: string[];
  let quickFigures: string[];
  let site: string; // post, then quick, published once in beforeAll
  let first: Run;
  let second: Run;
  let defaultBeforeQuick: Record<string, unknown>;
  const publish = (...args: string[]) => run('npm', ['run', '--silent', 'publish', '--', ...args], ws);
  let count = 0;
  const freshSite = () => {
    const dir = join(tmp, `site-${++count}`);
    cpSync(FIXTURE, dir, { recursive: true });
    return dir;
  };
  /** The site as a repository: a bare `origin` (as on GitHub) holding the fixture blog, and the clone `seed` that pushed it. */
  const siteRepository = (name: string) => {
    const origin = join(tmp, `${name}-origin.git`);
    git(tmp, 'init', '-q', '--bare', '-b', 'main', origin);
    const seed = join(tmp, `${name}-seed`);
    cpSync(FIXTURE, seed, { recursive: true });
    git(seed, 'init', '-q', '-b', 'main');
    git(seed, 'add', '-A');
    git(seed, ...GIT_ID, 'commit', '-q', '-m', 'the blog');
    git(seed, 'push', '-q', origin, 'main');
    return { origin, seed };
  };
  /** Files per figure: PNG at 1x and 2x, the include, and the SVG where it is light. */
  const filesOf = (profile: string, names: string[]) =>
    names.reduce((n, name) => n + 3 + (isLight(profile, name) ? 1 : 0), 0) + 1;
  const isLight = (profile: string, name: string) =>
    isLightSvg(statSync(join(ws, 'dist', profile, `${name}.svg`)).size, statSync(join(ws, 'dist', profile, `${name}.png`)).size);

  beforeAll(async () => {
    ws = makeWorkspace('smdd-site');
    tmp = mkdtempSync(join(tmpdir(), 'smdd-site-out-'));
    // The stand-in for post: quick's settings, the default profile, the figures the post includes.
    editJson(join(ws, 'experiment.json'), (e) => {
      e.profiles['post-full'] = e.profiles.post;
      for (const p of Object.values<any>(e.profiles)) if (p.extends === 'post') p.extends = 'post-full';
      e.profiles.post = { extends: 'quick', description: 'a stand-in for post at quick\'s cost', figures: ['small-datasets', 'double-descent'] };
    });
    git(ws, 'init', '-q', '-b', 'main');
    git(ws, 'add', '-A');
    git(ws, ...GIT_ID, 'commit', '-q', '-m', 'the project, first commit');
    for (const profile of ['post', 'quick']) {
      const b = await build(ws, profile);
      expect(b.status, b.output.slice(-3000)).toBe(0);
    }
    const exp = loadExperiment('experiment.json', ws);
    postFigures = selectProfile(exp, 'post').profile.figures;
    quickFigures = selectProfile(exp, 'quick').profile.figures;
    site = freshSite();
    first = await publish(site);
    expect(first.status, first.stderr).toBe(0);
    defaultBeforeQuick = pick(snapshot(site), isDefaultNamespace);
    second = await publish(site, '--profile', 'quick');
    expect(second.status, second.stderr).toBe(0);
  }, 600_000);
  afterAll(() => {
    removeWorkspace(ws);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the default profile keeps the names the post uses: an include per figure, the PNG at 1x and 2x, the SVG only where it is light', () => {
    expect(first.stderr).toContain(`published ${postFigures.length} figures of profile "post" into ${site} (includes figures/<name>.html); ${filesOf('post', postFigures)} files written, 0 unchanged`);
    for (const name of postFigures) {
      const png2x = join(ws, 'dist', 'post', `${name}.png`);
      expect(sha256(join(site, IMAGES, `${name}@2x.png`))).toBe(sha256(png2x));
      const [big, small] = [png2x, join(site, IMAGES, `${name}.png`)].map((f) => PNG.sync.read(readFileSync(f)));
      expect([small.width, small.height]).toEqual([big.width / 2, big.height / 2]);
      expect(statSync(join(site, IMAGES, `${name}.svg`), { throwIfNoEntry: false }) !== undefined).toBe(isLight('post', name));
      expect(readFileSync(join(site, '_includes', 'figures', `${name}.html`), 'utf8')).toContain(`site.data["superposition_figures"].figures["${name}"]`);
    }
    // double-descent has thousands of points: its SVG would weigh more than its PNG, so the page never gets it.
    expect(isLight('post', 'double-descent')).toBe(false);
  });

  it('the data file gives each figure its paths, title, caption, alt text, size, content hash and provenance, and no commit', () => {
    const data = JSON.parse(readFileSync(join(site, '_data', 'superposition_figures.json'), 'utf8'));
    expect(data.profile).toBe('post');
    expect(Object.keys(data.figures)).toEqual(postFigures);
    for (const name of postFigures) {
      const f = data.figures[name];
      const figure = loadFigure(name, ws);
      expect(f).toMatchObject({
        png: `/${IMAGES}/${name}.png`, png2x: `/${IMAGES}/${name}@2x.png`, svg: isLight('post', name) ? `/${IMAGES}/${name}.svg` : null,
        title: figure.title, caption: figure.description, alt: figure.title,
      });
      const png = PNG.sync.read(readFileSync(join(site, IMAGES, `${name}.png`)));
      expect([f.width, f.height]).toEqual([png.width, png.height]); // the 1x PNG is the SVG's size
      expect(f.contentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(f.provenance).toEqual(JSON.parse(readFileSync(join(ws, 'dist', 'post', `${name}.provenance.json`), 'utf8')));
    }
    // The commit that built them is in the gallery's manifest, never in the site: a new commit with the same figures changes no byte.
    const commit = git(ws, 'rev-parse', 'HEAD');
    expect(JSON.parse(readFileSync(join(ws, 'dist', 'post', 'manifest.json'), 'utf8')).commit).toBe(commit);
    for (const f of listFiles(site)) expect(readFileSync(join(site, f)).includes(commit), f).toBe(false);
  });

  it('another profile publishes into a namespace of its own, beside the default one, which it leaves byte for byte', () => {
    expect(second.stderr).toContain(`published ${quickFigures.length} figures of profile "quick" into ${site} (includes figures/quick/<name>.html); ${filesOf('quick', quickFigures)} files written, 0 unchanged`);
    for (const name of quickFigures) {
      expect(sha256(join(site, IMAGES, 'quick', `${name}@2x.png`))).toBe(sha256(join(ws, 'dist', 'quick', `${name}.png`)));
      expect(readFileSync(join(site, '_includes', 'figures', 'quick', `${name}.html`), 'utf8')).toContain(`site.data["superposition_figures_quick"].figures["${name}"]`);
    }
    expect(JSON.parse(readFileSync(join(site, '_data', 'superposition_figures_quick.json'), 'utf8')).profile).toBe('quick');
    expect(pick(snapshot(site), isDefaultNamespace)).toEqual(defaultBeforeQuick);
  });

  it('each namespace records what it wrote with each file\'s SHA-256, and no file of the site\'s own is touched', () => {
    const records = ['superposition_figures', 'superposition_figures_quick'].map((k) => JSON.parse(readFileSync(join(site, '_data', `${k}.publish.json`), 'utf8')).files);
    const own = listFiles(FIXTURE);
    const written = listFiles(site).filter((f) => !own.includes(f) && !f.endsWith('.publish.json'));
    expect([...Object.keys(records[0]), ...Object.keys(records[1])].sort()).toEqual(written);
    for (const r of records) for (const [f, hash] of Object.entries(r)) expect(sha256(join(site, f))).toBe(hash);
    for (const f of own) expect(sha256(join(site, f)), f).toBe(sha256(join(FIXTURE, f)));
  });

  it('publishing again changes nothing, for either profile: every file keeps its bytes and its mtime', async () => {
    const before = snapshot(site);
    const again = await publish(site);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(`0 files written, ${filesOf('post', postFigures)} unchanged`);
    const quick = await publish(site, '--profile', 'quick');
    expect(quick.stderr).toContain(`0 files written, ${filesOf('quick', quickFigures)} unchanged`);
    expect(snapshot(site)).toEqual(before);
  });

  it('the post, built by Jekyll with figures of both profiles, shows every included figure in Chromium with no console error', async () => {
    const dir = freshSite();
    expect((await publish(dir)).status).toBe(0);
    expect((await publish(dir, '--profile', 'quick')).status).toBe(0);
    appendFileSync(join(dir, POST), '\nThe heat map of the quick profile, beside the post\'s own figures:\n\n{% include figures/quick/heatmap.html %}\n');
    const out = join(tmp, 'built');
    const j = await run('jekyll', ['build', '--source', dir, '--destination', out, '--disable-disk-cache', '--quiet'], tmp);
    expect(j.status, j.stdout + j.stderr).toBe(0);
    const html = readFileSync(join(out, POST_PAGE), 'utf8');
    // The include after the sentence gives a figure of its own, not one inside the sentence's paragraph.
    expect(html).toMatch(/training set size\.<\/p>\s*<figure class="superposition-figure" id="figure-small-datasets">/);
    expect(html).toContain('<figure class="superposition-figure" id="figure-quick-heatmap">');
    const includes = readFileSync(join(dir, POST), 'utf8').match(/\{% include figures\/[a-z0-9/-]+\.html %\}/g) ?? [];
    expect(includes.length).toBe(3);

    const server = await serveDir(out);
    try {
      mkdirSync(join(REPO, 'test-results'), { recursive: true });
      const page = await openPage(`${server.url}/${POST_PAGE}`, SCREENSHOT, undefined, { scrollThrough: true });
      expect(page.status).toBe(200);
      expect(page.consoleErrors).toEqual([]);
      expect(page.pageErrors).toEqual([]);
      expect(page.images.length).toBe(includes.length);
      const loaded = page.images.map((img) => new URL(img.currentSrc).pathname);
      expect(loaded).toEqual([
        `/${IMAGES}/small-datasets.png`, `/${IMAGES}/double-descent.png`,
        isLight('quick', 'heatmap') ? `/${IMAGES}/quick/heatmap.svg` : `/${IMAGES}/quick/heatmap.png`,
      ]);
      for (const img of page.images) {
        expect(img.naturalWidth, img.currentSrc).toBeGreaterThan(0);
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
    const urls = [...html.matchAll(/<img src="([^"]+)" srcset="([^ "]+) 1x, ([^ "]+) 2x"/g)].flatMap((m) => m.slice(1));
    expect(urls.length).toBe(3 * postFigures.length); // each included figure: its PNG, and in srcset the 1x and the 2x
    const server = await serveDir(out, '/blog');
    try {
      for (const url of urls) {
        expect(url.startsWith(`/blog/${IMAGES}/`), url).toBe(true);
        const r = await fetch(new URL(url, server.url));
        expect(r.status, url).toBe(200);
        expect(r.headers.get('content-type'), url).toBe('image/png');
      }
    } finally {
      await server.close();
    }
  });

  it('two commits of the project with the same figures leave the site\'s history untouched; a spec edit gives exactly one site commit', async () => {
    const { origin } = siteRepository('site');
    let clones = 0;
    // What publish-site.yml does: a fresh clone of the site, npm run publish into it, then publish-commit.sh.
    const publishAndCommit = async () => {
      const clone = join(tmp, `site-clone ${++clones}`);
      git(tmp, 'clone', '-q', origin, clone);
      const p = await publish(clone);
      expect(p.status, p.stderr).toBe(0);
      const env = { ...process.env, ...BOT, SITE_PUBLISH_MODE: 'push', SITE_BRANCH: 'main', SOURCE: `project@${git(ws, 'rev-parse', 'HEAD')}` };
      const c = await run('bash', [COMMIT_SCRIPT], clone, env);
      expect(c.status, c.stdout + c.stderr).toBe(0);
      return c.stdout;
    };
    const siteLog = () => git(origin, 'log', '--format=%H', 'main').split('\n');

    expect(await publishAndCommit()).toMatch(/^Pushed [0-9a-f]+ to main\./m);
    const afterFirst = siteLog();
    expect(afterFirst.length).toBe(2);

    // A second project commit that changes no figure: the build comes from the cache, and the site is left alone.
    appendFileSync(join(ws, 'README.md'), '\nA line that changes no figure.\n');
    git(ws, ...GIT_ID, 'commit', '-q', '-am', 'README only');
    expect((await build(ws, 'post')).status).toBe(0);
    expect(await publishAndCommit()).toContain('The site already has these figures: nothing to commit.');
    expect(siteLog()).toEqual(afterFirst);

    // A spec edit: one figure re-renders, and the site gets one commit that touches that figure alone (and the data file).
    const spec = join(ws, 'figures', 'small-datasets', 'spec.vl.json');
    editJson(spec, (s) => (s.title.subtitle += ' (edited)'));
    git(ws, ...GIT_ID, 'commit', '-q', '-am', 'small-datasets: a longer subtitle');
    const b = await build(ws, 'post');
    expect(b.status).toBe(0);
    expect(b.ran.filter((t) => t.endsWith(':render'))).toEqual(['post-figure-small-datasets:render']);
    await publishAndCommit();
    const afterEdit = siteLog();
    expect(afterEdit.length).toBe(3);
    expect(afterEdit.slice(1)).toEqual(afterFirst);
    const changed = git(origin, 'show', '--name-only', '--format=', 'main').split('\n').sort();
    expect(changed).toEqual(['_data/superposition_figures.json', '_data/superposition_figures.publish.json',
      `${IMAGES}/small-datasets.png`, `${IMAGES}/small-datasets@2x.png`].sort());
    expect(git(origin, 'log', '-1', '--format=%B', 'main')).toContain(`project@${git(ws, 'rev-parse', 'HEAD')}`);
  }, 300_000);

  it('in pull-request mode: one pull request, left alone while it already proposes these figures, closed once the default branch has them', async () => {
    const { origin, seed } = siteRepository('site-pr');
    // A stand-in for the GitHub CLI: it logs each call and keeps the one open pull request's number in a file.
    const bin = join(tmp, 'bin');
    mkdirSync(bin, { recursive: true });
    const ghLog = join(tmp, 'gh.log');
    const ghState = join(tmp, 'gh.open-pr');
    writeFileSync(join(bin, 'gh'), `#!/usr/bin/env bash
echo "$1 $2" >> ${JSON.stringify(ghLog)}
case "$1 $2" in
  "pr list") cat ${JSON.stringify(ghState)} 2> /dev/null || true ;;
  "pr create") echo 7 > ${JSON.stringify(ghState)} ;;
  "pr close") rm -f ${JSON.stringify(ghState)}; git push -q origin --delete "$PR_BRANCH" ;;
esac
`);
    chmodSync(join(bin, 'gh'), 0o755);
    const branch = 'figures/update-post';
    let clones = 0;
    const publishAndCommit = async () => {
      const clone = join(tmp, `site-pr-clone-${++clones}`);
      git(tmp, 'clone', '-q', origin, clone);
      expect((await publish(clone)).status).toBe(0);
      const env = { ...process.env, ...BOT, PATH: `${bin}:${process.env.PATH}`, SITE_PUBLISH_MODE: 'pull-request', PR_BRANCH: branch, SITE_REPOSITORY: 'owner/blog', SOURCE: 'project@abc' };
      const c = await run('bash', [COMMIT_SCRIPT], clone, env);
      expect(c.status, c.stdout + c.stderr).toBe(0);
      return c.stdout;
    };
    const calls = () => readFileSync(ghLog, 'utf8').trim().split('\n');
    const tip = (ref: string) => git(origin, 'rev-parse', ref);

    await publishAndCommit();
    expect(calls()).toEqual(['pr list', 'pr create']);
    const proposed = tip(branch);
    const main = tip('main');

    // The same figures again: the branch is not pushed, the pull request not touched.
    expect(await publishAndCommit()).toContain(`${branch} already proposes these figures.`);
    expect(tip(branch)).toBe(proposed);
    expect(calls()).toEqual(['pr list', 'pr create', 'pr list']);

    // The owner merges it; the next publish of the same figures finds nothing to do and closes the pull request.
    git(seed, 'fetch', '-q', origin, branch);
    git(seed, 'merge', '-q', '--ff-only', 'FETCH_HEAD');
    git(seed, 'push', '-q', origin, 'main');
    expect(tip('main')).not.toBe(main);
    expect(await publishAndCommit()).toContain('Closed pull request #7');
    expect(calls()).toEqual(['pr list', 'pr create', 'pr list', 'pr list', 'pr close']);
    expect(() => tip(branch)).toThrow();
  }, 120_000);

  it('a publish that would remove an include a page still uses stops, naming the page and the include, and writes nothing', async () => {
    const dir = freshSite();
    expect((await publish(dir)).status).toBe(0);
    const before = snapshot(dir);
    const config = join(ws, 'experiment.json');
    const good = readFileSync(config, 'utf8');
    editJson(config, (e) => (e.profiles.post.figures = ['small-datasets']));
    try {
      const r = await publish(dir);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`error: ${join(dir, POST)}: uses {% include figures/double-descent.html %}, which this publish would remove`);
      expect(r.stderr).toContain('nothing was written');
    } finally {
      writeFileSync(config, good);
    }
    expect(snapshot(dir)).toEqual(before);
  });

  it('a symbolic link on a publish path is refused, naming it, and nothing is written on either side of it', async () => {
    const dir = freshSite();
    const elsewhere = join(tmp, 'elsewhere-includes');
    mkdirSync(join(elsewhere, 'figures'), { recursive: true });
    symlinkSync(elsewhere, join(dir, '_includes'));
    const before = snapshot(dir);
    const r = await publish(dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error: ${join(dir, '_includes')}: a symbolic link on the path of _includes/figures/`);
    expect(snapshot(dir)).toEqual(before);
    expect(listFiles(elsewhere)).toEqual([]);
  });

  it('a folder that is not a Jekyll site\'s root is refused, naming it', async () => {
    const dir = freshSite();
    const before = snapshot(dir);
    const r = await publish(join(dir, '_posts'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error: ${join(dir, '_posts')}: not a Jekyll site (it has no _config.yml or _config.yaml); expected the site's root folder`);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a profile that is not built, or a missing figure file, is refused naming it, and nothing is written', async () => {
    const dir = freshSite();
    const before = snapshot(dir);
    const notBuilt = await publish(dir, '--profile', 'paper');
    expect(notBuilt.status).toBe(2);
    expect(notBuilt.stderr).toContain('error: dist/paper: missing: profile "paper" is not built; run `npm run build -- paper` first');

    const partial = join(tmp, 'dist-partial');
    mkdirSync(join(partial, 'quick'), { recursive: true });
    for (const f of listFiles(join(ws, 'dist', 'quick'))) {
      if (f === 'double-descent.png') continue;
      mkdirSync(dirname(join(partial, 'quick', f)), { recursive: true }); // a slider's frames are in a folder
      copyFileSync(join(ws, 'dist', 'quick', f), join(partial, 'quick', f));
    }
    const missing = await publish(dir, '--profile', 'quick', '--dist', partial);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`error: ${partial}/quick/double-descent.png: missing\nrun \`npm run build -- quick\` first`);
    expect(snapshot(dir)).toEqual(before);
  });

  it('an unknown profile or an images folder Jekyll would not copy is refused', async () => {
    const dir = freshSite();
    const [unknown, hidden] = await Promise.all([publish(dir, '--profile', 'nonesuch'), publish(dir, '--images-dir', '_figures')]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^error: .*no profile named "nonesuch"; the profiles are .*quick/m);
    expect(hidden.status).toBe(2);
    expect(hidden.stderr).toContain('error: --images-dir _figures: expected a folder inside the site that Jekyll copies');
  });

  it('a published file edited by hand is refused and left as it was, and so is everything else', async () => {
    const dir = freshSite();
    expect((await publish(dir)).status).toBe(0);
    const include = join(dir, '_includes', 'figures', 'small-datasets.html');
    appendFileSync(include, '<!-- my note -->\n');
    const before = snapshot(dir);
    const r = await publish(dir);
    expect(r.status).toBe(2);
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
    const r = await publish(dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error: ${foreign}: exists but was not published here`);
    expect(snapshot(dir)).toEqual(before);
  });

  it('files it published before and no longer publishes are removed, unless edited since', async () => {
    const dir = freshSite();
    expect((await publish(dir)).status).toBe(0);
    const edited = join(dir, IMAGES, 'small-datasets@2x.png');
    appendFileSync(edited, 'mine now');
    const r = await publish(dir, '--images-dir', 'assets/figures');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`left ${edited}: no longer published, but edited since it was`);
    expect(listFiles(join(dir, IMAGES))).toEqual(['small-datasets@2x.png']);
    expect(listFiles(join(dir, 'assets', 'figures'))).toEqual(
      postFigures.flatMap((n) => [`${n}.png`, `${n}@2x.png`, ...(isLight('post', n) ? [`${n}.svg`] : [])]).sort());
    const record = JSON.parse(readFileSync(join(dir, '_data', 'superposition_figures.publish.json'), 'utf8'));
    expect(Object.keys(record.files).filter((f) => f.startsWith(IMAGES))).toEqual([]);
  });
});
