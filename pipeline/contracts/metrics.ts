import { z } from 'zod';

/**
 * metrics.json: what training measured of a run, every value a deterministic function of the run's spec
 * (wall time is apart, in timing.json). Written by the train stage (train/train-run.ts makes it); read by
 * geometry (the losses and the engine go into summary.json).
 */

/** The engine that trained a run: its name and the version of its arithmetic. */
export const EngineId = z.strictObject({ name: z.string(), version: z.string() });
export type EngineId = z.infer<typeof EngineId>;

export const Metrics = z.strictObject({
  run: z.string(),
  engine: EngineId,
  T: z.union([z.number().int().min(1), z.literal('infinity')], { error: 'expected a positive integer or "infinity"' }),
  m: z.number().int().min(1),
  steps: z.number().int().min(1),
  chosenInit: z.number().int().min(0),
  /** Each init's final training and test loss (in float64, from its final weights): the lowest training loss is kept. */
  inits: z.array(z.strictObject({ init: z.number().int().min(0), finalTrainLoss: z.number(), testLoss: z.number() })),
  finalTrainLoss: z.number(),
  testLoss: z.number(),
  /** The chosen init's loss before the update of each sampled step, as the engine computed it (float32 for the fast engine). */
  lossCurve: z.array(z.strictObject({ step: z.number().int().min(0), loss: z.number() })),
});
export type Metrics = z.infer<typeof Metrics>;
