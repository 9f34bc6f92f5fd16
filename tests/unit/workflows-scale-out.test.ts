import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * scale-out.yml's promises at its edges: the plan job probes the Nx remote cache (token and server) before
 * the matrix of shards can start; the final build names the plan's shard count; and only a run on the
 * default branch publishes, after the project's tests, with SITE_TOKEN resolved from publish-site.yml's environment.
 */

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const FILE = join(REPO, '.github', 'workflows', 'scale-out.yml');
const SCRIPTS: Record<string, string> = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts;

type Step = { name?: string; id?: string; uses?: string; run?: string; env?: Record<string, string>; if?: string };
type Job = { needs?: string | string[]; if?: string; uses?: string; with?: Record<string, unknown>; secrets?: unknown; steps?: Step[]; strategy?: { matrix?: Record<string, unknown> } };
const text = readFileSync(FILE, 'utf8');
const wf = parse(text) as { jobs: Record<string, Job> };
const { plan, shard, final, publish } = wf.jobs;
const needs = (job: Job) => [job.needs ?? []].flat();
const stepIndex = (job: Job, test: (s: Step) => boolean) => (job.steps ?? []).findIndex(test);

describe('scale-out.yml', () => {
  it('is a valid workflow (action-validator)', () => {
    const r = spawnSync(join(REPO, 'node_modules', '.bin', 'action-validator'), [FILE], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('the plan job probes the cache with the server and token the shards use, after npm ci and before the split', () => {
    expect(SCRIPTS['cache:probe']).toBe('tsx pipeline/commands/cache-probe.ts');
    const probe = stepIndex(plan, (s) => /npm run (--silent )?cache:probe\b/.test(s.run ?? ''));
    expect(probe, 'a step runs npm run cache:probe').toBeGreaterThan(-1);
    const step = plan.steps![probe];
    expect(step.env?.NX_SELF_HOSTED_REMOTE_CACHE_SERVER).toBe('${{ vars.NX_CACHE_SERVER }}');
    expect(step.env?.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN).toBe('${{ secrets.NX_CACHE_TOKEN }}');
    expect(step.if, 'the probe always runs').toBeUndefined();
    expect(stepIndex(plan, (s) => /npm ci\b/.test(s.run ?? ''))).toBeLessThan(probe);
    expect(stepIndex(plan, (s) => s.id === 'plan')).toBeGreaterThan(probe);
    // The token is the probe step's alone, not the whole job's.
    expect(JSON.stringify({ ...plan, steps: plan.steps!.filter((_, i) => i !== probe) })).not.toMatch(/secrets\./);
  });

  it('no shard starts before the plan job, probe included, has succeeded', () => {
    expect(needs(shard)).toContain('plan');
    expect(shard.if ?? '', 'no always()/failure() that would start shards after a failed plan').not.toMatch(/always\(\)|failure\(\)|cancelled\(\)/);
    expect(shard.strategy?.matrix?.index).toBe('${{ fromJSON(needs.plan.outputs.indices) }}');
  });

  it('the final build names the plan\'s shard count', () => {
    const build = final.steps!.find((s) => /npm run build\b/.test(s.run ?? ''));
    expect(build?.run).toMatch(/--shards "?\$\{\{ needs\.plan\.outputs\.count \}\}"?/);
  });

  it('publishes only from the default branch, through publish-site.yml with its inputs', () => {
    expect(publish.uses).toBe('./.github/workflows/publish-site.yml');
    expect(publish.with).toEqual({ profile: '${{ inputs.profile }}', artifact: 'dist-${{ inputs.profile }}' });
    expect(needs(publish)).toEqual(['final', 'tests']);
    expect(wf.jobs.tests.uses).toBe('./.github/workflows/tests.yml');
    const cond = publish.if ?? '';
    expect(cond).toContain('github.ref_name == github.event.repository.default_branch');
    expect(cond).toContain("github.ref_type == 'branch'"); // a tag named like the default branch is not it
    expect(cond).toContain('inputs.publish');
    expect(cond, 'every part must hold (no ||)').not.toMatch(/\|\|/);
  });

  it('passes SITE_TOKEN by name only to publish-site.yml, whose job takes it from the environment `site`', () => {
    // GitHub: a called workflow gets a secret only when the caller passes it (by name, or inherit); the job
    // that declares an environment then receives the environment's value. Passing by name sends no other secret.
    expect(publish.secrets).toEqual({ SITE_TOKEN: '${{ secrets.SITE_TOKEN }}' });
    const publishSite = parse(readFileSync(join(REPO, '.github', 'workflows', 'publish-site.yml'), 'utf8'));
    expect(Object.values<any>(publishSite.jobs).map((j) => j.environment)).toEqual(['site']);
  });
});
