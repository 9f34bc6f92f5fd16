import { z } from 'zod';
import { kindHeader } from './container.ts';

/**
 * checkpoint.bin (train/checkpoint.ts): where a training run stands between two steps, kept while it runs.
 * Written and read by training only (a killed task started again resumes from it); never a task output
 * that another task reads.
 */
// Version 2: the inits' losses are float64 losses of their final weights. Version 3: weight snapshots.
export const CHECKPOINT_KIND = 'training-checkpoint/3';

const LossPoint = z.strictObject({ step: z.number().int().min(0), loss: z.number() });
const Steps = z.array(z.number().int().min(0));

/** Its header's meta: everything but the arrays. */
export const CheckpointMeta = z.strictObject({
  /** Spec hash and engine: a checkpoint of another spec or engine is ignored. */
  key: z.string(),
  /** The init being trained, and the first step it has not taken. */
  init: z.number().int().min(0),
  nextStep: z.number().int().min(0),
  /** The finished inits' final training losses. */
  inits: z.array(z.strictObject({ init: z.number().int().min(0), finalTrainLoss: z.number() })),
  /** The current init's loss curve so far. */
  curve: z.array(LossPoint),
  /** The online stream's state (T = infinity): four words and a spare normal value or null. */
  onlineRng: z.array(z.number().nullable()).nullable(),
  n: z.number().int().min(1),
  m: z.number().int().min(1),
  /** AdamW's step count and running beta powers. */
  t: z.number().int().min(0),
  beta1Power: z.number(),
  beta2Power: z.number(),
  /** The steps of the current init's snapshots so far (arrays snapW, snapB). */
  snapSteps: Steps,
  /** The best finished init so far (arrays bestW, bestB, bestSnapW, bestSnapB), or null. */
  best: z.strictObject({ init: z.number().int().min(0), loss: z.number(), curve: z.array(LossPoint), snapSteps: Steps }).nullable(),
});
export type CheckpointMeta = z.infer<typeof CheckpointMeta>;

/** The current weights and AdamW moments, the snapshots so far, and the best init's (only when there is one). */
export const CheckpointHeader = kindHeader(CHECKPOINT_KIND, CheckpointMeta, [
  ...['W', 'b', 'm', 'v', 'snapW', 'snapB'].map((name) => ({ name, dtype: 'f64' as const })),
  ...['bestW', 'bestB', 'bestSnapW', 'bestSnapB'].map((name) => ({ name, dtype: 'f64' as const, optional: true })),
]);
export type CheckpointHeader = z.infer<typeof CheckpointHeader>;
