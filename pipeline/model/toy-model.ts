import type { SparsePoints } from '../data/points.ts';

/**
 * The paper's "ReLU output" toy model with tied weights:
 *   h  = W x                      (W is m-by-n; x is sparse)
 *   x' = ReLU(W^T h + b)
 *   L  = (1/T) * sum_t sum_i (x_i - x'_i)^2
 *
 * Storage: W is feature-major, W[i*m + k] = W_{k,i}, so row i is the feature vector W_i.
 */
export interface Params {
  n: number;
  m: number;
  W: Float64Array; // n * m
  b: Float64Array; // n
}

export function zerosLike(p: Params): Params {
  return { n: p.n, m: p.m, W: new Float64Array(p.W.length), b: new Float64Array(p.b.length) };
}

/** h = W x for point t of `x`, written into `h` (length m). */
export function hiddenVector(p: Params, x: SparsePoints, t: number, h: Float64Array): void {
  const { m, W } = p;
  h.fill(0);
  for (let q = x.rowPtr[t]; q < x.rowPtr[t + 1]; q++) {
    const j = x.col[q] * m;
    const v = x.val[q];
    for (let k = 0; k < m; k++) h[k] += W[j + k] * v;
  }
}

/**
 * The loss over all points of `x`, and, when `grad` is given, its exact gradient, written
 * into `grad` (overwritten). Gradient, with delta_i = (2/T)(x'_i - x_i)[z_i > 0], z = W^T h + b:
 *   dL/db_i   = sum_t delta_i
 *   dL/dW_i  += delta_i h          (decoder path, every feature i)
 *   dL/dW_j  += (sum_i delta_i W_i) x_j   (encoder path, active features j only)
 * Points are summed in order, so the result is the same on every run.
 */
export function lossAndGradient(p: Params, x: SparsePoints, grad?: Params): number {
  const { n, m, W, b } = p;
  const T = x.count;
  const h = new Float64Array(m);
  const g = new Float64Array(m); // dL/dh
  if (grad) {
    grad.W.fill(0);
    grad.b.fill(0);
  }
  let total = 0;
  for (let t = 0; t < T; t++) {
    hiddenVector(p, x, t, h);
    g.fill(0);
    let q = x.rowPtr[t];
    const qEnd = x.rowPtr[t + 1];
    let nextActive = q < qEnd ? x.col[q] : n;
    let pointLoss = 0;
    for (let i = 0; i < n; i++) {
      let xi = 0;
      if (i === nextActive) {
        xi = x.val[q++];
        nextActive = q < qEnd ? x.col[q] : n;
      }
      let z = b[i];
      const wi = i * m;
      for (let k = 0; k < m; k++) z += W[wi + k] * h[k];
      if (z > 0) {
        const r = z - xi;
        pointLoss += r * r;
        if (grad) {
          const d = (2 / T) * r;
          grad.b[i] += d;
          for (let k = 0; k < m; k++) {
            grad.W[wi + k] += d * h[k];
            g[k] += d * W[wi + k];
          }
        }
      } else {
        pointLoss += xi * xi;
      }
    }
    total += pointLoss;
    if (grad) {
      for (let q2 = x.rowPtr[t]; q2 < qEnd; q2++) {
        const j = x.col[q2] * m;
        const v = x.val[q2];
        for (let k = 0; k < m; k++) grad.W[j + k] += g[k] * v;
      }
    }
  }
  return total / T;
}

export const loss = (p: Params, x: SparsePoints) => lossAndGradient(p, x);
