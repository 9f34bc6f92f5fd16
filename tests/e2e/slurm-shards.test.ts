import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { build, editJson, listFiles, makeWorkspace, removeWorkspace } from './workspace.ts';
import { startCacheServer, type CacheServer } from './nx-cache-server.ts';
import { slurmAvailable, startSlurm, type SlurmCluster } from './slurm.ts';

/**
 * The Slurm scripts `npm run slurm` writes, on a real one-node cluster: a job array of two shards, then
 * the final build (afterok), meeting in an Nx remote cache. Every training runs exactly once across the
 * shards, the final build takes all of them from the cache, and its dist/ is a one-machine build's bytes.
 */
const slurm = slurmAvailable();
const why = slurm.ok ? '' : slurm.why;
if (!slurm.ok) console.warn(`\n${'!'.repeat(100)}\n!! SKIPPING the Slurm shard test: Slurm cannot run here: ${why}\n${'!'.repeat(100)}\n`);
const P = 'slurmed';
const TOKEN = 'slurm-token';

describe.skipIf(!slurm.ok && !(process.env.CI && process.getuid?.() === 0))('shards as a Slurm job array, then the final build', () => {
  let server: CacheServer;
  let cluster: SlurmCluster | undefined;
  let root: string;
  const ws = { repo: '', one: '' };

  beforeAll(async () => {
    if (!slurm.ok) throw new Error(`CI is set, but Slurm cannot run on this machine: ${why}`);
    server = await startCacheServer({ writeTokens: [TOKEN] });
    root = mkdtempSync(join(tmpdir(), 'sl-'));
    cluster = await startSlurm(join(root, 'c'));
    for (const k of ['repo', 'one'] as const) {
      ws[k] = makeWorkspace(`smdd-slurm-${k}`);
      editJson(join(ws[k], 'experiment.json'), (c) => {
        c.profiles[P] = {
          extends: 'quick', description: 'a Slurm array',
          data: { testSetSize: 500 }, training: { steps: 200, warmupSteps: 20, initsPerRun: 1, onlineBatchSize: 100, lossCurvePoints: 3 },
          datasetSizes: [3, 5, 30, 'infinity'], runOverrides: [], execution: { shards: 2 }, figures: ['small-datasets', 'double-descent'],
        };
      });
    }
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    await server?.close();
    for (const dir of Object.values(ws)) if (dir) removeWorkspace(dir);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('trains every run exactly once across the array, and the final job renders from the cache the bytes of one machine', async () => {
    const out = join(ws.repo, 'slurm', `${P} out`); // a space: the #SBATCH --output lines quote it
    const gen = spawnSync(join(ws.repo, 'node_modules/.bin/tsx'), ['pipeline/commands/slurm.ts', P, '--cache-server', server.url, '--out', out], { cwd: ws.repo, encoding: 'utf8' });
    expect(gen.status, gen.stderr).toBe(0);
    const env = `--export=ALL,NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=${TOKEN},NX_DAEMON=false,NX_TUI=false,NX_NO_CLOUD=true,NO_COLOR=1,FORCE_COLOR=0`;
    const c = cluster!;
    const array = c.sbatch([env, `--chdir=${out}`], readFileSync(join(out, 'shard.sbatch'), 'utf8'));
    const final = c.sbatch([env, `--chdir=${out}`, `--dependency=afterok:${array}`], readFileSync(join(out, 'final.sbatch'), 'utf8'));
    await c.waitForJobs([array, final], 600_000);
    const log = (name: string) => readFileSync(join(out, 'logs', name), 'utf8');
    expect(c.jobState(final)?.state, log('final.log').slice(-3000)).toBe('COMPLETED');

    // `> nx run <task>` alone: it ran; with [local cache] / [remote cache]: restored.
    const tasks = (text: string, cached: boolean) => text.split('\n').map((l) => /^> nx run (\S+:train)(.*)$/.exec(l.trim())).filter((m) => m && /cache/.test(m[2]) === cached).map((m) => m![1]);
    const trained = [...tasks(log('shard-1.log'), false), ...tasks(log('shard-2.log'), false)].sort();
    expect(trained).toEqual(['T3-m2-s0', 'T30-m2-s0', 'T5-m2-s0', 'Tinf-m2-s0'].map((id) => `${P}-run-${id}:train`).sort());
    expect(tasks(log('final.log'), false)).toEqual([]);
    expect(tasks(log('final.log'), true)).toHaveLength(4);

    const one = await build(ws.one, P, ['--allow-local-training']);
    expect(one.status, one.output.slice(-2000)).toBe(0);
    const files = listFiles(join(ws.one, 'dist', P));
    expect(listFiles(join(ws.repo, 'dist', P))).toEqual(files);
    for (const f of files) expect(readFileSync(join(ws.repo, 'dist', P, f)).equals(readFileSync(join(ws.one, 'dist', P, f))), f).toBe(true);
  }, 900_000);
});
