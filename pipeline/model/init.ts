import { Rng } from '../prng/rng.ts';
import type { Params } from './toy-model.ts';

/** W ~ Xavier (Glorot) normal: std = sqrt(2 / (fan_in + fan_out)) = sqrt(2 / (n + m)); b = 0. */
export function xavierNormalInit(n: number, m: number, rng: Rng): Params {
  const std = Math.sqrt(2 / (n + m));
  const W = new Float64Array(n * m);
  // Drawn in the paper's m-by-n order (row k, then feature i), stored feature-major.
  for (let k = 0; k < m; k++) for (let i = 0; i < n; i++) W[i * m + k] = std * rng.normal();
  return { n, m, W, b: new Float64Array(n) };
}
