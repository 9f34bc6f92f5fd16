import { describe, expect, it } from 'vitest';
import { bump, checkClaims, movieClaim, movieOf, seedSweeps, someDrawsDisagree, sparsityClaim, stepsClaim, weightDecayClaim, type RunTables, type SweepRun } from '../../pipeline/verify.ts';

/** A profile's tables shaped as the paper describes: T-gons, then a peak, then a pentagon. */
const SIZES: (number | 'infinity')[] = [3, 5, 10, 30, 100, 300, 1000, 'infinity'];
function paperLike(change: (T: number | 'infinity', r: RunTables) => void = () => {}): RunTables[] {
  return SIZES.map((T) => {
    const memorising = T !== 'infinity' && T <= 100;
    const pentagon = T === 'infinity' || T >= 1000;
    const count = T === 'infinity' ? 50 : T;
    const r: RunTables = {
      T, m: 2, datasetSeed: 0,
      summary: {
        T: T === 'infinity' ? null : T, m: 2, datasetSeed: 0,
        testLoss: T === 300 ? 40 : T === 100 ? 1.2 : pentagon ? 0.99 : 1.001,
        normW: memorising ? 2 * Math.sqrt(T as number) : pentagon ? 2.5 : 60,
      },
      featureDimensionality: [...(pentagon ? [0.3, 0.31, 0.29, 0.3, 0.32] : []), ...Array.from({ length: 200 }, () => 0.01)],
      exampleDimensionality: Array.from({ length: count }, (_, i) => (memorising ? 2 / count : i % 2 ? 0 : 4 / count)),
    };
    change(T, r);
    return r;
  });
}
const verdicts = (runs: RunTables[]) => checkClaims(runs).map((c) => c.pass);

describe('verify: the paper\'s claims checked on a profile\'s tables', () => {
  it('passes every claim on tables shaped as the paper describes', () => {
    const claims = checkClaims(paperLike());
    expect(claims.map((c) => c.pass)).toEqual([true, true, true, true, true, true]);
    expect(claims[0].measured).toBe('holds for T = 3 … 100');
    expect(claims[2].measured).toContain('peak 40.00 at T = 300; features learned from T = 1000');
  });

  it('fails memorisation when the median example is far from m/T (not fooled by the mean)', () => {
    // Half the examples at 0, half at 2m/T: the mean is exactly m/T, the median is not.
    const runs = paperLike((T, r) => {
      if (T === 10) r.exampleDimensionality = r.exampleDimensionality.map((_, i) => (i % 2 ? 0 : 0.4));
    });
    expect(checkClaims(runs)[0]).toMatchObject({ pass: false, measured: 'holds for T = 3 … 5' });
  });

  it('fails the pentagon claim with three features, or with the rest not near 0', () => {
    expect(verdicts(paperLike((T, r) => { if (T === 'infinity') r.featureDimensionality = [0.5, 0.5, 0.5, 0.01]; }))[1]).toBe(false);
    expect(verdicts(paperLike((T, r) => { if (T === 'infinity') r.featureDimensionality.push(0.6); }))[1]).toBe(false);
  });

  it('fails double descent when the test loss only falls with T', () => {
    const runs = paperLike((T, r) => { r.summary.testLoss = T === 'infinity' ? 0.99 : 1.1 - (T as number) / 10_000; });
    expect(verdicts(runs)[2]).toBe(false);
  });

  it('fails the norm claims when ‖W‖ neither grows nor collapses, and when the pentagon is far from 2.2', () => {
    const flat = verdicts(paperLike((_, r) => { r.summary.normW = 2.5; }));
    expect(flat[3]).toBe(false);
    expect(verdicts(paperLike((T, r) => { if (T === 'infinity') r.summary.normW = 5; }))[4]).toBe(false);
  });

  it('checks the median over dataset seeds, not the mean: one wild seed neither makes nor breaks a claim', () => {
    // Three seeds; at T = 1000 one seed's test loss is 500 (a mean of 167 would make T = 1000 the peak, after features are learned).
    const seeds = [0, 1, 2].flatMap((seed) => paperLike((T, r) => {
      r.datasetSeed = seed;
      if (T === 1000 && seed === 2) r.summary.testLoss = 500;
    }));
    const claims = checkClaims(seeds);
    expect(claims[2]).toMatchObject({ pass: true });
    expect(claims[2].measured).toContain('peak 40.00 at T = 300');
  });

  it('names a claim that holds on the medians but not for every draw (every init of every seed at the T it turns on)', () => {
    const runs = paperLike((T, r) => {
      if (T === 300) r.summary.inits = [{ testLoss: 40, normW: 60 }, { testLoss: 0.98, normW: 60 }, { testLoss: 120, normW: 60 }];
    });
    const dd = checkClaims(runs)[2];
    expect(dd).toMatchObject({ pass: true, failsForSomeDraws: true, draws: 'T = 300: 2 of 3 draws 0.001 above both ends (test loss 0.980–120)' });
    expect(someDrawsDisagree(checkClaims(runs)).map((c) => c.claim)).toEqual([dd.claim]);
    expect(checkClaims(paperLike())[2]).toMatchObject({ failsForSomeDraws: false, draws: 'T = 300: 1 of 1 draws 0.001 above both ends (test loss 40.00)' });
    expect(someDrawsDisagree(checkClaims(paperLike()))).toEqual([]);
  });

  it('fails when the learned model is no better than the all-zero prediction', () => {
    expect(verdicts(paperLike((T, r) => { if (T === 'infinity') r.summary.testLoss = 1.0001; }))[5]).toBe(false);
  });
});

