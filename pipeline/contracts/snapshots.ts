import { z } from 'zod';
import { kindHeader } from './container.ts';

/**
 * snapshots.bin (format/snapshots.ts): the chosen init's weights at evenly spaced steps, for a run that
 * keeps them (training.weightSnapshots). Written by training; read by geometry (moments.json).
 */
export const SNAPSHOTS_KIND = 'toy-model-snapshots';
export const SNAPSHOTS_LAYOUT = 'W: snapshots x (n x m feature-major); b: snapshots x n';

/** Its header's meta: run, profile and init (the train stage names them), the shape, and each snapshot's step. */
export const SnapshotsMeta = z.looseObject({
  run: z.string().optional(),
  profile: z.string().optional(),
  init: z.number().int().min(0).optional(),
  n: z.number().int().min(1),
  m: z.number().int().min(1),
  /** The step of each snapshot: its weights before that step's update (steps: the final weights). */
  steps: z.array(z.number().int().min(0)),
  layout: z.literal(SNAPSHOTS_LAYOUT),
});
export type SnapshotsMeta = z.infer<typeof SnapshotsMeta>;

export const SnapshotsHeader = kindHeader(SNAPSHOTS_KIND, SnapshotsMeta, [{ name: 'W', dtype: 'f64' }, { name: 'b', dtype: 'f64' }]);
export type SnapshotsHeader = z.infer<typeof SnapshotsHeader>;
