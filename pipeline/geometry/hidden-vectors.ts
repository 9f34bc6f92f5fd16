import type { SparsePoints } from '../data/points.ts';
import { hiddenVector, type Params } from '../model/toy-model.ts';

/** h_t = W x_t for the first `limit` points, as a count-by-m row-major array. */
export function hiddenVectors(p: Params, x: SparsePoints, limit = x.count): Float64Array {
  const count = Math.min(limit, x.count);
  const out = new Float64Array(count * p.m);
  const h = new Float64Array(p.m);
  for (let t = 0; t < count; t++) {
    hiddenVector(p, x, t, h);
    out.set(h, t * p.m);
  }
  return out;
}
