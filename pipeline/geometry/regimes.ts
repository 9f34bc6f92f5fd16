import { LEARNED } from './learned.ts';
import { lowerMedian } from './median.ts';

/**
 * The paper's three regimes, read from measured data, never set by hand:
 * - small data: the training examples are memorised as T-gons (in every seed, the median example's
 *   fractional dimensionality is within 25% of m/T; the mean would not tell: it is close to m/T for
 *   almost any arrangement);
 * - large data: the features are learned (in every seed, about five, 4 to 6, features above LEARNED,
 *   geometry/learned.ts);
 * - the middle: the sizes between the two.
 */

export interface RunDimensionalities {
  T: number | 'infinity';
  m: number;
  featureDimensionality: number[];
  exampleDimensionality: number[];
}

export const memorised = (r: RunDimensionalities) =>
  r.T !== 'infinity' && Math.abs(lowerMedian(r.exampleDimensionality) - r.m / r.T) <= 0.25 * (r.m / r.T);

/** The dimensionalities of a run's learned features (above LEARNED). */
export const learnedFeatures = (r: RunDimensionalities) => r.featureDimensionality.filter((d) => d > LEARNED);
/** Whether a run learns the features: about five (4 to 6) of them above LEARNED. (summary.json's `featuresLearned` is how many there are.) */
const learnsFeatures = (r: RunDimensionalities) => learnedFeatures(r).length >= 4 && learnedFeatures(r).length <= 6;

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
  const all = (T: number | 'infinity', ok: (r: RunDimensionalities) => boolean) => runs.filter((r) => r.T === T).every(ok);
  let lastMemorised = 0;
  for (const T of sizes) {
    if (T === 'infinity' || !all(T, memorised)) break;
    lastMemorised = T;
  }
  const firstFeatures = sizes.find((T) => (T === 'infinity' || T > lastMemorised) && all(T, learnsFeatures));
  return { sizes, lastMemorised, firstFeatures };
}
