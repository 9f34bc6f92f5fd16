import { LEARNED } from './learned.ts';
import { lowerMedian, median } from './median.ts';

/**
 * The paper's three regimes, read from measured data, never set by hand:
 * - small data: the training examples are memorised as T-gons (the median example's fractional
 *   dimensionality within 25% of m/T; the mean would not tell: it is close to m/T for almost any
 *   arrangement);
 * - large data: the features are learned (about five, 4 to 6, features above LEARNED,
 *   geometry/learned.ts);
 * - the middle: the sizes between the two.
 * With several dataset seeds a size goes by their median (of the ratio to m/T, of the count of features),
 * as the figures' lines and verify's claims do: one seed of three just outside the bound does not move a
 * regime's edge, two do.
 */
export interface RunDimensionalities {
  T: number | 'infinity';
  m: number;
  featureDimensionality: number[];
  exampleDimensionality: number[];
}

/** A run's median example dimensionality over m/T (memorised as a T-gon: within 25% of 1). */
export const tgonRatio = (r: RunDimensionalities) => lowerMedian(r.exampleDimensionality) / (r.m / (r.T as number));
export const memorised = (r: RunDimensionalities) => r.T !== 'infinity' && Math.abs(tgonRatio(r) - 1) <= 0.25;

/** The dimensionalities of a run's learned features (above LEARNED). */
export const learnedFeatures = (r: RunDimensionalities) => r.featureDimensionality.filter((d) => d > LEARNED);
/** Whether a run learns the features: about five (4 to 6) of them above LEARNED. (summary.json's `featuresLearned` is how many there are.) */
const fivegon = (count: number) => count >= 4 && count <= 6;

interface Regimes {
  /** The sizes in order, ∞ last. */
  sizes: (number | 'infinity')[];
  /** The largest T up to which every size (from the smallest) is memorised; 0 when the smallest is not. */
  lastMemorised: number;
  /** The first size above lastMemorised whose features are learned, if any. */
  firstFeatures: number | 'infinity' | undefined;
}

/** The regimes of one m's runs (every T, every dataset seed). */
export function findRegimes(runs: RunDimensionalities[]): Regimes {
  const sizes = [...new Set(runs.map((r) => r.T))].sort((a, b) => (a === 'infinity' ? 1 : b === 'infinity' ? -1 : a - b));
  const of = (T: number | 'infinity', f: (r: RunDimensionalities) => number) => median(runs.filter((r) => r.T === T).map(f));
  let lastMemorised = 0;
  for (const T of sizes) {
    if (T === 'infinity' || Math.abs(of(T, tgonRatio) - 1) > 0.25) break;
    lastMemorised = T;
  }
  const firstFeatures = sizes.find((T) => (T === 'infinity' || T > lastMemorised) && fivegon(of(T, (r) => learnedFeatures(r).length)));
  return { sizes, lastMemorised, firstFeatures };
}
