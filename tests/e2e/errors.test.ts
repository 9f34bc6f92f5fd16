import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, editJson, makeWorkspace, removeWorkspace, stage } from './workspace.ts';

/** Bad input gets a clear error naming the file, field or run, and leaves nothing that looks complete. */
describe('errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeWorkspace('smdd-err');
    execSync('npm run --silent build:kernel', { cwd: dir, stdio: 'inherit' });
    editJson(join(dir, 'experiment.json'), (c) => {
      c.profiles.tiny = {
        extends: 'quick', description: 'tiny',
        data: { testSetSize: 500 }, training: { steps: 50, warmupSteps: 5, initsPerRun: 1 }, datasetSizes: [5],
      };
      c.profiles.wild = { extends: 'tiny', description: 'diverges', training: { peakLearningRate: 1e300 } };
      c.profiles.nan = { extends: 'tiny', description: 'NaN weights', training: { peakLearningRate: 1e30, lossCurvePoints: 2 } };
    });
  });
  afterAll(() => removeWorkspace(dir));

  it('a broken config stops the build before anything runs, naming the file and the field', async () => {
    const good = readFileSync(join(dir, 'experiment.json'), 'utf8');
    editJson(join(dir, 'experiment.json'), (c) => (c.profiles.tiny.training.steps = -5));
    const r = await build(dir, 'tiny');
    writeFileSync(join(dir, 'experiment.json'), good);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('experiment.json: profiles.tiny.training.steps');
    expect(r.output).toContain('found -5');
    expect(existsSync(join(dir, 'data', 'tiny'))).toBe(false);
    expect(existsSync(join(dir, 'dist'))).toBe(false);
  }, 60_000);

  it('a run whose weights become NaN is caught even when its loss stays finite', async () => {
    // ReLU as pmax maps NaN to 0, so the fast engine's loss can stay finite: the weights are checked too.
    expect((await stage(dir, ['data', '--profile', 'nan', '--id', 'test'])).status).toBe(0);
    expect((await stage(dir, ['data', '--profile', 'nan', '--id', 'T5-s0'])).status).toBe(0);
    const r = await stage(dir, ['train', '--profile', 'nan', '--id', 'T5-m2-s0']);
    expect(r.status).toBe(2);
    const m = /error: run T5-m2-s0: training diverged at step \d+ of init 0 \(weights not finite, loss (\S+)\)/.exec(r.output);
    expect(m, r.output).not.toBeNull();
    expect(Number.isFinite(Number(m![1])), `the loss when it was caught: ${m![1]}`).toBe(true);
  }, 60_000);

  it('an unknown profile is an error that lists the profiles', async () => {
    const r = await build(dir, 'nonesuch');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/no profile named "nonesuch".*quick/);
  }, 60_000);

  it('training on a truncated data set fails naming the file, and writes no weights', async () => {
    expect((await stage(dir, ['data', '--profile', 'tiny', '--id', 'test'])).status).toBe(0);
    expect((await stage(dir, ['data', '--profile', 'tiny', '--id', 'T5-s0'])).status).toBe(0);
    const file = join('data', 'tiny', 'datasets', 'T5-s0', 'points.bin');
    truncateSync(join(dir, file), 100);
    const r = await stage(dir, ['train', '--profile', 'tiny', '--id', 'T5-m2-s0']);
    expect(r.status).toBe(2);
    expect(r.output).toContain(`error: ${file}`);
    expect(r.output).toContain('truncated');
    expect(existsSync(join(dir, 'data', 'tiny', 'runs', 'T5-m2-s0', 'weights.bin'))).toBe(false);
  }, 60_000);

  it('a diverging run stops with an error naming the run and the step, and leaves no weights', async () => {
    expect((await stage(dir, ['data', '--profile', 'wild', '--id', 'test'])).status).toBe(0);
    expect((await stage(dir, ['data', '--profile', 'wild', '--id', 'T5-s0'])).status).toBe(0);
    const r = await stage(dir, ['train', '--profile', 'wild', '--id', 'T5-m2-s0']);
    expect(r.status).toBe(2);
    expect(r.output).toMatch(/^error: run T5-m2-s0: training diverged at step \d+/m);
    expect(existsSync(join(dir, 'data', 'wild', 'runs', 'T5-m2-s0', 'weights.bin'))).toBe(false);
    expect(existsSync(join(dir, 'data', 'wild', 'runs', 'T5-m2-s0', 'metrics.json'))).toBe(false);
  }, 60_000);

  it('a task planned for an older config refuses to run', async () => {
    const r = await stage(dir, ['data', '--profile', 'tiny', '--id', 'test', '--spec-hash', '0000000000000000']);
    expect(r.status).toBe(2);
    expect(r.output).toMatch(/^error: .*was planned for spec 0000000000000000/m);
  }, 60_000);
});
