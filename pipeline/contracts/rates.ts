import { z } from 'zod';
import { EngineId } from './metrics.ts';

/**
 * rates.json (data/<profile>/rates.json): the speed of each shape a profile trains, as
 * `npm run bench -- --profile <profile>` measured it on this machine (bench-profile.ts). Read by
 * `npm run cost` and at the end of `npm run build` to predict training time; never by a task (no
 * cache key depends on it). It holds no date: measuring again on the same machine may change only
 * the times.
 */
export const Rates = z.strictObject({
  profile: z.string(),
  engine: EngineId,
  /** The threads the engine was given (execution.workers) and the machine's CPU, as os.cpus() names it. */
  workers: z.number().int().min(1),
  cpu: z.string(),
  shapes: z.array(z.strictObject({
    /** null: T = infinity. */
    T: z.number().int().min(1).nullable(),
    n: z.number().int().min(1),
    m: z.number().int().min(1),
    sparsity: z.number(),
    inits: z.number().int().min(1),
    /** Points per step: T, or the online batch. */
    points: z.number().int().min(1),
    /** The threads its runs train on in a build with `workers` (engines/registry.ts runThreads), as it was timed. */
    threads: z.number().int().min(1),
    /** Median microseconds per step of every init, driven as training drives a run. */
    usPerStep: z.number().positive(),
  })).min(1),
});
export type Rates = z.infer<typeof Rates>;
