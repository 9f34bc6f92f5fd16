import { z } from 'zod';
import { INFINITE, type DatasetSize as Size } from './size.ts';

/** T: a training-set size, or "infinity" for a fresh batch every step (size.ts). */
export const DatasetSize = z.union([z.number().int().min(1), z.literal(INFINITE)], {
  error: `expected a positive integer or "${INFINITE}"`,
});
export type DatasetSize = Size;

const int = (min: number, what = `an integer >= ${min}`) => z.number({ error: `expected ${what}` }).int({ error: `expected ${what}` }).min(min, { error: `expected ${what}` });
const prob = (what: string) => z.number({ error: `expected ${what}` }).min(0, { error: `expected ${what}` }).lt(1, { error: `expected ${what}` });
const positive = (what = 'a number > 0') => z.number({ error: `expected ${what}` }).gt(0, { error: `expected ${what}` });

const DataConfig = z.strictObject({
  features: int(1, 'a positive integer (n, the number of features)'),
  sparsity: prob('a probability S in [0, 1)'),
  emptyPoint: z.literal('redraw', { error: 'expected "redraw" (a point with no active feature is drawn again)' }),
  datasetSeeds: z.array(int(0), { error: 'expected a list of seeds' }).min(1, { error: 'expected at least one dataset seed' }),
  testSetSize: int(1, 'a positive integer'),
  testSeed: int(0),
});

const ModelConfig = z.strictObject({
  hiddenDims: z.array(int(1, 'an integer m in 1..64').max(64, { error: 'expected an integer m in 1..64' })).min(1, { error: 'expected at least one m' }),
  init: z.literal('xavier-normal', { error: 'expected "xavier-normal"' }),
  biasInit: z.literal('zeros', { error: 'expected "zeros"' }),
});

export const TrainingConfig = z.strictObject({
  /**
   * A training engine's name. That it names a registered engine (pipeline/engines/registry.ts) is checked
   * where engines are known (parseExperiment's `engines`: the build, the task graph, the train stage), so
   * that the config, which every stage loads, does not load the engine code.
   */
  engine: z.string({ error: 'expected the name of a training engine' }).regex(/^[a-z][a-z0-9-]*$/, { error: 'expected the name of a training engine (a-z, 0-9, -)' }),
  steps: int(2, 'an integer number of steps >= 2'),
  warmupSteps: int(0),
  peakLearningRate: positive(),
  weightDecay: z.number({ error: 'expected a number >= 0' }).min(0, { error: 'expected a number >= 0' }),
  decayBias: z.boolean({ error: 'expected true or false' }),
  betas: z.tuple([prob('beta1 in [0, 1)'), prob('beta2 in [0, 1)')], { error: 'expected [beta1, beta2]' }),
  eps: positive(),
  initsPerRun: int(1, 'a positive integer (inits trained per run; the lowest final training loss is kept)'),
  onlineBatchSize: int(1, 'a positive integer (batch size when T is infinity)'),
  lossCurvePoints: int(2),
  /** Copies of the weights kept along training (evenly spaced steps, the first and the final weights included); 0 keeps none. */
  weightSnapshots: z.union([z.literal(0), int(2, 'an integer >= 2, or 0 for none')], { error: 'expected 0 (none) or an integer >= 2' }).default(0),
}); // warmupSteps < steps (warmupProblem) is checked on each planned run in load.ts, where the field that broke it can be named

/** The one rule between training fields: the warmup ends before the last step. Its message, or null when it holds. */
export const warmupProblem = (t: Pick<TrainingConfig, 'steps' | 'warmupSteps'>): string | null =>
  t.warmupSteps < t.steps ? null : `expected warmupSteps (${t.warmupSteps}) < steps (${t.steps})`;

export const RunOverride = z.strictObject({
  /** The T it applies to; without it, every T (of the m and seed given). */
  T: DatasetSize.optional(),
  m: int(1).optional(),
  datasetSeed: int(0).optional(),
  training: TrainingConfig.partial().optional(),
});
export type RunOverride = z.infer<typeof RunOverride>;

const GeometryConfig = z.strictObject({
  maxExamplesPerRun: int(1, 'a positive integer (training examples kept in the geometry tables)'),
});

/** How runs execute; nothing here changes a result, so none of it enters a cache key. */
const ExecutionConfig = z.strictObject({
  checkpointEverySteps: int(1, 'a positive integer (steps between checkpoints of a training run)'),
  workers: int(1, 'a positive integer (threads per training run for engines that use them)').max(64, { error: 'expected at most 64 workers' }),
  /**
   * Machines the profile's training is split over (npm run build -- P --shard i/N). With more than one,
   * a plain build of the profile takes every training from the cache and trains nothing itself, unless
   * given --allow-local-training.
   */
  shards: int(1, 'a positive integer (machines the training is split over)').default(1),
});

/** The training settings a sweep may vary: one value per run of the grid. */
const SweptTrainingField = z.enum(['weightDecay', 'steps', 'peakLearningRate', 'initsPerRun'], {
  error: 'expected one of weightDecay, steps, peakLearningRate, initsPerRun',
});

/**
 * A grid of runs beside the profile's main one (T x m x seed): each field given replaces the
 * profile's for this grid; `vary` sweeps one training setting over its values; `warmupFraction`
 * sets each run's warmup to that fraction of its steps (the paper's steps appendix: 5%).
 */
export const Sweep = z.strictObject({
  description: z.string({ error: 'expected a string' }),
  datasetSizes: z.array(DatasetSize).min(1, { error: 'expected at least one dataset size' }).optional(),
  hiddenDims: z.array(int(1, 'an integer m in 1..64').max(64, { error: 'expected an integer m in 1..64' })).min(1).optional(),
  datasetSeeds: z.array(int(0)).min(1).optional(),
  sparsities: z.array(prob('a probability S in [0, 1)')).min(1).optional(),
  /** Times the first training point appears in its set (the set's last r - 1 points become copies of it); 1 is a plain set. */
  repeats: z.array(int(1, 'an integer >= 1 (times the first point appears)')).min(1).optional(),
  training: TrainingConfig.partial().optional(),
  vary: z.strictObject({ field: SweptTrainingField, values: z.array(z.number({ error: 'expected a number' })).min(1, { error: 'expected at least one value' }) }).optional(),
  warmupFraction: z.number().gt(0).lt(1).optional(),
});
export type Sweep = z.infer<typeof Sweep>;

export const Profile = z.strictObject({
  description: z.string({ error: 'expected a string' }),
  data: DataConfig,
  model: ModelConfig,
  training: TrainingConfig,
  datasetSizes: z.array(DatasetSize).min(1, { error: 'expected at least one dataset size' }),
  runOverrides: z.array(RunOverride),
  geometry: GeometryConfig,
  execution: ExecutionConfig,
  /** Grids of runs beside the main one, by name; a figure names the one it draws (figure.json `sweep`). */
  sweeps: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a sweep name (a-z, 0-9, -)' }), Sweep).default({}),
  figures: z.array(z.string().regex(/^[a-z0-9-]+$/, { error: 'expected a figure folder name (a-z, 0-9, -)' })),
});
export type Profile = z.infer<typeof Profile>;
export type TrainingConfig = z.infer<typeof TrainingConfig>;

/** The file as written: profiles may `extends` another and give only what differs. */
export const ExperimentFile = z.strictObject({
  $schema: z.string().optional(),
  defaultProfile: z.string({ error: 'expected the name of a profile' }),
  profiles: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'expected a profile name (a-z, 0-9, -)' }), z.record(z.string(), z.unknown(), { error: 'expected an object' })),
});
