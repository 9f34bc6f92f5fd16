import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * The GitHub Actions workflows in .github/workflows: valid for GitHub (the action-validator CLI, offline),
 * and keeping the promises CI makes: pinned actions, least privilege, bounded jobs, the container with
 * the Node.js the project is tested with, npm scripts that exist, publishing in order, the Nx cache.
 */

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const WORKFLOWS = join(REPO, '.github', 'workflows');
const VALIDATOR = join(REPO, 'node_modules', '.bin', 'action-validator');
const SCRIPTS: Record<string, string> = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts;

/** The container every job that sets the project up runs in: Debian 12 with this very Node.js. */
const CONTAINER = `node:${process.version.replace(/^v/, '')}-bookworm`;

/** Write permissions a job may hold, by workflow file and job; every other job gets none. */
const ALLOWED_WRITES: Record<string, Record<string, string[]>> = {
  'figures.yml': { deploy: ['pages', 'id-token'] },
  'figures-diff-comment.yml': { comment: ['contents', 'pull-requests'] }, // the images branch and the pull request's comment; it never runs the pull request's code
};

type Step = { name?: string; id?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, unknown>; if?: string };
type Job = {
  'runs-on'?: unknown;
  'timeout-minutes'?: unknown;
  container?: string | { image?: string };
  permissions?: unknown;
  steps?: Step[];
  uses?: string;
  if?: string;
  env?: Record<string, unknown>;
};
type Workflow = {
  on?: unknown;
  true?: unknown; // YAML 1.1 readers turn `on` into true; the yaml package (1.2) does not, but be safe
  permissions?: unknown;
  concurrency?: string | { group?: string; 'cancel-in-progress'?: unknown };
  env?: Record<string, unknown>;
  jobs: Record<string, Job>;
};

const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
const workflows = new Map<string, { text: string; wf: Workflow }>(
  files.map((f) => {
    const text = readFileSync(join(WORKFLOWS, f), 'utf8');
    return [f, { text, wf: parse(text) as Workflow }];
  }),
);

