import { z } from 'zod';

/**
 * geometry/summary.json: one run's numbers. Written by the geometry stage; read by the render stage (the
 * `runs` table, and the engines of a figure's provenance) and by `npm run verify`.
 */

/** The geometry of one set of weights (geometry/geometry-of.ts): norms and dimensionalities. */
export const GeometryStats = z.strictObject({
  normW: z.number().min(0),
  normB: z.number().min(0),
  maxFeatureDimensionality: z.number(),
  /** How many features have a dimensionality above LEARNED (geometry/learned.ts). */
  featuresLearned: z.number().int().min(0),
  meanExampleDimensionality: z.number(),
});
export type GeometryStats = z.infer<typeof GeometryStats>;

/** One init of a run as trained: its losses (metrics.json) and the geometry of its final weights. */
export const InitOutcome = z.strictObject({
  init: z.number().int().min(0),
  /** Whether it is the run's chosen init (the lowest final training loss), whose numbers the run's are. */
  chosen: z.boolean(),
  testLoss: z.number(),
  finalTrainLoss: z.number(),
  ...GeometryStats.shape,
});
export type InitOutcome = z.infer<typeof InitOutcome>;

export const Summary = z.strictObject({
  run: z.string(),
  /** The training-set size; null for infinity. */
  T: z.number({ error: 'expected an integer, or null for infinity' }).int().min(1).nullable(),
  m: z.number().int().min(1),
  datasetSeed: z.number().int().min(0),
  n: z.number().int().min(1),
  sparsity: z.number(),
  /** "<name> <version>" of the engine that trained it. */
  engine: z.string(),
  testLoss: z.number(),
  finalTrainLoss: z.number(),
  ...GeometryStats.shape,
  /** Only for a training set whose first point is repeated: the times it appears, and its dimensionality. */
  repeats: z.number().int().min(2).optional(),
  repeatedExampleDimensionality: z.number().optional(),
  /** The examples kept in examples.json, of the distinct examples the dimensionalities are taken over. */
  examplesInTable: z.number().int().min(0),
  examples: z.number().int().min(1),
  /** Every init the run trained, the chosen one among them. */
  inits: z.array(InitOutcome).min(1),
});
export type Summary = z.infer<typeof Summary>;