describe('the sweep claims', () => {
  const Ts = [3, 30, 300, 3000];
  /** A test-loss curve over Ts with a bump of `height` at T = 300. */
  const curve = (field: 'weightDecay' | 'steps', v: number, height: number): SweepRun[] =>
    Ts.map((T) => ({ T, m: 4, sparsity: 0.99, weightDecay: 0.01, steps: 50_000, [field]: v, testLoss: T === 300 ? 1 + height : T === 3000 ? 0.99 : 1, maxFeatureDimensionality: 0 }));

  it('weight decay: pass when the bump shrinks to nothing at the largest value, fail when it grows or stays', () => {
    expect(weightDecayClaim([...curve('weightDecay', 0, 0.5), ...curve('weightDecay', 0.1, 0.2), ...curve('weightDecay', 1, 0)], 4).pass).toBe(true);
    expect(weightDecayClaim([...curve('weightDecay', 0, 0.2), ...curve('weightDecay', 0.1, 0.5), ...curve('weightDecay', 1, 0)], 4).pass).toBe(false);
    const stays = weightDecayClaim([...curve('weightDecay', 0, 0.5), ...curve('weightDecay', 1, 0.3)], 4);
    expect(stays.pass).toBe(false);
    expect(stays.measured).toContain('wd 1: 0.300 at T = 300');
  });

  it('steps: pass when the bump grows with steps, fail when it shrinks', () => {
    expect(stepsClaim([...curve('steps', 1000, 0), ...curve('steps', 10_000, 0.1), ...curve('steps', 100_000, 0.4)], 4).pass).toBe(true);
    expect(stepsClaim([...curve('steps', 1000, 0.4), ...curve('steps', 100_000, 0.1)], 4).pass).toBe(false);
  });

  it('bump: the peak above the higher end, 0 for a curve that only falls', () => {
    expect(bump(curve('steps', 1, 0.25)).bump).toBeCloseTo(0.25, 12);
    expect(bump(curve('steps', 1, 0.25)).peakT).toBe(300);
    expect(bump([3, 30, 300].map((T) => ({ ...curve('steps', 1, 0)[0], T, testLoss: 1 / T }))).bump).toBe(0);
  });

  /** Max feature dimensionality over T for sparsity S: features (0.3) from T = start on, noise (0.25) at T = 3. */
  const sparsity = (S: number, start: number): SweepRun[] =>
    [3, 10, 30, 100, 300, 1000, 3000].map((T) => ({ T, m: 2, sparsity: S, weightDecay: 0.01, steps: 50_000, testLoss: 1, maxFeatureDimensionality: T >= start ? 0.3 : T === 3 ? 0.25 : 0.05 }));

  it('sparsity: pass when every T*(1 − S) is about 10, fail when T* stays put as S changes, or with two sparsities', () => {
    const collapse = sparsityClaim([...sparsity(0.9, 100), ...sparsity(0.97, 300), ...sparsity(0.99, 1000)]);
    expect(collapse.pass).toBe(true);
    // Interpolated on log T between 30 (0.05) and 100 (0.3): 0.2 is 60% of the way.
    expect(collapse.measured).toContain(`S 0.9: T* ${(30 * (100 / 30) ** 0.6).toPrecision(4)}`);
    expect(sparsityClaim([...sparsity(0.9, 3000), ...sparsity(0.97, 3000), ...sparsity(0.99, 3000)]).pass).toBe(false);
    expect(sparsityClaim([...sparsity(0.9, 100), ...sparsity(0.99, 1000)]).pass).toBe(false);
    expect(sparsityClaim([...sparsity(0.9, 100), ...sparsity(0.97, 300), ...sparsity(0.99, 1e9)]).measured).toContain('S 0.99: never');
  });
});

