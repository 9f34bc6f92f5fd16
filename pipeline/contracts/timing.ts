import { z } from 'zod';
import { EngineId } from './metrics.ts';

/**
 * timing.json: a run's wall time, apart from everything deterministic. Written by the train stage; read
 * only by `npm run cost` (never by a task: no cache key depends on it).
 */
export const Timing = z.strictObject({
  run: z.string(),
  engine: EngineId,
  wallTimeSeconds: z.number().min(0),
  /** Where a killed run was taken up again from its checkpoint, or null. */
  resumedFrom: z.strictObject({ step: z.number().int().min(0) }).nullable(),
});
export type Timing = z.infer<typeof Timing>;
