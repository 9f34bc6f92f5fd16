import { z } from 'zod';
import { GeometryStats } from './summary.ts';
import { FeatureRow } from './features.ts';
import { ExampleRow } from './examples.ts';

/**
 * geometry/moments.json, for a run that keeps weight snapshots (training.weightSnapshots): the geometry at
 * each snapshot. Written by the geometry stage; read by the render stage (the `moments` and `momentVectors`
 * tables).
 */

/** Which snapshot, its step (the weights before that step's update), and step / steps. */
const MomentAt = z.strictObject({
  snapshot: z.number().int().min(0),
  step: z.number().int().min(0),
  progress: z.number().min(0).max(1),
});
type MomentAt = z.infer<typeof MomentAt>;

/** One row per snapshot: its geometry and losses (trainLoss null for T = infinity, which has no training set). */
export const MomentSummary = z.strictObject({
  ...MomentAt.shape,
  ...GeometryStats.shape,
  testLoss: z.number(),
  trainLoss: z.number().nullable(),
  repeatedExampleDimensionality: z.number().optional(),
});
export type MomentSummary = z.infer<typeof MomentSummary>;

/** A feature vector or a kept example's hidden vector at one snapshot (fields in the order written). */
export const MomentVector = z.discriminatedUnion('kind', [
  z.strictObject({ ...FeatureRow.shape, ...MomentAt.shape, kind: z.literal('feature') }),
  z.strictObject({ ...ExampleRow.omit({ repeated: true }).shape, ...MomentAt.shape, kind: z.literal('example'), repeated: ExampleRow.shape.repeated }),
]);
export type MomentVector = z.infer<typeof MomentVector>;

export const Moments = z.strictObject(
  { summary: z.array(MomentSummary), vectors: z.array(MomentVector) },
  { error: 'expected {summary: [...], vectors: [...]} (does the run keep weight snapshots? training.weightSnapshots)' },
);
export type Moments = z.infer<typeof Moments>;
