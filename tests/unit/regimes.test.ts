import { describe, expect, it } from 'vitest';
import { findRegimes, type RunDimensionalities } from '../../pipeline/geometry/regimes.ts';

const tgon = (T: number): RunDimensionalities => ({ T, m: 2, featureDimensionality: [0.01, 0.02], exampleDimensionality: Array(T).fill(2 / T) });
const pentagon = (T: number | 'infinity'): RunDimensionalities => ({
  T, m: 2, featureDimensionality: [0.3, 0.3, 0.31, 0.29, 0.3, 0.01], exampleDimensionality: Array(50).fill(0.001),
});
const neither = (T: number): RunDimensionalities => ({ T, m: 2, featureDimensionality: [0.05], exampleDimensionality: Array(T).fill(0).map((_, i) => (i % 2 ? 0 : 4 / T)) });

describe('findRegimes (small data, middle, large data, as measured)', () => {
  it('finds the last memorising T and the first T that learns about five features', () => {
    const r = findRegimes([tgon(3), tgon(10), neither(100), neither(300), pentagon(1000), pentagon('infinity')]);
    expect(r).toEqual({ sizes: [3, 10, 100, 300, 1000, 'infinity'], lastMemorised: 10, firstFeatures: 1000 });
  });

  it('does not count a size as memorised when only the mean example dimensionality is m/T', () => {
    expect(findRegimes([neither(3), tgon(10)]).lastMemorised).toBe(0);
  });

  it('goes by the median over the dataset seeds of a size: one seed of three off does not move an edge, two do', () => {
    expect(findRegimes([tgon(3), tgon(10), tgon(10), neither(10)]).lastMemorised).toBe(10);
    expect(findRegimes([tgon(3), tgon(10), neither(10), neither(10)]).lastMemorised).toBe(3);
    expect(findRegimes([tgon(3), pentagon(1000), pentagon(1000), neither(1000)]).firstFeatures).toBe(1000);
    expect(findRegimes([tgon(3), pentagon(1000), neither(1000), neither(1000)]).firstFeatures).toBeUndefined();
  });

  it('counts features learned only above the memorised sizes, and at infinity', () => {
    expect(findRegimes([tgon(3), pentagon('infinity')]).firstFeatures).toBe('infinity');
  });
});
