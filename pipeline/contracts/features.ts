import { z } from 'zod';
import { vectorFields } from './vector.ts';

/**
 * geometry/features.json: one row per feature vector W_i of a run's final weights, with its first two
 * coordinates (0 where m < 2), norm and fractional dimensionality. Written by the geometry stage; read by
 * the render stage (the `features`, `vectors` and `regimes` tables) and by `npm run verify`.
 */
export const FeatureRow = z.strictObject({
  feature: z.number().int().min(0),
  ...vectorFields,
});
export type FeatureRow = z.infer<typeof FeatureRow>;

export const Features = z.array(FeatureRow, { error: 'expected a list of rows' });
export type Features = z.infer<typeof Features>;
