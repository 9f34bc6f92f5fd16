import { z } from 'zod';
import { InitOutcome, Summary } from './summary.ts';
import { FeatureRow } from './features.ts';
import { ExampleRow } from './examples.ts';
import { MomentSummary, MomentVector } from './moments.ts';

/**
 * The tables a figure reads (its figure.json `tables`; the data its spec.vl.json names), as the render
 * stage gathers them from its runs' geometry files (render/tables.ts): every row of a run carries the
 * run's fields (RunFields) after its own; `regimes` is one table of the whole figure.
 */

/** What every row of a run carries: the run, where it sits on a T axis, and what a sweep may vary. */
export const RunFields = z.strictObject({
  run: z.string(),
  /** The training-set size; null for infinity. */
  T: z.number().int().min(1).nullable(),
  /** Its place on a log T axis: T, or for infinity 4x the largest finite T of the figure's runs. */
  Tx: z.number().gt(0),
  /** How T is printed: '5', '2k' for whole thousands, '∞'. */
  Tlabel: z.string(),
  m: z.number().int().min(1),
  datasetSeed: z.number().int().min(0),
  sparsity: z.number(),
  weightDecay: z.number(),
  steps: z.number().int(),
  peakLearningRate: z.number(),
  /** Times the training set's first point appears in it (1: a plain set). */
  repeats: z.number().int().min(1),
  /** Only in a figure with a `strip`: whether the run is at a T of the strip. */
  inStrip: z.boolean().optional(),
});
export type RunFields = z.infer<typeof RunFields>;

/** What a `vectors` row is: a feature vector W_i, or the hidden vector h_t = W x_t of a training example. */
export const VectorKind = z.enum(['feature', 'example']);
export type VectorKind = z.infer<typeof VectorKind>;

/** A run's summary.json (its T, m, seed, sparsity and repeats replaced by the run's fields; its inits are the `inits` table). */
const RunsRow = z.strictObject({ ...Summary.omit({ inits: true }).shape, ...RunFields.shape });
type RunsRow = z.infer<typeof RunsRow>;
/** One init of a run (summary.json `inits`): every init of every dataset seed, each a draw of the setting. */
const InitsRow = z.strictObject({ ...InitOutcome.shape, ...RunFields.shape });
type InitsRow = z.infer<typeof InitsRow>;
const FeaturesRow = z.strictObject({ ...FeatureRow.shape, ...RunFields.shape });
type FeaturesRow = z.infer<typeof FeaturesRow>;
const ExamplesRow = z.strictObject({ ...ExampleRow.shape, ...RunFields.shape });
type ExamplesRow = z.infer<typeof ExamplesRow>;
const VectorsRow = z.discriminatedUnion('kind', [
  z.strictObject({ ...FeatureRow.shape, kind: z.literal('feature'), ...RunFields.shape }),
  z.strictObject({ ...ExampleRow.shape, kind: z.literal('example'), ...RunFields.shape }),
]);
type VectorsRow = z.infer<typeof VectorsRow>;
const MomentsRow = z.strictObject({ ...MomentSummary.shape, ...RunFields.shape });
type MomentsRow = z.infer<typeof MomentsRow>;
const MomentVectorsRow = z.discriminatedUnion('kind', [
  z.strictObject({ ...MomentVector.options[0].shape, ...RunFields.shape }),
  z.strictObject({ ...MomentVector.options[1].shape, ...RunFields.shape }),
]);
type MomentVectorsRow = z.infer<typeof MomentVectorsRow>;

/** A regime of T as measured (geometry/regimes.ts), as a band on the Tx axis. */
export const RegimeRow = z.strictObject({
  regime: z.enum(['small data', 'middle', 'large data']),
  x0: z.number(),
  x1: z.number(),
});
export type RegimeRow = z.infer<typeof RegimeRow>;

/** Each table's rows, by the name figure.json gives it (config/figures.ts Table). */
export const FigureTables = z.strictObject({
  runs: z.array(RunsRow).optional(),
  inits: z.array(InitsRow).optional(),
  features: z.array(FeaturesRow).optional(),
  examples: z.array(ExamplesRow).optional(),
  vectors: z.array(VectorsRow).optional(),
  regimes: z.array(RegimeRow).optional(),
  moments: z.array(MomentsRow).optional(),
  momentVectors: z.array(MomentVectorsRow).optional(),
});
export type FigureTables = z.infer<typeof FigureTables>;
