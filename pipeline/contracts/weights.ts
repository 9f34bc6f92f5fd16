import { z } from 'zod';
import { kindHeader } from './container.ts';

/** weights.bin (format/weights.ts): a run's final weights. Written by training; read by geometry. */
export const WEIGHTS_KIND = 'toy-model-weights';
export const WEIGHTS_LAYOUT = 'W feature-major n x m';

/** Its header's meta: the run and profile it belongs to (the train stage names both), and the shape. */
export const WeightsMeta = z.looseObject({
  run: z.string().optional(),
  profile: z.string().optional(),
  n: z.number().int().min(1),
  m: z.number().int().min(1),
  layout: z.literal(WEIGHTS_LAYOUT),
});
export type WeightsMeta = z.infer<typeof WeightsMeta>;

/** W (n x m, feature-major: row i is the feature vector W_i) and b (n), in float64. */
export const WeightsHeader = kindHeader(WEIGHTS_KIND, WeightsMeta, [{ name: 'W', dtype: 'f64' }, { name: 'b', dtype: 'f64' }]);
export type WeightsHeader = z.infer<typeof WeightsHeader>;
