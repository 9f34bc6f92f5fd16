import { z } from 'zod';
import { kindHeader } from './container.ts';

/**
 * inits.bin (format/inits.ts): the final weights of every init a run trained, the chosen one among
 * them (weights.bin holds it again, alone). Written by training; read by geometry, which gives each
 * init's numbers (summary.json `inits`): in the middle regime the init alone moves the test loss by
 * orders of magnitude, so the chosen init is one draw among several.
 */
export const INITS_KIND = 'toy-model-inits';
export const INITS_LAYOUT = 'W: inits x (n x m feature-major); b: inits x n';

/** Its header's meta: run and profile (the train stage names them), the shape, the number of inits and the chosen one. */
export const InitsMeta = z.looseObject({
  run: z.string().optional(),
  profile: z.string().optional(),
  n: z.number().int().min(1),
  m: z.number().int().min(1),
  inits: z.number().int().min(1),
  chosen: z.number().int().min(0),
  layout: z.literal(INITS_LAYOUT),
});
export type InitsMeta = z.infer<typeof InitsMeta>;

export const InitsHeader = kindHeader(INITS_KIND, InitsMeta, [{ name: 'W', dtype: 'f64' }, { name: 'b', dtype: 'f64' }]);
export type InitsHeader = z.infer<typeof InitsHeader>;
