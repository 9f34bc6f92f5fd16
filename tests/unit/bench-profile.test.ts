import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExperiment } from '../../pipeline/config/load.ts';
import { planProfile } from '../../pipeline/config/plan.ts';
import { coverShapes, profileBenchTable, profileShapes } from '../../pipeline/bench-profile.ts';
import { formatCost, costOf, estimateCores, predictSeconds, ratesFile, readRates, stageTimesSummary, runPairs, runShape, trainingSummary } from '../../pipeline/cost.ts';
import { Rates } from '../../pipeline/contracts/rates.ts';
import { fixtureExperiment } from '../fixtures/experiment.ts';
import { withParallel } from '../../pipeline/nx/run.ts';

/** The shapes a profile trains, the ones a benchmark measures, and the training time predicted from their rates. */
describe('the benchmark of a profile', () => {
  const exp = parseExperiment(fixtureExperiment(), 'experiment.json');
  const plan = planProfile('seeds', exp.profiles.seeds); // 4 dataset seeds, m = 2 and 4, best of 2 (1 at T = 1000)
  const shapes = profileShapes(plan.runs);

  it('groups the runs by (T, n, m, S, inits), the shape with most pairs first, and loses no pair', () => {
    const total = plan.runs.reduce((s, r) => s + runPairs(r), 0);
    expect(shapes.reduce((s, x) => s + x.pairs, 0)).toBe(total);
    expect(shapes.reduce((s, x) => s + x.runs.length, 0)).toBe(plan.runs.length);
    expect(shapes.length).toBe(5 * 2); // five sizes, two hidden sizes; the four seeds share a shape
    for (const s of shapes) expect(s.runs).toHaveLength(4);
    expect(shapes.map((s) => s.pairs)).toEqual([...shapes.map((s) => s.pairs)].sort((a, b) => b - a));
    expect(shapes[0]).toMatchObject({ T: 1000, inits: 1 });
  });

  it('measures the fewest largest shapes that hold the fraction of the pairs', () => {
    const total = shapes.reduce((s, x) => s + x.pairs, 0);
    const cover = coverShapes(shapes, 0.95);
    expect(cover.reduce((s, x) => s + x.pairs, 0)).toBeGreaterThanOrEqual(0.95 * total);
    expect(cover.slice(0, -1).reduce((s, x) => s + x.pairs, 0)).toBeLessThan(0.95 * total);
    expect(coverShapes(shapes, 1)).toHaveLength(shapes.length);
  });

  it('predicts the training time from the measured rates, an unmeasured shape at its nearest measured one', () => {
    const measured = shapes.slice(0, 2);
    const times = measured.map(() => [[1e6, 3e6, 2e6], [5e5, 5e5, 5e5]]); // µs per step, per contender, per round: medians 2e6 and 5e5
    const table = profileBenchTable('seeds', shapes, measured, times, ['new', 'old'], [1, 1]);
    expect(table).toContain(`${shapes.length} shapes, 2 measured`);
    const seconds = (name: string) => Number(/predicted training time of seeds: [\d.]+ min \(([\d,]+) s/.exec(table.split('\n').find((l) => l.startsWith(`${name}:`))!)![1].replace(/,/g, ''));
    // every shape's pairs at a measured rate: twice as fast gives half the time (to the second)
    expect(Math.abs(seconds('new') - 4 * seconds('old'))).toBeLessThanOrEqual(4);
    expect(seconds('old')).toBeGreaterThan(0);
  });

  it('compares shapes per core: a shape on two threads at twice the rate of one on a single thread is as good', () => {
    const measured = shapes.filter((x) => x.m === 2).slice(0, 2); // m = 2: no weighting
    const pairs = measured.map((x) => x.points * x.n * x.inits);
    // µs per step for 1 M pairs/s per core: the first on two threads, the second on one
    const times = [[[pairs[0] / 2, pairs[0] / 2, pairs[0] / 2]], [[pairs[1], pairs[1], pairs[1]]]];
    const rows = profileBenchTable('seeds', shapes, measured, times, ['fast'], [2, 1]).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| T |'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/\| 2 \| [\d.]+ \| 2 \| 100% \|$/);
    expect(rows[1]).toMatch(/\| 1 \| [\d.]+ \| 1 \| 100% \|$/);
  });

  it('predicts a run at its own shape\'s measured rate, and says so in npm run cost and at the end of a build', () => {
    const measured = shapes.map((x) => ({ ...runShape(x.runs[0]), threads: 1, usPerStep: 1000 })); // every shape: 1 ms a step
    const run = shapes[0].runs[0];
    const perStep = shapes[0].points * shapes[0].n * shapes[0].inits;
    expect(predictSeconds([run], measured)).toBeCloseTo((runPairs(run) / perStep) * 1e-3, 9); // its steps x 1 ms
    const rates = Rates.parse({ profile: 'seeds', engine: { name: 'fast', version: '2' }, workers: 2, cpu: 'test', shapes: measured });
    const table = formatCost([costOf('a figure', [run], rates)], costOf('all', plan.runs, rates));
    expect(table).toContain('| predicted seconds |');
    expect(trainingSummary('seeds', plan.runs, null, 'data/seeds/rates.json')).toContain('`npm run bench -- --profile seeds` measures the rates');
    expect(trainingSummary('seeds', plan.runs, rates, 'data/seeds/rates.json')).toContain('predicted 0 s one run at a time from data/seeds/rates.json (fast 2)');
  });

  it('estimates training on N cores by packing each run\'s single-thread time longest first, never below the longest run or the work / N', () => {
    const measured = shapes.map((x) => ({ ...runShape(x.runs[0]), threads: 1, usPerStep: 1000 }));
    const one = estimateCores(plan.runs, measured, 1);
    expect(one.seconds).toBeCloseTo(one.serial, 9);
    expect(one.serial).toBeCloseTo(predictSeconds(plan.runs, measured), 6);
    for (const cores of [2, 3, 16, 1000]) {
      const e = estimateCores(plan.runs, measured, cores);
      expect(e.seconds).toBeGreaterThanOrEqual(Math.max(e.longest, e.serial / cores) - 1e-9);
      // longest-first list scheduling is within 4/3 of the best packing
      expect(e.seconds).toBeLessThanOrEqual((4 / 3) * Math.max(e.longest, e.serial / cores) + 1e-9);
    }
    expect(estimateCores(plan.runs, measured, 1000).seconds).toBeCloseTo(one.longest, 9);
  });

  it('reads rates that an older benchmark wrote, or measured with other execution.workers, as none (they are measured again), never as an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smdd-rates-'));
    try {
      const file = join(dir, 'rates.json');
      writeFileSync(file, JSON.stringify({ profile: 'p', engine: { name: 'fast', version: '2' }, workers: 2, cpu: 'x', shapes: [{ T: 3, n: 10, m: 2, sparsity: 0.9, inits: 1, points: 3, usPerStep: 5 }] }));
      expect(readRates(file, 2)).toBeNull();
      expect(readRates(join(dir, 'none.json'), 2)).toBeNull();
      // rates measured with 2 threads a run say nothing of a profile that now runs 1
      writeFileSync(file, JSON.stringify({ profile: 'p', engine: { name: 'fast', version: '3' }, workers: 2, cpu: 'x', shapes: [{ T: 3, n: 10, m: 2, sparsity: 0.9, inits: 1, points: 3, threads: 1, usPerStep: 5 }] }));
      expect(readRates(file, 2)).not.toBeNull();
      expect(readRates(file, 1)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the rates of the profile\'s own thread count apart from those of another', () => {
    expect(ratesFile('post', 2)).toBe('data/post/rates.json');
    expect(ratesFile('post', 2, 1)).toBe('data/post/rates-1-thread.json');
    expect(ratesFile('post', 2, 4)).toBe('data/post/rates-4-threads.json');
    expect(ratesFile('post', 1, 1)).toBe('data/post/rates.json');
  });
});

describe('the closing line of a build: the tasks run, per stage', () => {
  it('sums each stage\'s tasks and seconds, in the order the stages run', () => {
    const line = stageTimesSummary([
      { stage: 'render', id: 'norms', seconds: 2.5 }, { stage: 'train', id: 'a', seconds: 1200 }, { stage: 'data', id: 'T3', seconds: 0.5 },
      { stage: 'train', id: 'b', seconds: 34.4 }, { stage: 'geometry', id: 'a', seconds: 0.75 },
    ], 1710.2);
    expect(line).toBe('tasks run: data 1 in 0.5 s, train 2 in 1,234 s, geometry 1 in 0.8 s, render 1 in 2.5 s (each task\'s seconds from its process\'s start, summed); the build\'s wall time 1,710 s');
    expect(stageTimesSummary([], 0.81)).toBe('tasks run: none (each task\'s seconds from its process\'s start, summed); the build\'s wall time 0.8 s');
  });
});

describe('Nx as npm run build starts it', () => {
  it('keeps as many tasks going as there are cores, unless the command says how many', () => {
    expect(withParallel(['run', 'post:build'], 16)).toEqual(['run', 'post:build', '--parallel=16']);
    expect(withParallel(['run', 'post:build', '--parallel=1'], 16)).toEqual(['run', 'post:build', '--parallel=1']);
    expect(withParallel(['run', 'post:build', '--parallel', '3'], 16)).toEqual(['run', 'post:build', '--parallel', '3']);
  });
});
