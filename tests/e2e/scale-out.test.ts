import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, editJson, listFiles, makeWorkspace, removeWorkspace } from './workspace.ts';
import { startCacheServer, type CacheServer } from './nx-cache-server.ts';

/**
 * Shards of a profile on separate clones meet in an Nx self-hosted remote cache (the conformant server of
 * tests/e2e/nx-cache-server.ts): each clone has its own NX_CACHE_DIRECTORY, so a local hit cannot hide a
 * remote one. The final build takes every training from the server and its figures are the bytes of a
 * one-machine build. Two shards given the same slice leave the cache whole (one PUT wins, the other gets
 * 409), and a final build before the shards finished names the missing runs and trains nothing.
 */
const P = 'scaled';
const TOKEN = 'shard-token';

describe('a profile split over shards that meet in a remote Nx cache', () => {
  let server: CacheServer;
  const ws: Record<'a' | 'b' | 'final' | 'one', string> = { a: '', b: '', final: '', one: '' };
  const remote = (dir: string) => ({
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: TOKEN, NX_CACHE_DIRECTORY: join(dir, '.nx', 'cache'),
  });
  const trainTasks = (tasks: string[]) => tasks.filter((t) => t.endsWith(':train'));
  const weightsIn = (dir: string) => {
    const runs = join(dir, 'data', P, 'runs');
    return existsSync(runs) ? readdirSync(runs).filter((r) => existsSync(join(runs, r, 'weights.bin'))) : [];
  };

  beforeAll(async () => {
    server = await startCacheServer({ writeTokens: [TOKEN] });
    for (const k of Object.keys(ws) as (keyof typeof ws)[]) {
      ws[k] = makeWorkspace(`smdd-shard-${k}`);
      editJson(join(ws[k], 'experiment.json'), (c) => {
        c.profiles[P] = {
          extends: 'quick', description: 'two shards',
          data: { testSetSize: 500 }, training: { steps: 200, warmupSteps: 20, initsPerRun: 1, onlineBatchSize: 100, lossCurvePoints: 3 },
          datasetSizes: [3, 5, 30, 'infinity'], runOverrides: [], execution: { shards: 2 }, figures: ['small-datasets', 'double-descent'],
        };
      });
    }
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    for (const dir of Object.values(ws)) if (dir) removeWorkspace(dir);
  });

  it('a final build before the shards ran names every missing run and its shard, and trains nothing', async () => {
    const r = await build(ws.final, P, [], remote(ws.final));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/error: 4 of 4 runs of profile scaled are not in the cache, so nothing was trained here/);
    for (const id of ['T3-m2-s0', 'T5-m2-s0', 'T30-m2-s0', 'Tinf-m2-s0']) expect(r.output).toMatch(new RegExp(`  ${id} \\(shard [12]/2\\)`));
    expect(weightsIn(ws.final)).toEqual([]);
  }, 300_000);

  it('runs each shard on its own clone, the same slice twice at once without harm, and the final build trains nothing', async () => {
    const [a1, b1] = await Promise.all([build(ws.a, P, ['--shard', '1/2'], remote(ws.a)), build(ws.b, P, ['--shard', '1/2'], remote(ws.b))]);
    expect(a1.status, a1.output.slice(-2000)).toBe(0);
    expect(b1.status, b1.output.slice(-2000)).toBe(0);
    const b2 = await build(ws.b, P, ['--shard', '2/2'], remote(ws.b));
    expect(b2.status, b2.output.slice(-2000)).toBe(0);
    // Shard 1 trained its runs and no other; shard 2 trained the rest. Of the two copies of shard 1, either may
    // train a run and the other take it from the remote cache, depending on which gets there first.
    const shard1 = [...new Set(trainTasks([...a1.ran, ...b1.ran]))];
    expect(shard1.length).toBeGreaterThan(0);
    expect(trainTasks([...b2.ran, ...b2.cached]).filter((t) => shard1.includes(t))).toEqual([]);
    expect(new Set([...shard1, ...trainTasks(b2.ran)]).size).toBe(4);
    expect(server.stats.putsStored).toBeGreaterThan(0);

    const final = await build(ws.final, P, [], remote(ws.final));
    expect(final.status, final.output.slice(-3000)).toBe(0);
    expect(trainTasks(final.ran)).toEqual([]);
    expect(trainTasks(final.cached)).toHaveLength(4);
    expect(final.output).toContain('[remote cache]');

    // One machine, no cache shared: the same bytes in dist/.
    const one = await build(ws.one, P, ['--allow-local-training']);
    expect(one.status, one.output.slice(-2000)).toBe(0);
    expect(trainTasks(one.ran)).toHaveLength(4);
    const files = listFiles(join(ws.one, 'dist', P));
    expect(listFiles(join(ws.final, 'dist', P))).toEqual(files);
    for (const f of files) expect(readFileSync(join(ws.final, 'dist', P, f)).equals(readFileSync(join(ws.one, 'dist', P, f))), f).toBe(true);
  }, 900_000);
});

describe('a shard killed mid-run', () => {
  const K = 'killable';
  const dirs = { killed: '', straight: '' };
  const runDir = (dir: string) => join(dir, 'data', K, 'runs', 'T2000-m2-s0');
  beforeAll(() => {
    for (const k of ['killed', 'straight'] as const) {
      dirs[k] = makeWorkspace(`smdd-shard-${k}`);
      editJson(join(dirs[k], 'experiment.json'), (c) => {
        c.profiles[K] = {
          extends: 'quick', description: 'one run long enough to kill (shard 1), one short (shard 2: two shards need two runs)',
          data: { features: 1000, sparsity: 0.99, testSetSize: 1000 }, training: { steps: 6000, warmupSteps: 300, initsPerRun: 1 },
          datasetSizes: [3, 2000], runOverrides: [], execution: { checkpointEverySteps: 300, workers: 2, shards: 2 }, figures: ['double-descent'],
        };
      });
    }
  });
  afterAll(() => Object.values(dirs).forEach((d) => d && removeWorkspace(d)));

  it('started again resumes from its checkpoint and ends with the bytes of an uninterrupted shard', async () => {
    const killed = await build(dirs.killed, K, ['--shard', '1/2'], {}, (kill) => {
      const poll = setInterval(() => {
        if (existsSync(join(runDir(dirs.killed), 'checkpoint.bin'))) {
          clearInterval(poll);
          setTimeout(kill, 400);
        }
      }, 20);
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(runDir(dirs.killed), 'weights.bin'))).toBe(false);
    const again = await build(dirs.killed, K, ['--shard', '1/2']);
    expect(again.status, again.output.slice(-2000)).toBe(0);
    expect(again.output).toMatch(/resuming at step [1-9]\d*/);
    const straight = await build(dirs.straight, K, ['--shard', '1/2']);
    expect(straight.status, straight.output.slice(-2000)).toBe(0);
    for (const f of ['weights.bin', 'metrics.json'])
      expect(readFileSync(join(runDir(dirs.killed), f)).equals(readFileSync(join(runDir(dirs.straight), f))), f).toBe(true);
  }, 600_000);
});