describe('draws in the sweep claims, and which sweeps add seeds', () => {
  const run = (T: number, wd: number, testLoss: number, draws?: number[]): SweepRun => ({ T, m: 4, sparsity: 0.99, weightDecay: wd, steps: 50_000, testLoss, maxFeatureDimensionality: 0, draws });
  it('weight decay 1.0 removes the bump on the median, but one draw keeps one: named', () => {
    const runs = [
      run(3, 0, 1), run(300, 0, 1.5), run(3000, 0, 0.99),
      run(3, 1, 1), run(300, 1, 1.001, [1.001, 1.2]), run(300, 1, 1.0, [1.0]), run(300, 1, 1.002, [1.002]), run(3000, 1, 0.99),
    ];
    const c = weightDecayClaim(runs, 4);
    expect(c).toMatchObject({ pass: true, failsForSomeDraws: true });
    expect(c.draws).toContain('wd 1: 0.00–0.200 at T = 300 (4 draws)');
    expect(bump(runs.filter((r) => r.weightDecay === 1)).bump).toBeCloseTo(0.001, 12); // the median of 1.001, 1.0, 1.002
  });

  it('seedSweeps: the sweeps that only add dataset seeds (sizes, hidden sizes, seeds), not those that change training', () => {
    const profile = { sweeps: {
      seeds: { description: 'x', datasetSizes: [3], datasetSeeds: [1, 2] },
      'seeds-m4': { datasetSizes: [100], hiddenDims: [4], datasetSeeds: [1] },
      heatmap: { datasetSizes: [3], hiddenDims: [1, 2] },
      longer: { datasetSizes: [3], datasetSeeds: [1], training: { steps: 10 } },
    } } as unknown as Parameters<typeof seedSweeps>[0];
    expect(seedSweeps(profile)).toEqual(['seeds', 'seeds-m4']);
  });
});

describe('the training movie: learn the features, then forget them', () => {
  /** A moment: progress, max feature dimensionality, features above 0.1, test loss. */
  const at = (progress: number, maxFeatureDimensionality: number, featuresLearned: number, testLoss: number) => ({ progress, maxFeatureDimensionality, featuresLearned, testLoss });
  it('learns then forgets: the pentagon with a test loss below 1, then at the end no pentagon and a test loss above 1 (post, T = 650)', () => {
    const m = movieOf('r', 650, 50_000, [at(0, 0.02, 0, 0.994), at(0.05, 0.22, 5, 0.992), at(0.2, 0.17, 7, 0.994), at(0.4, 0.76, 2, 1.52), at(1, 0.89, 2, 5.1)]);
    expect(m).toMatchObject({ learns: true, forgets: true, peak: { progress: 0.05, featuresLearned: 5 }, final: { featuresLearned: 2, testLoss: 5.1 } });
  });
  it('learning that stays is not the movie; neither is memorising that never learned, nor a pentagon while the test loss is above 1', () => {
    expect(movieOf('r', 700, 50_000, [at(0, 0.02, 0, 0.994), at(0.05, 0.25, 6, 0.991), at(1, 0.22, 5, 0.992)])).toMatchObject({ learns: true, forgets: false });
    expect(movieOf('r', 500, 50_000, [at(0, 0.02, 0, 0.994), at(0.1, 0.09, 0, 2), at(1, 0.04, 0, 375)])).toMatchObject({ learns: false, forgets: false, peak: null });
    expect(movieOf('r', 500, 50_000, [at(0, 0.02, 0, 0.994), at(0.5, 0.3, 5, 1.2), at(1, 0.04, 0, 375)])).toMatchObject({ learns: false, forgets: false });
  });
  it('the claim passes on a shown run that does it and names the searched runs that do', () => {
    const good = movieOf('a', 650, 50_000, [at(0.05, 0.22, 5, 0.992), at(1, 0.89, 2, 5.1)]);
    const stays = movieOf('b', 700, 100_000, [at(0.05, 0.25, 6, 0.991), at(1, 0.22, 5, 0.992)]);
    expect(movieClaim([good], [good, stays])).toMatchObject({ pass: true, draws: 'searched 2 runs (movie-search); learn then forget: T = 650 at 50,000 steps' });
    expect(movieClaim([stays], [stays]).pass).toBe(false);
  });
});
