import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { parse } from 'yaml';

/**
 * The pull request's figures comment, across two workflows: figures-diff.yml (runs the pull request's
 * code, read-only) uploads the report with pr.json; figures-diff-comment.yml (workflow_run, can write)
 * never runs the pull request's code, pushes the images to a branch and creates or updates one comment.
 * Their promises are checked in the YAML, and their shell steps are run here against a local git
 * repository, with `npm run figures:comment` the real command and `gh` a stand-in that records its calls.
 */

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const WORKFLOWS = join(REPO, '.github', 'workflows');
const VALIDATOR = join(REPO, 'node_modules', '.bin', 'action-validator');
const TSX = join(REPO, 'node_modules', '.bin', 'tsx');

type Step = { name?: string; id?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string; 'continue-on-error'?: unknown };
type Job = { 'timeout-minutes'?: unknown; permissions?: unknown; steps?: Step[]; if?: string; env?: Record<string, string>; container?: unknown };
type Workflow = { name?: string; on?: Record<string, unknown>; permissions?: unknown; concurrency?: { group?: string; 'cancel-in-progress'?: unknown }; jobs: Record<string, Job> };

const read = (file: string) => {
  const text = readFileSync(join(WORKFLOWS, file), 'utf8');
  return { text, wf: parse(text) as Workflow };
};
const diff = read('figures-diff.yml');
const comment = read('figures-diff-comment.yml');
const commentJob = comment.wf.jobs.comment;
const steps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps ?? []);
const stepNamed = (wf: Workflow, name: RegExp) => {
  const found = steps(wf).filter((s) => name.test(s.name ?? ''));
  expect(found.map((s) => s.name), `one step named ${name}`).toHaveLength(1);
  return found[0];
};

/** Write permissions a `permissions:` value grants. */
function writes(permissions: unknown): string[] {
  if (permissions === undefined || permissions === null) return [];
  if (typeof permissions === 'string') return permissions === 'read-all' ? [] : [permissions];
  return Object.entries(permissions as Record<string, unknown>).filter(([, level]) => level !== 'read' && level !== 'none').map(([scope]) => scope);
}

