import { z } from 'zod';
import { vectorFields } from './vector.ts';

/**
 * geometry/examples.json: one row per kept training example t (the first maxExamplesPerRun distinct ones),
 * its hidden vector h_t = W x_t: first two coordinates, norm and fractional dimensionality; `repeated`
 * (true for example 0) only in a set whose first point is repeated. Written by the geometry stage; read by
 * the render stage (the `examples`, `vectors` and `regimes` tables) and by `npm run verify`.
 */
export const ExampleRow = z.strictObject({
  example: z.number().int().min(0),
  ...vectorFields,
  repeated: z.boolean().optional(),
});
export type ExampleRow = z.infer<typeof ExampleRow>;

export const Examples = z.array(ExampleRow, { error: 'expected a list of rows' });
export type Examples = z.infer<typeof Examples>;
