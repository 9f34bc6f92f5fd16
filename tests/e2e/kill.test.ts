import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { editJson, makeWorkspace, removeWorkspace, stage } from './workspace.ts';

/** A training task killed mid-run and started again resumes, and writes exactly the bytes of an uninterrupted run. */
describe('a killed training task', () => {
  let dir: string;
  const P = 'killme';
  const run = 'T2000-m2-s0';
  const runDir = () => join(dir, 'data', P, 'runs', run);
  beforeAll(async () => {
    dir = makeWorkspace('smdd-kill');
    editJson(join(dir, 'experiment.json'), (c) => {
      c.profiles[P] = {
        extends: 'quick', description: 'kill test',
        data: { features: 1000, sparsity: 0.99, testSetSize: 1000 },
        training: { engine: 'fast', steps: 6000, warmupSteps: 300, initsPerRun: 1 },
        execution: { checkpointEverySteps: 300, workers: 2 },
        datasetSizes: [2000],
      };
    });
    execSync('npm run --silent build:kernel', { cwd: dir, stdio: 'inherit' });
    for (const id of ['test', 'T2000-s0']) expect((await stage(dir, ['data', '--profile', P, '--id', id])).status).toBe(0);
  }, 120_000);
  afterAll(() => removeWorkspace(dir));

  it('resumes from its last checkpoint and ends with the bytes of an uninterrupted run', async () => {
    const args = ['train', '--profile', P, '--id', run];
    const straight = await stage(dir, args);
    expect(straight.status, straight.output).toBe(0);
    const weights = readFileSync(join(runDir(), 'weights.bin'));
    const metrics = readFileSync(join(runDir(), 'metrics.json'));
    expect(existsSync(join(runDir(), 'checkpoint.bin'))).toBe(false);
    for (const f of ['weights.bin', 'metrics.json', 'timing.json']) rmSync(join(runDir(), f));

    const killed = await stage(dir, args, (kill) => {
      const poll = setInterval(() => {
        if (existsSync(join(runDir(), 'checkpoint.bin'))) {
          clearInterval(poll);
          setTimeout(kill, 400);
        }
      }, 20);
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(runDir(), 'checkpoint.bin'))).toBe(true);
    expect(existsSync(join(runDir(), 'weights.bin'))).toBe(false);
    expect(existsSync(join(runDir(), 'metrics.json'))).toBe(false);

    const resumed = await stage(dir, args);
    expect(resumed.status, resumed.output).toBe(0);
    expect(resumed.output).toMatch(/resuming at step [1-9]\d*/);
    expect(readFileSync(join(runDir(), 'weights.bin')).equals(weights)).toBe(true);
    expect(readFileSync(join(runDir(), 'metrics.json')).equals(metrics)).toBe(true);
    expect(existsSync(join(runDir(), 'checkpoint.bin'))).toBe(false);
  }, 180_000);
});
