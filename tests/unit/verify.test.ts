import { describe, expect, it } from 'vitest';
import { bump, checkClaims, sparsityClaim, stepsClaim, weightDecayClaim, type RunTables, type SweepRun } from '../../pipeline/verify.ts';

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