function validate(file: string): { status: number | null; output: string } {
  const r = spawnSync(VALIDATOR, [file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The events a workflow runs on. */
function events(wf: Workflow): string[] {
  const on = wf.on ?? wf.true;
  if (typeof on === 'string') return [on];
  if (Array.isArray(on)) return on.map(String);
  return on && typeof on === 'object' ? Object.keys(on) : [];
}

/** Why a `uses:` reference is not pinned to a version tag or a commit SHA, or null when it is. */
export function unpinned(ref: string): string | null {
  if (ref.startsWith('./')) return null; // an action of this repository, at this commit
  if (ref.startsWith('docker://')) return /@sha256:[0-9a-f]{64}$|:[\w.-]+$/.test(ref) && !/:latest$/.test(ref) ? null : 'a docker image without a tag or digest';
  const at = ref.lastIndexOf('@');
  if (at < 0) return 'no @version';
  const version = ref.slice(at + 1);
  if (/^[0-9a-f]{40}$/.test(version)) return null;
  if (/^v\d+(\.\d+){0,2}$/.test(version)) return null;
  return `@${version} is not a version tag (v4, v4.2.2) or a full commit SHA`;
}

/** The npm commands a shell script runs: `npm run X` / `npm run-script X` as `run X`, else the command. */
export function npmCalls(script: string): { command: string; script?: string }[] {
  const calls: { command: string; script?: string }[] = [];
  for (const raw of script.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, ''); // comments
    for (const m of line.matchAll(/(?:^|[\s;&|(])npm((?:\s+-{1,2}[\w-]+(?:=\S+)?)*)\s+([\w:.-]+)(?:(?:\s+-{1,2}[\w-]+)*\s+([\w:.-]+))?/g)) {
      const command = m[2];
      if (command === 'run' || command === 'run-script') calls.push({ command: 'run', script: m[3] });
      else calls.push({ command });
    }
  }
  return calls;
}

/** Write permissions granted by a `permissions:` value (string forms included). */
function writes(permissions: unknown): string[] {
  if (permissions === undefined || permissions === null) return [];
  if (typeof permissions === 'string') return permissions === 'read-all' ? [] : [permissions];
  return Object.entries(permissions as Record<string, unknown>)
    .filter(([, level]) => level !== 'read' && level !== 'none')
    .map(([scope]) => scope);
}

function imageOf(job: Job): string | undefined {
  return typeof job.container === 'string' ? job.container : job.container?.image;
}

function* allJobs(): Generator<{ file: string; name: string; job: Job; wf: Workflow }> {
  for (const [file, { wf }] of workflows) for (const [name, job] of Object.entries(wf.jobs ?? {})) yield { file, name, job, wf };
}

function* allSteps(): Generator<{ file: string; job: string; step: Step; index: number }> {
  for (const { file, name, job } of allJobs()) for (const [index, step] of (job.steps ?? []).entries()) yield { file, job: name, step, index };
}

/** The steps that cache Nx's outputs (not npm's download cache, which tests.yml keeps on its own key). */
const cacheSteps = () => [...allSteps()].filter(({ step }) => /^actions\/cache(\/(restore|save))?@/.test(step.uses ?? '') && String(step.with?.path ?? '').includes('.nx/cache'));
const lines = (v: unknown) => String(v ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
/** The file patterns of the hashFiles(...) in a cache key, in order. */
const hashedFiles = (key: string) => [...(/hashFiles\(([^)]*)\)/.exec(key)?.[1] ?? '').matchAll(/'([^']*)'/g)].map((m) => m[1]);

describe('the workflow files', () => {
  it('are there: the build-and-publish workflow and the pull-request diff', () => {
    expect(files).toEqual(expect.arrayContaining(['figures.yml', 'figures-diff.yml']));
  });

  it.each(files)('%s is a valid workflow (action-validator)', (file) => {
    const { status, output } = validate(join(WORKFLOWS, file));
    expect(status, `action-validator ${file}:\n${output}`).toBe(0);
  });

  describe('the validator can fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smdd-workflows-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('rejects a job with no runs-on', () => {
      const file = join(dir, 'broken.yml');
      writeFileSync(file, 'name: broken\non: push\njobs:\n  build:\n    steps:\n      - run: echo hi\n');
      const { status, output } = validate(file);
      expect(status).not.toBe(0);
      expect(output).toMatch(/runs-on/);
    });

    it('accepts the same job with runs-on', () => {
      const file = join(dir, 'fixed.yml');
      writeFileSync(file, 'name: fixed\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n');
      expect(validate(file).status).toBe(0);
    });
  });
});

