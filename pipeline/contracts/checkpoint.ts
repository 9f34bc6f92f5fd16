import { z } from 'zod';
import { kindHeader } from './container.ts';

/**
 * checkpoint.bin (train/checkpoint.ts): where a training run stands between two steps, kept while it runs.
 * Written and read by training only (a killed task started again resumes from it); never a task output
 * that another task reads.
 */
// Version 2: the inits' losses are float64 losses of their final weights. Version 3: weight snapshots.
// Version 4: every init of the run at the same step (engines train a run's inits together).
export const CHECKPOINT_KIND = 'training-checkpoint/4';

const LossPoint = z.strictObject({ step: z.number().int().min(0), loss: z.number() });
const Steps = z.array(z.number().int().min(0));

/** Its header's meta: everything but the arrays. */
export const CheckpointMeta = z.strictObject({
  /** Spec hash and engine: a checkpoint of another spec or engine is ignored. */
  key: z.string(),
  /** The first step no init has taken. */
  nextStep: z.number().int().min(0),
  /** Each init's loss curve so far. */
  curves: z.array(z.array(LossPoint)).min(1),
  /** The online stream's state (T = infinity): four words and a spare normal value or null. */
  onlineRng: z.array(z.number().nullable()).nullable(),
  n: z.number().int().min(1),
  m: z.number().int().min(1),
  /** Each init's AdamW step count and running beta powers. */
  optimiser: z.array(z.strictObject({ t: z.number().int().min(0), beta1Power: z.number(), beta2Power: z.number() })).min(1),
  /** The steps of the snapshots so far, the same for every init (arrays snapW, snapB: init after init). */
  snapSteps: Steps,
});
export type CheckpointMeta = z.infer<typeof CheckpointMeta>;

/** Every init's weights and AdamW moments, one after another (W, b, m, v), and their snapshots so far. */
export const CheckpointHeader = kindHeader(CHECKPOINT_KIND, CheckpointMeta,
  ['W', 'b', 'm', 'v', 'snapW', 'snapB'].map((name) => ({ name, dtype: 'f64' as const })));
export type CheckpointHeader = z.infer<typeof CheckpointHeader>;
