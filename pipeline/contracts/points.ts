import { z } from 'zod';
import { kindHeader } from './container.ts';

/**
 * points.bin (format/sparse.ts): a data set's sparse points. Written by the data stage; read by training,
 * geometry (the training examples, the test set) and the tests.
 */
export const SPARSE_KIND = 'sparse-points';

/**
 * Its header's meta: the PRNG stream that made the points and their shape, with whatever else the writer
 * labels them with (the data stage: the data set's spec, config/plan.ts DatasetPlan['spec']).
 */
export const PointsMeta = z.looseObject({
  /** The PRNG stream that made them. */
  label: z.string(),
  purpose: z.enum(['train', 'test']).optional(),
  sparsity: z.number().optional(),
  seed: z.number().int().optional(),
  emptyPoint: z.literal('redraw').optional(),
  repeats: z.number().int().min(1).optional(),
  /** Features, points, and stored (nonzero) values. */
  n: z.number().int().min(1),
  count: z.number().int().min(0),
  nnz: z.number().int().min(0),
});
export type PointsMeta = z.infer<typeof PointsMeta>;

/** Compressed sparse rows: count + 1 offsets, then each stored value's column and value. */
export const PointsHeader = kindHeader(SPARSE_KIND, PointsMeta, [
  { name: 'rowPtr', dtype: 'u32' }, { name: 'col', dtype: 'u32' }, { name: 'val', dtype: 'f32' },
]);
export type PointsHeader = z.infer<typeof PointsHeader>;
