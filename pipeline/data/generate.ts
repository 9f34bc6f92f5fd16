import { Rng } from '../prng/rng.ts';
import type { SparsePoints } from './points.ts';

interface PointDistribution {
  n: number; // number of features
  sparsity: number; // S: probability that a feature is zero
}

/**
 * Draws `count` points of the paper's distribution: each feature is 0 with probability S,
 * otherwise uniform on [0, 1); then the point is scaled to unit length. A point with no
 * active feature is drawn again, so every point has ||x|| = 1 and the all-zero prediction
 * scores exactly 1.
 *
 * Active features are found by geometric skipping (gap ~ Geometric(1 - S)), which has the
 * same distribution as n Bernoulli draws but costs O(active features) per point.
 */
export function generatePoints(dist: PointDistribution, count: number, rng: Rng): SparsePoints {
  const { n, sparsity } = dist;
  const logS = Math.log(sparsity);
  const rowPtr = new Uint32Array(count + 1);
  let cap = Math.max(16, Math.ceil(count * n * (1 - sparsity) * 1.2) + 16);
  let col = new Uint32Array(cap);
  let val = new Float32Array(cap);
  const pointVal = new Float64Array(n); // this point's values before scaling, in float64
  let nnz = 0;
  for (let t = 0; t < count; t++) {
    let active = 0;
    let sumSq = 0;
    do {
      active = 0;
      sumSq = 0;
      let j = -1;
      for (;;) {
        // sparsity 0 gives logS = -Infinity and a gap of 0: every feature active
        const gap = sparsity === 0 ? 0 : Math.floor(Math.log(rng.uniformPositive()) / logS);
        j += 1 + gap;
        if (j >= n || !Number.isFinite(j)) break;
        const v = rng.uniform();
        if (nnz + active >= cap) {
          cap *= 2;
          const c2 = new Uint32Array(cap); c2.set(col); col = c2;
          const v2 = new Float32Array(cap); v2.set(val); val = v2;
        }
        col[nnz + active] = j;
        pointVal[active++] = v;
        sumSq += v * v;
      }
    } while (sumSq === 0);
    const norm = Math.sqrt(sumSq);
    for (let k = 0; k < active; k++) val[nnz + k] = pointVal[k] / norm;
    nnz += active;
    rowPtr[t + 1] = nnz;
  }
  return { n, count, rowPtr, col: col.slice(0, nnz), val: val.slice(0, nnz) };
}

/**
 * The set with its first point appearing `repeats` times: the last repeats - 1 points are replaced by
 * copies of it, so the set keeps its size and its other points stay those of the plain set.
 */
export function withRepeats(points: SparsePoints, repeats: number): SparsePoints {
  if (repeats <= 1) return points;
  const { n, count, rowPtr, col, val } = points;
  if (repeats > count) throw new RangeError(`cannot repeat a point ${repeats} times in a set of ${count}`);
  const keep = count - (repeats - 1);
  const firstLen = rowPtr[1] - rowPtr[0];
  const nnz = rowPtr[keep] + (repeats - 1) * firstLen;
  const out = { n, count, rowPtr: new Uint32Array(count + 1), col: new Uint32Array(nnz), val: new Float32Array(nnz) };
  out.rowPtr.set(rowPtr.subarray(0, keep + 1));
  out.col.set(col.subarray(0, rowPtr[keep]));
  out.val.set(val.subarray(0, rowPtr[keep]));
  for (let t = keep; t < count; t++) {
    const at = out.rowPtr[t];
    out.col.set(col.subarray(0, firstLen), at);
    out.val.set(val.subarray(0, firstLen), at);
    out.rowPtr[t + 1] = at + firstLen;
  }
  return out;
}