describe('every action is pinned', () => {
  it('the check tells a pin from a branch', () => {
    expect(unpinned('actions/checkout@v4')).toBeNull();
    expect(unpinned('actions/checkout@v4.2.2')).toBeNull();
    expect(unpinned('actions/cache/restore@5a3ec84eff668545956fd18022155c47e93e2684')).toBeNull();
    expect(unpinned('./.github/actions/local')).toBeNull();
    for (const bad of ['actions/checkout@main', 'actions/checkout@master', 'actions/checkout@release/v4', 'actions/checkout', 'actions/checkout@5a3ec84', 'docker://node']) {
      expect(unpinned(bad), bad).not.toBeNull();
    }
  });

  it('to a version tag or a full commit SHA, never a branch', () => {
    const refs = [...allJobs()].flatMap(({ file, name, job }) => [
      ...(job.uses ? [{ where: `${file} ${name}`, ref: job.uses }] : []),
      ...(job.steps ?? []).filter((s) => s.uses).map((s, i) => ({ where: `${file} ${name} step ${s.name ?? i}`, ref: s.uses! })),
    ]);
    expect(refs.length).toBeGreaterThan(0);
    const bad = refs.map(({ where, ref }) => ({ where, ref, why: unpinned(ref) })).filter((r) => r.why);
    expect(bad).toEqual([]);
  });

  it('a commit SHA carries the version it is, as a comment', () => {
    const bare = [...workflows].flatMap(([file, { text }]) =>
      text.split('\n').filter((l) => /uses:\s*\S+@[0-9a-f]{40}\b/.test(l) && !/#\s*v\d/.test(l)).map((l) => `${file}: ${l.trim()}`),
    );
    expect(bare).toEqual([]);
  });
});

describe('least privilege', () => {
  it.each(files)('%s: the top-level permissions are read-only', (file) => {
    const { wf } = workflows.get(file)!;
    expect(wf.permissions, `${file} must set top-level permissions`).toBeDefined();
    expect(writes(wf.permissions)).toEqual([]);
  });

  it('no job holds a write permission it does not need', () => {
    const extra = [...allJobs()].flatMap(({ file, name, job }) => {
      const allowed = ALLOWED_WRITES[file]?.[name] ?? [];
      return writes(job.permissions).filter((scope) => !allowed.includes(scope)).map((scope) => `${file} ${name}: ${scope}`);
    });
    expect(extra).toEqual([]);
  });

  it('the Pages deployment has exactly pages and id-token write, in the github-pages environment', () => {
    const deploy = workflows.get('figures.yml')!.wf.jobs.deploy as Job & { environment?: unknown };
    expect(deploy.permissions).toEqual({ pages: 'write', 'id-token': 'write' });
    const env = deploy.environment;
    expect(typeof env === 'string' ? env : (env as { name?: string })?.name).toBe('github-pages');
  });

  it('secrets reach only the jobs that publish or write the shared cache, and never a pull_request workflow', () => {
    const users = [...allJobs()].filter(({ job }) => /\bsecrets\./.test(JSON.stringify(job))).map(({ file, name }) => `${file} ${name}`);
    expect(users.sort()).toEqual(['figures.yml publish', 'publish-site.yml publish', 'scale-out.yml final', 'scale-out.yml plan', 'scale-out.yml publish', 'scale-out.yml shard']);
    for (const [file, { wf }] of workflows) {
      if (events(wf).some((e) => e.startsWith('pull_request'))) expect(JSON.stringify(wf), file).not.toMatch(/\bsecrets\./);
    }
  });
});

describe('jobs', () => {
  it('every job has a timeout within the 6-hour limit of GitHub-hosted runners', () => {
    for (const { file, name, job } of allJobs()) {
      if (job.uses) continue; // a call of a reusable workflow, whose jobs have their own timeouts
      const t = job['timeout-minutes'];
      expect(typeof t === 'number' && t > 0 && t <= 360, `${file} ${name}: timeout-minutes = ${String(t)}`).toBe(true);
    }
  });

  it(`the builds run in ${CONTAINER}: Debian 12 with the Node.js these tests run on`, () => {
    const build = workflows.get('figures.yml')!.wf.jobs.build;
    const diff = workflows.get('figures-diff.yml')!.wf.jobs.diff;
    expect(imageOf(build), 'figures.yml build: the container must match process.version').toBe(CONTAINER);
    expect(imageOf(diff), 'figures-diff.yml diff: the container must match process.version').toBe(CONTAINER);
  });

  it('every job that runs the setup (apt-get for Debian 12) or a build runs in that container', () => {
    for (const { file, name, job } of allJobs()) {
      const calls = (job.steps ?? []).flatMap((s) => npmCalls(s.run ?? ''));
      if (calls.some((c) => c.command === 'ci' || (c.command === 'run' && ['setup', 'build'].includes(c.script!)))) {
        expect(imageOf(job), `${file} ${name}`).toBe(CONTAINER);
      }
    }
  });

  it('every cache key names the container image, so another Node.js never reuses its outputs', () => {
    const tag = CONTAINER.replace(/^node:/, 'node');
    for (const { file, job, step } of cacheSteps()) {
      if (step.uses!.startsWith('actions/cache/save@')) continue; // saves the key its restore computed
      expect(String(step.with?.key), `${file} ${job} ${step.name}`).toContain(tag);
      for (const k of lines(step.with?.['restore-keys'])) expect(k, `${file} ${job} ${step.name}`).toContain(tag);
    }
  });
});

describe('the steps call npm scripts that exist', () => {
  it('the parser finds npm commands', () => {
    expect(npmCalls('npm ci --no-audit\nnpm run build -- quick\ncd base && npm run setup\n# npm run nothing\nnpm test')).toEqual([
      { command: 'ci' },
      { command: 'run', script: 'build' },
      { command: 'run', script: 'setup' },
      { command: 'test' },
    ]);
    expect(npmCalls('npm --silent run-script figures:diff -- a b')).toEqual([{ command: 'run', script: 'figures:diff' }]);
    expect(npmCalls('x="$(npm run --silent build -- P --plan)"')).toEqual([{ command: 'run', script: 'build' }]);
    expect(npmCalls('npm install left-pad')).toEqual([{ command: 'install' }]);
  });

  it('`npm run X` names a script of package.json; otherwise only `npm ci` and `npm test`', () => {
    const calls = [...allSteps()].flatMap(({ file, job, step }) => npmCalls(step.run ?? '').map((c) => ({ where: `${file} ${job} ${step.name}`, ...c })));
    expect(calls.length).toBeGreaterThan(0);
    const bad = calls.filter((c) => (c.command === 'run' ? !(c.script! in SCRIPTS) : !['ci', 'test'].includes(c.command)));
    expect(bad).toEqual([]);
  });

  it('the pipeline: setup, build, the figure tests on dist/post, publish and the diff', () => {
    const scripts = new Set([...allSteps()].flatMap(({ step }) => npmCalls(step.run ?? '').map((c) => c.script)));
    for (const s of ['setup', 'build', 'test:figures', 'publish', 'figures:diff']) expect(scripts.has(s), s).toBe(true);
    const figureTests = [...allSteps()].filter(({ step }) => npmCalls(step.run ?? '').some((c) => c.script === 'test:figures'));
    for (const { file, step } of figureTests) expect(step.env?.FIGURES_DIST, file).toBe('dist/post');
  });
});

describe('publishing in order', () => {
  const publishing = [...workflows].filter(([, { wf }]) => events(wf).includes('push'));

  it('the publishing workflow runs on push to main and by hand', () => {
    expect(publishing.map(([f]) => f)).toEqual(['figures.yml']);
    const on = workflows.get('figures.yml')!.wf.on as Record<string, { branches?: string[] } | null>;
    expect(on.push?.branches).toEqual(['main']);
    expect(Object.keys(on)).toContain('workflow_dispatch');
  });

  it('it has a concurrency group per workflow and ref that never cancels a run in progress', () => {
    for (const [file, { wf }] of publishing) {
      const c = wf.concurrency;
      expect(c && typeof c === 'object', `${file}: concurrency must be an object with group and cancel-in-progress`).toBe(true);
      const { group, 'cancel-in-progress': cancel } = c as { group?: string; 'cancel-in-progress'?: unknown };
      expect(group).toMatch(/github\.workflow/);
      expect(group).toMatch(/github\.ref/);
      expect(cancel).toBe(false);
    }
  });

  it('it deploys and publishes only the tip of main, after the build and its tests', () => {
    const { jobs } = workflows.get('figures.yml')!.wf;
    for (const name of ['deploy', 'publish']) {
      const job = jobs[name] as Job & { needs?: unknown };
      expect(job.needs, name).toEqual(['build', 'tests']);
      expect(job.if, name).toMatch(/needs\.build\.outputs\.newest == 'true'/);
      expect(job.if, name).toMatch(/github\.ref == 'refs\/heads\/main'/);
    }
    expect(jobs.publish.if).toMatch(/vars\.SITE_REPOSITORY != ''/);
    const names = (jobs.build.steps ?? []).map((s) => s.name ?? s.uses ?? '');
    const tests = names.findIndex((n) => /Test the built figures/.test(n));
    const upload = names.findIndex((n) => /Upload the gallery/.test(n));
    expect(tests).toBeGreaterThan(-1);
    expect(upload).toBeGreaterThan(tests);
  });

  it('the project\'s tests gate what is published: figures.yml calls tests.yml, and deploy and publish need it', () => {
    const { jobs } = workflows.get('figures.yml')!.wf;
    expect(jobs.tests.uses).toBe('./.github/workflows/tests.yml');
  });

  it('the pull-request diff cancels its own stale runs instead', () => {
    const c = workflows.get('figures-diff.yml')!.wf.concurrency as { group?: string; 'cancel-in-progress'?: unknown };
    expect(c.group).toMatch(/pull_request\.number/);
    expect(c['cancel-in-progress']).toBe(true);
  });
});

describe('the Nx cache', () => {
  it('Nx keeps its cache in the workspace (.nx/cache), where the workflows that cache it save it', () => {
    const caching = new Set(cacheSteps().map(({ file }) => file));
    expect([...caching].sort()).toEqual(['figures-diff.yml', 'figures.yml']);
    for (const file of caching) expect(workflows.get(file)!.wf.env?.NX_CACHE_DIRECTORY, file).toBe('.nx/cache');
  });

  it('the scale-out shards and final build meet in the Nx remote cache the repository names', () => {
    const { wf } = workflows.get('scale-out.yml')!;
    for (const name of ['shard', 'final']) {
      expect(wf.jobs[name].env?.NX_SELF_HOSTED_REMOTE_CACHE_SERVER, name).toBe('${{ vars.NX_CACHE_SERVER }}');
      expect(wf.jobs[name].env?.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN, name).toBe('${{ secrets.NX_CACHE_TOKEN }}');
    }
    const shard = wf.jobs.shard as Job & { strategy?: { matrix?: { index?: unknown } } };
    expect(shard.strategy?.matrix?.index).toBe('${{ fromJSON(needs.plan.outputs.indices) }}');
    expect(JSON.stringify(shard.steps)).toContain('--shard');
    expect((wf.jobs.final as Job & { needs?: unknown }).needs).toEqual(['plan', 'shard']);
  });

  it('every cache step caches .nx/cache, Nx\'s index database and data/, with one list of paths', () => {
    const steps = cacheSteps();
    expect(steps.length).toBeGreaterThan(0);
    const norm = (p: string) => p.replace(/\/+$/, '');
    const paths = steps.map(({ step }) => lines(step.with?.path).map(norm));
    for (const [i, p] of paths.entries()) {
      const { file, job, step } = steps[i];
      expect(p, `${file} ${job} ${step.name}`).toEqual(expect.arrayContaining(['.nx/cache', 'data', '.nx/workspace-data/*.db*']));
      // A cache's version is a hash of its paths: a pull request restores what main saved only if they are equal.
      expect(p, `${file} ${job} ${step.name}`).toEqual(paths[0]);
    }
  });

  it('the key hashes the config and the code; a restore falls back to the newest cache of the branch', () => {
    for (const { file, job, step } of cacheSteps()) {
      if (step.uses!.startsWith('actions/cache/save@')) {
        expect(String(step.with?.key), `${file} ${job}: save under the key its restore computed`).toMatch(/steps\.[\w-]+\.outputs\.cache-primary-key/);
        continue;
      }
      const key = String(step.with?.key);
      const hashed = hashedFiles(key).map((f) => f.replace(/^base\//, ''));
      expect(hashed, `${file} ${job}: ${key}`).toEqual(expect.arrayContaining(['experiment.json', 'figures/**', 'pipeline/**', 'package-lock.json']));
      const restoreKeys = lines(step.with?.['restore-keys']);
      expect(restoreKeys.length, `${file} ${job}: restore-keys`).toBeGreaterThan(0);
      for (const k of restoreKeys) expect(key.startsWith(k), `${file} ${job}: ${k} is a prefix of ${key}`).toBe(true);
    }
  });

  it('a pull request looks up its base commit under the key main saved it with', () => {
    const restores = cacheSteps().filter(({ step }) => !step.uses!.startsWith('actions/cache/save@'));
    const main = restores.find(({ file }) => file === 'figures.yml')!;
    const base = restores.find(({ file, step }) => file === 'figures-diff.yml' && hashedFiles(String(step.with?.key)).some((f) => f.startsWith('base/')));
    expect(base, 'figures-diff.yml restores a cache for base/').toBeDefined();
    const mainKey = String(main.step.with?.key);
    const baseKey = String(base!.step.with?.key);
    expect(hashedFiles(baseKey)).toEqual(hashedFiles(mainKey).map((f) => `base/${f}`));
    expect(baseKey.replace(/\$\{\{.*\}\}/, '')).toBe(mainKey.replace(/\$\{\{.*\}\}/, ''));
    expect(base!.step.with?.['restore-keys']).toEqual(main.step.with?.['restore-keys']);
  });

  it('every job that restores the cache pins the machine id its database is named after, before building', () => {
    for (const { file, name, job } of allJobs()) {
      const steps = job.steps ?? [];
      const restore = steps.findIndex((s) => /^actions\/cache(\/restore)?@/.test(s.uses ?? '') && String(s.with?.path ?? '').includes('.nx/cache'));
      if (restore < 0) continue;
      const pin = steps.findIndex((s) => /\/etc\/machine-id/.test(s.run ?? ''));
      const build = steps.findIndex((s) => npmCalls(s.run ?? '').some((c) => c.script === 'build'));
      expect(pin, `${file} ${name}: no step pins /etc/machine-id`).toBeGreaterThan(-1);
      expect(pin, `${file} ${name}: pin the machine id before the build`).toBeLessThan(build);
    }
  });
});

describe('the tests run in CI', () => {
  const tests = () => workflows.get('tests.yml')!.wf;

  it('tests.yml runs on every pull request and when called (figures.yml calls it on every push to main)', () => {
    expect(Object.keys(tests().on as object).sort()).toEqual(['pull_request', 'workflow_call']);
    expect(events(workflows.get('figures.yml')!.wf)).toContain('push');
  });

  it('its job runs .ci/run (the README\'s test command after the setup) in the container, with npm\'s cache keyed on the lockfile', () => {
    const jobs = Object.values(tests().jobs);
    expect(jobs.length).toBe(1);
    const [job] = jobs;
    expect(imageOf(job)).toBe(CONTAINER);
    expect((job.steps ?? []).some((s) => /^bash \.ci\/run$/m.test(s.run ?? ''))).toBe(true);
    const cache = (job.steps ?? []).find((s) => s.uses?.startsWith('actions/cache@'));
    expect(cache?.with?.path).toBe('~/.npm');
    expect(hashedFiles(String(cache?.with?.key))).toEqual(['package-lock.json']);
    expect(readFileSync(join(REPO, '.ci', 'run'), 'utf8')).toMatch(/^npm run setup\nnpm test$/m);
  });
});

describe('publishing into the site', () => {
  const publish = () => workflows.get('publish-site.yml')!.wf;
  type EnvJob = Job & { environment?: unknown };

  it('the job that holds the site token runs in the GitHub environment `site`, which its owner limits to the default branch', () => {
    const jobs = Object.values(publish().jobs) as EnvJob[];
    expect(jobs.length).toBe(1);
    const env = jobs[0].environment;
    expect(typeof env === 'string' ? env : (env as { name?: string })?.name).toBe('site');
  });

  it('the site root is an input (default the repository root), checked to stay inside the site repository', () => {
    const on = publish().on as { workflow_call: { inputs: Record<string, { default?: unknown; type?: string }> } };
    expect(on.workflow_call.inputs['site-root']).toMatchObject({ default: '.', type: 'string' });
    const steps = (Object.values(publish().jobs)[0].steps ?? []);
    expect(steps.some((s) => /npm run publish -- "site\/\$SITE_ROOT"/.test(s.run ?? ''))).toBe(true);
    expect(steps.some((s) => /\.\.\/\*/.test(s.run ?? '') && /SITE_ROOT/.test(s.run ?? ''))).toBe(true);
  });

  it('commits, pushes and opens or closes the pull request through .github/scripts/publish-commit.sh (which tests/e2e/site.test.ts runs)', () => {
    const steps = (Object.values(publish().jobs)[0].steps ?? []);
    expect(steps.some((s) => /bash "\$GITHUB_WORKSPACE\/\.github\/scripts\/publish-commit\.sh"/.test(s.run ?? ''))).toBe(true);
  });
});
