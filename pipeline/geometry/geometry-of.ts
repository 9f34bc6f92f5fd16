import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';
import type { ExampleRow } from '../contracts/examples.ts';
import type { FeatureRow } from '../contracts/features.ts';
import type { GeometryStats } from '../contracts/summary.ts';
import { hiddenVectors } from './hidden-vectors.ts';
import { fractionalDimensionality } from './dimensionality.ts';
import { norm, rowNorms } from './norms.ts';
import { LEARNED } from './learned.ts';

/** The geometry of one set of weights, as the geometry stage writes it (features.json, examples.json, summary.json). */
export interface Geometry {
  /** One row per feature vector W_i. */
  features: FeatureRow[];
  /** One row per kept training example (the first `kept` distinct ones). */
  examples: ExampleRow[];
  stats: GeometryStats;
  /** Every distinct example's dimensionality (example 0 is the repeated point, in a set with one). */
  exampleDim: Float64Array;
}

/**
 * The geometry of one set of weights: feature vectors and the hidden vectors of the training
 * examples, with their dimensionalities. With a repeated point, the dimensionalities are taken
 * over the distinct examples (the copies, the set's last repeats - 1 points, are left out), and the
 * repeated point is example 0. A pure function of its arguments.
 */
export function geometryOf(p: Params, examples: SparsePoints, distinct: number, kept: number): Geometry {
  const { n, m } = p;
  const H = hiddenVectors(p, examples, distinct);
  const featureDim = fractionalDimensionality(p.W, n, m);
  const exampleDim = fractionalDimensionality(H, distinct, m);
  const featureNorm = rowNorms(p.W, n, m);
  const exampleNorm = rowNorms(H, distinct, m);
  const c = (a: Float64Array, i: number, k: number) => (k < m ? a[i * m + k] : 0);
  const features = Array.from({ length: n }, (_, i): FeatureRow => ({
    feature: i, x: c(p.W, i, 0), y: c(p.W, i, 1), norm: featureNorm[i], dimensionality: featureDim[i],
  }));
  const exampleRows = Array.from({ length: Math.min(distinct, kept) }, (_, t): ExampleRow => ({
    example: t, x: c(H, t, 0), y: c(H, t, 1), norm: exampleNorm[t], dimensionality: exampleDim[t],
  }));
  const stats: GeometryStats = {
    normW: norm(p.W), normB: norm(p.b),
    maxFeatureDimensionality: Math.max(...featureDim),
    featuresLearned: featureDim.reduce((k, d) => k + (d > LEARNED ? 1 : 0), 0),
    meanExampleDimensionality: exampleDim.reduce((a, b) => a + b, 0) / distinct,
  };
  return { features, examples: exampleRows, stats, exampleDim };
}