describe('figures-diff.yml: the comparison, with no write permission', () => {
  it('is valid (action-validator) and runs on pull_request (never pull_request_target)', () => {
    const r = spawnSync(VALIDATOR, [join(WORKFLOWS, 'figures-diff.yml')], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(Object.keys(diff.wf.on ?? {})).toEqual(['pull_request']);
  });

  it('holds no write permission anywhere, and no secret', () => {
    expect(writes(diff.wf.permissions)).toEqual([]);
    for (const [name, job] of Object.entries(diff.wf.jobs)) expect(writes(job.permissions), name).toEqual([]);
    expect(diff.text).not.toMatch(/\bsecrets\./);
    expect(diff.text).not.toMatch(/:\s*write\b|write-all/);
  });

  it('writes pr.json into the report and uploads it as the artifact figures-diff, also when nothing was compared', () => {
    const all = steps(diff.wf);
    const compare = all.findIndex((s) => /npm run figures:diff -- .* --out figures-diff\b/.test(s.run ?? ''));
    const pr = all.findIndex((s) => /figures-diff\/pr\.json/.test(s.run ?? ''));
    const upload = all.findIndex((s) => /^actions\/upload-artifact@/.test(s.uses ?? '') && s.with?.name === 'figures-diff');
    expect(compare).toBeGreaterThan(-1);
    expect(pr).toBeGreaterThan(compare);
    expect(upload).toBeGreaterThan(pr);
    for (const i of [pr, upload]) expect(all[i].if, all[i].name).toBe('${{ !cancelled() }}');
    expect(String(all[upload].with?.path).replace(/\/$/, '')).toBe('figures-diff');
    expect(all[pr].env).toMatchObject({
      PR_NUMBER: '${{ github.event.pull_request.number }}',
      HEAD_SHA: '${{ github.event.pull_request.head.sha }}',
      BASE_SHA: '${{ github.event.pull_request.base.sha }}',
    });
    expect(all[pr].env?.RESULT).toMatch(/steps\.compare\.outcome == 'success' && 'compared'/);
    expect(all[pr].env?.RESULT).toMatch(/steps\.base-build\.outcome == 'failure' && 'base-failed'/);
    expect(all[compare].id).toBe('compare');
  });

  it('the pr.json it writes is one figures:comment --pr accepts', () => {
    const step = steps(diff.wf).find((s) => /figures-diff\/pr\.json/.test(s.run ?? ''))!;
    const dir = scratch('prjson');
    const sha = (c: string) => c.repeat(40);
    for (const result of ['compared', 'base-failed', 'failed']) {
      const r = bash(step.run!, dir, { PR_NUMBER: '12', HEAD_SHA: sha('a'), BASE_SHA: sha('b'), RESULT: result });
      expect(r.status, r.stderr).toBe(0);
      const check = spawnSync(TSX, [join(REPO, 'pipeline/commands/figures-comment.ts'), join(dir, 'figures-diff'), '--pr'], { encoding: 'utf8' });
      expect(check.stderr).toBe('');
      expect(check.stdout).toBe(`number=12\nhead=${sha('a')}\nbase=${sha('b')}\nresult=${result}\n`);
    }
  });
});

describe('figures-diff-comment.yml: the comment, never running the pull request\'s code', () => {
  it('is valid (action-validator)', () => {
    const r = spawnSync(VALIDATOR, [join(WORKFLOWS, 'figures-diff-comment.yml')], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('runs when a run of "figures diff" completes, and skips cancelled runs and runs not of a pull request', () => {
    expect(comment.wf.on).toEqual({ workflow_run: { workflows: [diff.wf.name], types: ['completed'] } });
    expect(diff.wf.name).toBe('figures diff');
    expect(commentJob.if).toMatch(/github\.event\.workflow_run\.conclusion != 'cancelled'/);
    expect(commentJob.if).toMatch(/github\.event\.workflow_run\.event == 'pull_request'/);
    expect(comment.wf.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('may write exactly the images branch and the comment (and read the triggering run\'s artifact)', () => {
    expect(writes(comment.wf.permissions)).toEqual([]);
    expect(commentJob.permissions).toEqual({ actions: 'read', contents: 'write', 'pull-requests': 'write' });
    expect(comment.text).not.toMatch(/\bsecrets\./);
  });

  it('every job has a timeout; every action is pinned to a commit SHA, with its version, the same SHA as elsewhere in the repository', () => {
    for (const [name, job] of Object.entries(comment.wf.jobs)) expect(typeof job['timeout-minutes'] === 'number' && (job['timeout-minutes'] as number) <= 60, name).toBe(true);
    const uses = comment.text.split('\n').filter((l) => /^\s*(-\s*)?uses:/.test(l));
    expect(uses.length).toBeGreaterThan(0);
    const others = ['figures.yml', 'figures-diff.yml'].map((f) => read(f).text).join('\n');
    for (const line of uses) {
      const m = /uses:\s*([^@\s]+)@([0-9a-f]{40})\s+#\s*v\d+(\.\d+)*\s*$/.exec(line);
      expect(m, line).not.toBeNull();
      if (m![1] !== 'actions/download-artifact') expect(others, `${m![1]} at the SHA the other workflows use`).toContain(`${m![1]}@${m![2]}`);
    }
    expect(comment.text).toContain('actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0');
  });

  it('checks out only the default branch: no ref of the pull request\'s head, no other repository', () => {
    const checkouts = steps(comment.wf).filter((s) => /^actions\/checkout@/.test(s.uses ?? ''));
    expect(checkouts).toHaveLength(1);
    expect(checkouts[0].with?.ref).toBe('${{ github.event.repository.default_branch }}');
    expect(checkouts[0].with?.repository).toBeUndefined();
    // The head commit is named only to compare pr.json with it, never as something to fetch.
    const heads = comment.text.split('\n').filter((l) => /head_sha|head_branch|pull_request\.head|refs\/pull|head\.ref/.test(l));
    expect(heads.map((l) => l.trim())).toEqual([
      expect.stringMatching(/^group: .*workflow_run\.head_branch \}\}$/),
      'RUN_HEAD_SHA: ${{ github.event.workflow_run.head_sha }}',
    ]);
    expect(stepNamed(comment.wf, /^Check pr\.json$/).env?.RUN_HEAD_SHA).toBe('${{ github.event.workflow_run.head_sha }}');
  });

  it('runs no code of the pull request: npm ci only with --ignore-scripts, no build, setup, install or test', () => {
    const scripts = steps(comment.wf).map((s) => s.run ?? '').join('\n');
    const npm = scripts.split('\n').filter((l) => /\bnpm\b/.test(l)).map((l) => l.trim());
    expect(npm.length).toBeGreaterThan(0);
    for (const line of npm) {
      expect(line, 'only npm ci --ignore-scripts and npm run --silent figures:comment').toMatch(/^npm ci --ignore-scripts\b|(^|\$\(|files=\$\()npm run --silent figures:comment -- /);
    }
    // Nothing from the artifact is run: no node, npx or tsx of a file, no script out of artifact/.
    expect(scripts).not.toMatch(/\bnpx\b|\bnode\b|\btsx\b|\.\/artifact|artifact\/[^\s"]*\.(sh|js|mjs|cjs|ts)\b|\b(source|\.)\s+artifact/);
  });

  it('puts no ${{ }} expression into a shell script: every value reaches it as an environment variable', () => {
    for (const s of steps(comment.wf)) expect(s.run ?? '', s.name).not.toContain('${{');
  });

  it('downloads the triggering run\'s artifact figures-diff into artifact/, outside the trusted code', () => {
    const dl = steps(comment.wf).find((s) => /^actions\/download-artifact@/.test(s.uses ?? ''))!;
    expect(dl.with).toEqual({
      name: 'figures-diff', path: 'artifact', 'run-id': '${{ github.event.workflow_run.id }}', 'github-token': '${{ github.token }}',
    });
    expect(existsSync(join(REPO, 'artifact')), 'no such folder in the repository').toBe(false);
  });

  it('stages the images under pr-<N>/<head sha>, and links them by the images commit, not the branch', () => {
    const images = stepNamed(comment.wf, /^Push the images/);
    expect(images.run).toContain('npm run --silent figures:comment -- artifact --stage "$staged" --prefix "$prefix"');
    expect(images.run).toContain('prefix="pr-$PR_NUMBER/$HEAD_SHA"');
    expect(commentJob.env?.IMAGES_BRANCH).toBe('figures-diff-images');
    const write = stepNamed(comment.wf, /^Write the comment$/);
    expect(write.env?.IMAGES_COMMIT).toBe('${{ steps.images.outputs.commit }}');
    expect(write.run).toContain('--image-base "$SERVER_URL/$REPO/raw/$IMAGES_COMMIT"');
    expect(write.run).toContain('--prefix "pr-$PR_NUMBER/$HEAD_SHA"');
  });

  it('finds the comment to update by the marker and the bot, and PATCHes it, else POSTs one', () => {
    const post = stepNamed(comment.wf, /^Create or update the figures comment$/);
    expect(post.run).toContain('<!-- figures-diff:');
    expect(post.run).toContain('.user.login == \\"github-actions[bot]\\"');
    expect(post.run).toContain('startswith(\\"$marker\\")');
    expect(post.run).toContain('gh api --paginate "repos/$REPO/issues/$PR_NUMBER/comments"');
    expect(post.run).toContain('gh api -X PATCH "repos/$REPO/issues/comments/$id" -F body=@comment.md');
    expect(post.run).toContain('gh api -X POST "repos/$REPO/issues/$PR_NUMBER/comments" -F body=@comment.md');
  });
});

// ---- The shell steps, run ----

const tmp = mkdtempSync(join(tmpdir(), 'smdd-wfcomment-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let scratches = 0;
function scratch(name: string): string {
  const dir = join(tmp, `${scratches++}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Stand-ins on PATH: `npm run --silent figures:comment -- ...` runs the real command; `gh` records its calls and answers from files. */
const BIN = (() => {
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'npm'), `#!/usr/bin/env bash
[ "$1 $2 $3 $4" = "run --silent figures:comment --" ] || { echo "npm stand-in: unexpected: $*" >&2; exit 97; }
shift 4
exec "${TSX}" "${join(REPO, 'pipeline/commands/figures-comment.ts')}" "$@"
`);
  writeFileSync(join(bin, 'gh'), `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GH_LOG"
case "$1 $2" in
  "api --paginate")
    if [ -n "\${GH_COMMENTS:-}" ]; then jq -r "$5" "$GH_COMMENTS"; else printf '%s' "\${GH_IDS:-}"; fi ;;
  "api -X")
    for a in "$@"; do case "$a" in body=@*) cp "\${a#body=@}" "$GH_BODY" ;; esac; done
    echo "https://github.com/owner/repo/pull/12#issuecomment-1" ;;
  "api repos/"*)
    echo "$GH_PR_HEAD" ;;
  *) echo "gh stand-in: unexpected: $*" >&2; exit 97 ;;
esac
`);
  chmodSync(join(bin, 'npm'), 0o755);
  chmodSync(join(bin, 'gh'), 0o755);
  return bin;
})();

/** A step's script as GitHub runs it with `shell: bash`, with the stand-ins first on PATH. */
function bash(script: string, cwd: string, env: Record<string, string>) {
  const file = join(tmp, `step-${scratches++}.sh`);
  writeFileSync(file, script);
  const out = join(tmp, `output-${scratches++}`);
  writeFileSync(out, '');
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {
    cwd, encoding: 'utf8',
    env: { PATH: `${BIN}:${process.env.PATH}`, HOME: process.env.HOME ?? tmp, GITHUB_OUTPUT: out, RUNNER_TEMP: scratch('runner-temp'), REPO: 'owner/repo', IMAGES_BRANCH: 'figures-diff-images', ...env },
  });
  const output = Object.fromEntries(readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, output };
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();

/** A repository ("GitHub": bare, filters allowed) with a main branch, and the job's checkout of it: main alone, one commit deep. */
function repository() {
  const root = scratch('git');
  const origin = join(root, 'origin.git');
  git(root, 'init', '-q', '--bare', origin);
  git(origin, 'config', 'uploadpack.allowFilter', 'true');
  const seed = join(root, 'seed');
  git(root, 'init', '-q', seed);
  writeFileSync(join(seed, 'README.md'), 'the project\n');
  git(seed, 'add', 'README.md');
  git(seed, 'commit', '-q', '-m', 'main');
  git(seed, 'push', '-q', origin, 'HEAD:refs/heads/main');
  const checkout = join(root, 'checkout');
  git(root, 'init', '-q', checkout);
  git(checkout, 'remote', 'add', 'origin', origin);
  git(checkout, 'fetch', '-q', '--depth=1', 'origin', 'main');
  git(checkout, 'checkout', '-q', 'FETCH_HEAD');
  return { origin, checkout };
}

const SHA = (c: string) => c.repeat(40);
function pngBytes(shade: number): Buffer {
  const img = new PNG({ width: 3, height: 2 });
  img.data.fill(shade);
  return PNG.sync.write(img);
}

/** The artifact as the comparison uploads it, at <checkout>/artifact: one changed figure, one unchanged. */
function artifact(checkout: string, pr: number, head: string, result = 'compared') {
  const dir = join(checkout, 'artifact');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'images'), { recursive: true });
  writeFileSync(join(dir, 'pr.json'), JSON.stringify({ number: pr, head, base: SHA('b'), result }));
  if (result !== 'compared') return;
  const figure = (name: string, status: string, images: Record<string, string | null>) => ({
    name, status, differingPixels: status === 'changed' ? 2 : null, comparedPixels: status === 'changed' ? 6 : null,
    sizes: { old: { width: 3, height: 2 }, new: { width: 3, height: 2 } }, differingFiles: status === 'changed' ? ['png'] : [], images,
  });
  const changed = { old: 'images/double-descent.old.png', new: 'images/double-descent.new.png', diff: 'images/double-descent.diff.png' };
  writeFileSync(join(dir, 'diff.json'), JSON.stringify({ format: 1, profile: 'post', figures: [figure('double-descent', 'changed', changed), figure('heatmap', 'unchanged', { old: null, new: null, diff: null })] }));
  Object.values(changed).forEach((p, i) => writeFileSync(join(dir, p), pngBytes(100 + pr + i)));
}

const tree = (origin: string, ref: string) => git(origin, 'ls-tree', '-r', '--name-only', ref).split('\n').filter(Boolean);

describe('the comment workflow\'s steps, run', () => {
  const check = stepNamed(comment.wf, /^Check pr\.json$/).run!;
  const images = stepNamed(comment.wf, /^Push the images/).run!;
  const write = stepNamed(comment.wf, /^Write the comment$/).run!;
  const post = stepNamed(comment.wf, /^Create or update the figures comment$/).run!;

  it('Check pr.json: passes its fields on; refuses a head that is not the run\'s; skips when the pull request moved on', () => {
    const { checkout } = repository();
    artifact(checkout, 12, SHA('c'));
    const log = join(scratch('gh'), 'log');
    let r = bash(check, checkout, { RUN_HEAD_SHA: SHA('c'), GH_PR_HEAD: SHA('c'), GH_LOG: log });
    expect(r.status, r.stderr).toBe(0);
    expect(r.output).toEqual({ current: 'true', number: '12', head: SHA('c'), base: SHA('b'), result: 'compared' });
    expect(readFileSync(log, 'utf8')).toBe('api repos/owner/repo/pulls/12 --jq .head.sha\n');
    r = bash(check, checkout, { RUN_HEAD_SHA: SHA('c'), GH_PR_HEAD: SHA('d'), GH_LOG: log });
    expect(r.status).toBe(0);
    expect(r.output.current).toBe('false');
    expect(r.stdout).toContain(`::notice::Pull request #12 is at ${SHA('d')} now`);
    r = bash(check, checkout, { RUN_HEAD_SHA: SHA('e'), GH_PR_HEAD: SHA('c'), GH_LOG: log });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`::error::artifact/pr.json names the head commit ${SHA('c')}, but the run was of ${SHA('e')}`);
    writeFileSync(join(checkout, 'artifact', 'pr.json'), JSON.stringify({ number: '12; rm -rf /', head: SHA('c'), base: SHA('b'), result: 'compared' }));
    r = bash(check, checkout, { RUN_HEAD_SHA: SHA('c'), GH_PR_HEAD: SHA('c'), GH_LOG: log });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error: artifact/pr.json: number: `);
    expect(r.output).toEqual({});
  });

  it('Push the images: creates the orphan branch, adds each push\'s images on top, survives a race, and a re-run adds nothing', async () => {
    const { origin, checkout } = repository();
    // Another comment job creates the branch between this one's look and its push: the push is refused, and redone on that tip.
    const rival = (() => {
      const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: origin, input: pngBytes(7) }).toString().trim();
      const leaf = execFileSync('git', ['mktree'], { cwd: origin, input: `100644 blob ${blob}\tother.new.png\n` }).toString().trim();
      const mid = execFileSync('git', ['mktree'], { cwd: origin, input: `040000 tree ${leaf}\t${SHA('9')}\n` }).toString().trim();
      const top = execFileSync('git', ['mktree'], { cwd: origin, input: `040000 tree ${mid}\tpr-99\n` }).toString().trim();
      return git(origin, 'commit-tree', top, '-m', 'the rival');
    })();
    writeFileSync(join(origin, 'race-commit'), rival);
    writeFileSync(join(origin, 'hooks', 'pre-receive'), `#!/usr/bin/env bash
if [ -f race-commit ]; then
  c=$(cat race-commit); rm race-commit
  env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git update-ref refs/heads/figures-diff-images "$c"
fi
`);
    chmodSync(join(origin, 'hooks', 'pre-receive'), 0o755);

    artifact(checkout, 12, SHA('c'));
    let r = bash(images, checkout, { PR_NUMBER: '12', HEAD_SHA: SHA('c') });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('The push lost a race (attempt 1)');
    const first = r.output.commit;
    expect(git(origin, 'rev-parse', 'figures-diff-images')).toBe(first);
    expect(git(origin, 'rev-parse', `${first}^`), 'redone on the rival\'s tip').toBe(rival);
    const mine = ['old', 'new', 'diff'].map((k) => `pr-12/${SHA('c')}/double-descent.${k}.png`);
    expect(tree(origin, first).sort()).toEqual([`pr-99/${SHA('9')}/other.new.png`, ...mine].sort());
    expect(execFileSync('git', ['cat-file', 'blob', `${first}:${mine[1]}`], { cwd: origin }).equals(readFileSync(join(checkout, 'artifact/images/double-descent.new.png')))).toBe(true);
    expect(git(origin, 'log', '-1', '--format=%an <%ae>|%s', first)).toBe(`github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>|Figures of pull request #12 at ${SHA('c')}`);
    expect(git(checkout, 'status', '--porcelain'), 'the checkout and its index are untouched').toBe('?? artifact/');

    // The next push of another pull request: one commit on top, the earlier images kept.
    artifact(checkout, 13, SHA('d'));
    r = bash(images, checkout, { PR_NUMBER: '13', HEAD_SHA: SHA('d') });
    expect(r.status, r.stderr).toBe(0);
    expect(git(origin, 'rev-parse', `${r.output.commit}^`)).toBe(first);
    expect(tree(origin, r.output.commit)).toEqual(expect.arrayContaining([...mine, `pr-13/${SHA('d')}/double-descent.diff.png`]));

    // A re-run of the same comparison finds its images at the tip: no new commit.
    const tip = r.output.commit;
    r = bash(images, checkout, { PR_NUMBER: '13', HEAD_SHA: SHA('d') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.output.commit).toBe(tip);
    expect(git(origin, 'rev-parse', 'figures-diff-images')).toBe(tip);
  }, 60_000);

  it('Push the images: nothing changed, nothing pushed', () => {
    const { origin, checkout } = repository();
    artifact(checkout, 12, SHA('c'));
    const diffJson = join(checkout, 'artifact', 'diff.json');
    writeFileSync(diffJson, JSON.stringify({ format: 1, profile: 'post', figures: [] }));
    const r = bash(images, checkout, { PR_NUMBER: '12', HEAD_SHA: SHA('c') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('No figure changed: no images to push');
    expect(r.output).toEqual({});
    expect(git(origin, 'branch', '--list', 'figures-diff-images')).toBe('');
  });

  it('Write the comment: the images by their commit; a note when the base did not build', () => {
    const { checkout } = repository();
    artifact(checkout, 12, SHA('c'));
    const env = { PR_NUMBER: '12', HEAD_SHA: SHA('c'), BASE_SHA: SHA('b'), SERVER_URL: 'https://github.com', RUN_URL: 'https://github.com/owner/repo/actions/runs/7', PROFILE: 'post' };
    let r = bash(write, checkout, { ...env, RESULT: 'compared', IMAGES_COMMIT: SHA('f') });
    expect(r.status, r.stderr).toBe(0);
    let md = readFileSync(join(checkout, 'comment.md'), 'utf8');
    expect(md.startsWith('<!-- figures-diff:post -->\n')).toBe(true);
    for (const k of ['old', 'new', 'diff']) expect(md).toContain(`<img src="https://github.com/owner/repo/raw/${SHA('f')}/pr-12/${SHA('c')}/double-descent.${k}.png"`);
    expect(md).toContain('Unchanged: `heatmap`');
    expect(md).toContain('[the run](https://github.com/owner/repo/actions/runs/7)');
    r = bash(write, checkout, { ...env, RESULT: 'base-failed', IMAGES_COMMIT: '' });
    expect(r.status, r.stderr).toBe(0);
    md = readFileSync(join(checkout, 'comment.md'), 'utf8');
    expect(md).toBe(`<!-- figures-diff:post -->\n### Figures of profile \`post\`: not compared\n\nThe base commit ${SHA('b')} did not build: there is nothing to compare the figures with.\n\nThe HTML report (full-size images) is the artifact \`figures-diff\` of [the run](https://github.com/owner/repo/actions/runs/7).\n`);
    r = bash(write, checkout, { ...env, RESULT: 'failed', IMAGES_COMMIT: '' });
    expect(readFileSync(join(checkout, 'comment.md'), 'utf8')).toContain('The figures were not compared: the build of this pull request or the comparison failed.');
  });

  it('Create or update: PATCHes the comment that has the marker, else POSTs one; refuses a comment.md without the marker', () => {
    const dir = scratch('post');
    writeFileSync(join(dir, 'comment.md'), '<!-- figures-diff:post -->\nno figure changed\n');
    const run = (env: Record<string, string>) => {
      const log = join(scratch('gh'), 'log');
      const body = join(dir, 'sent.md');
      rmSync(body, { force: true });
      const r = bash(post, dir, { PR_NUMBER: '12', GH_LOG: log, GH_BODY: body, ...env });
      return { ...r, calls: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [], body: existsSync(body) ? readFileSync(body, 'utf8') : null };
    };
    let r = run({ GH_IDS: '' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls[1]).toBe('api -X POST repos/owner/repo/issues/12/comments -F body=@comment.md --jq .html_url');
    expect(r.body).toBe('<!-- figures-diff:post -->\nno figure changed\n');
    r = run({ GH_IDS: '777\n888\n' });
    expect(r.calls).toHaveLength(2);
    expect(r.calls[0]).toMatch(/^api --paginate repos\/owner\/repo\/issues\/12\/comments --jq /);
    expect(r.calls[1]).toBe('api -X PATCH repos/owner/repo/issues/comments/777 -F body=@comment.md --jq .html_url');
    writeFileSync(join(dir, 'comment.md'), '### no marker\n');
    r = run({ GH_IDS: '' });
    expect(r.status).toBe(1);
    expect(r.calls).toEqual([]);
  });

  const jq = spawnSync('jq', ['--version']).status === 0;
  it.runIf(jq)('Create or update: the filter picks the bot\'s comment with the marker, not another\'s, not one of another profile', () => {
    const dir = scratch('post-jq');
    writeFileSync(join(dir, 'comment.md'), '<!-- figures-diff:post -->\nno figure changed\n');
    const comments = join(dir, 'comments.json');
    writeFileSync(comments, JSON.stringify([
      { id: 1, user: { login: 'someone' }, body: '<!-- figures-diff:post -->\nfake' },
      { id: 2, user: { login: 'github-actions[bot]' }, body: 'another bot comment' },
      { id: 3, user: { login: 'github-actions[bot]' }, body: '<!-- figures-diff:paper -->\n...' },
      { id: 4, user: { login: 'github-actions[bot]' }, body: '<!-- figures-diff:post -->\n### Figures...' },
    ]));
    const log = join(dir, 'log');
    const r = bash(post, dir, { PR_NUMBER: '12', GH_LOG: log, GH_BODY: join(dir, 'sent.md'), GH_COMMENTS: comments });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').split('\n')[1]).toBe('api -X PATCH repos/owner/repo/issues/comments/4 -F body=@comment.md --jq .html_url');
  });
});
